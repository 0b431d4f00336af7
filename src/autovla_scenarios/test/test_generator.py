"""Scenario bags: determinism, content and storage round trip (small renders, few frames)."""

import math

from autovla_common.rig import load_rig
from autovla_scenarios.catalogue import CATALOGUE, make_scenario
from autovla_scenarios.generator import (
    default_rig_path,
    generate_scenario,
    GenerationConfig,
    START_STAMP_NS,
)
from autovla_scenarios.typestore import typestore
from autovla_scenarios.world import simulate_expert
import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import Reader

SMALL = GenerationConfig(width=160, height=90, camera_rate=2.0, duration=2.0)


def read_all(path):
    with Reader(path) as reader:
        return [(c.topic, c.msgtype, t, bytes(d)) for c, t, d in reader.messages()]


def generate_and_read(path, config=SMALL):
    generate_scenario('cut_in', path, config)
    return read_all(path)


def test_same_seed_gives_identical_bags_and_other_seed_differs(tmp_path):
    first = generate_and_read(tmp_path / 'a')
    again = generate_and_read(tmp_path / 'b')
    reseeded = GenerationConfig(**{**SMALL.__dict__, 'seed': 7})
    different = generate_and_read(tmp_path / 'c', reseeded)
    assert first == again
    assert first != different


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_bag_round_trip_has_every_stream(tmp_path, storage):
    config = GenerationConfig(**{**SMALL.__dict__, 'storage': storage})
    entry = generate_scenario('straight_cruise', tmp_path / 'bag', config)
    assert entry['frames'] == 4
    messages = read_all(tmp_path / 'bag')
    counts = {}
    for topic, _, _, _ in messages:
        counts[topic] = counts.get(topic, 0) + 1
    assert counts['cameras/CAM_FRONT/image/compressed'] == 4
    assert counts['cameras/CAM_BACK_LEFT/camera_info'] == 4
    # Odometry runs the horizon (5 s) past the 2 s of frames: the last frame's expert future.
    assert counts['odometry'] == 70 and counts['route'] == 1
    assert counts['driving_command'] == 4
    assert counts['ground_truth/expert_trajectory'] == 4 and counts['ground_truth/agents'] == 4
    assert counts['obstacles/points'] == 20   # 2 s at the default 10 Hz
    store = typestore()
    decoded = {}
    for topic, msgtype, stamp, data in messages:
        decoded.setdefault(topic, []).append((stamp, store.deserialize_cdr(data, msgtype)))
    stamp, image = decoded['cameras/CAM_FRONT/image/compressed'][1]
    assert stamp == START_STAMP_NS + 500_000_000
    assert image.format == 'jpeg'
    assert cv2.imdecode(image.data, cv2.IMREAD_COLOR).shape == (90, 160, 3)
    _, info = decoded['cameras/CAM_FRONT/camera_info'][0]
    # nuScenes CAM_FRONT fx = 1266.417 px at 1600 wide, scaled to 160 wide.
    assert info.k[0] == pytest.approx(126.6417, abs=1e-3)
    assert (info.width, info.height) == (160, 90)
    # Expert future: 10 poses at 0.5 s; the ego cruises at about 8 m/s, straight ahead.
    _, expert = decoded['ground_truth/expert_trajectory'][0]
    assert expert.header.frame_id == 'base_link' and len(expert.poses) == 10
    first = expert.poses[0].pose.position
    assert 3.5 < first.x < 5.0 and abs(first.y) < 1e-6
    _, agents = decoded['ground_truth/agents'][0]
    current = [m for m in agents.markers if not m.ns.startswith('future/')]
    assert len(current) == len(make_scenario('straight_cruise', 0).agents)
    assert len(agents.markers) == 11 * len(current)


def test_bags_carry_tf_like_a_recorded_car(tmp_path):
    generate_scenario('curve', tmp_path / 'bag', SMALL)
    store = typestore()
    with Reader(tmp_path / 'bag') as reader:
        connections = {c.topic: c for c in reader.connections}
        decoded = {}
        for connection, stamp, data in reader.messages():
            decoded.setdefault(connection.topic, []).append(
                (stamp, store.deserialize_cdr(data, connection.msgtype)))
    assert connections['/tf'].msgtype == connections['/tf_static'].msgtype == \
        'tf2_msgs/msg/TFMessage'
    # /tf_static is latched, so `ros2 bag play` latches it again.
    [qos] = connections['/tf_static'].ext.offered_qos_profiles
    assert qos.durability.name == 'TRANSIENT_LOCAL'
    [(_, static)] = decoded['/tf_static']
    rig = load_rig(default_rig_path())
    assert sorted(t.child_frame_id for t in static.transforms) == sorted(
        f'{name}_optical' for name in rig.names)
    assert {t.header.frame_id for t in static.transforms} == {'base_link'}
    # One odom -> base_link per odometry message, equal to its pose and stamp.
    assert len(decoded['/tf']) == len(decoded['odometry']) == 70
    for (tf_stamp, tf), (odom_stamp, odom) in zip(decoded['/tf'], decoded['odometry']):
        [transform] = tf.transforms
        assert tf_stamp == odom_stamp
        assert (transform.header.frame_id, transform.child_frame_id) == ('odom', 'base_link')
        assert transform.transform.translation.x == odom.pose.pose.position.x
        assert transform.transform.rotation.z == pytest.approx(odom.pose.pose.orientation.z)
    # The last anchor frame has its whole 3 s expert (L2 horizon) in the bag's odometry.
    last_frame = decoded['cameras/CAM_FRONT/image/compressed'][-1][0]
    assert decoded['odometry'][-1][0] - last_frame >= 3_000_000_000
    # Camera images name the frames /tf_static defines.
    _, image = decoded['cameras/CAM_FRONT/image/compressed'][0]
    assert image.header.frame_id == 'CAM_FRONT_optical'


def test_expert_stops_behind_the_stopped_vehicle():
    scenario = make_scenario('stopped_vehicle', 0)
    track = simulate_expert(scenario, 20.0)
    obstacle_x = scenario.agents[0].pose(0.0)[0] - scenario.agents[0].size[0] / 2
    assert track.speed[-1] < 0.05
    # Rear axle stops between 4 and 12 m behind the obstacle's rear (headway gap + ego length).
    assert 4.0 < obstacle_x - track.x[-1] < 12.0


def test_turns_end_heading_the_right_way():
    for name, heading in (('intersection_left', math.pi / 2),
                          ('intersection_right', -math.pi / 2)):
        track = simulate_expert(make_scenario(name, 0), 25.0)
        assert math.cos(track.yaw[-1] - heading) > 0.99, name


def test_catalogue_scenarios_build_for_several_seeds():
    for name in CATALOGUE:
        for seed in (0, 1):
            scenario = make_scenario(name, seed)
            assert scenario.route.length > 50.0
            assert np.all(np.isfinite(scenario.route.xy))
