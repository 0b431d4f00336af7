"""Scoring on any bag: expert from its own odometry, latency counted once, strict JSON."""

import json
import math

from autovla_common.topic_map import CameraTopics, TopicMap
from autovla_replay.scoring import load_truth, planner_ms
from autovla_scenarios.typestore import BAG_VERSION, STORAGE_PLUGINS, typestore
import numpy as np
import pytest
from rosbags.rosbag2 import Writer

from autovla_replay import strict_json
from autovla_scenarios import messages

START = 1_600_000_000 * messages.NS_PER_S
MAP = TopicMap((('CAM_FRONT', CameraTopics('/cam/compressed')),), odometry='/odom', route='')


def odometry_bag(path, pose_at, seconds=8.0, rate=50.0, anchors=()):
    """A bag with /odom at ``rate`` Hz, logged 3 ms after capture (and /cam at ``anchors``)."""
    with Writer(path, version=BAG_VERSION, storage_plugin=STORAGE_PLUGINS['mcap']) as writer:
        if anchors:
            camera = writer.add_connection('/cam/compressed', 'sensor_msgs/msg/CompressedImage',
                                           typestore=typestore())
        for anchor in anchors:
            msg = messages.compressed_image(anchor, 'cam', b'jpeg')
            writer.write(camera, anchor, typestore().serialize_cdr(msg, msg.__msgtype__))
        connection = writer.add_connection('/odom', 'nav_msgs/msg/Odometry',
                                           typestore=typestore())
        for k in range(int(seconds * rate) + 1):
            t = k / rate
            stamp = START + int(round(t * 1e9))
            x, y, yaw = pose_at(t)
            msg = messages.odometry(stamp, x, y, yaw, 0.0, 0.0)
            writer.write(connection, stamp + 3_000_000,
                         typestore().serialize_cdr(msg, msg.__msgtype__))
    return path


def test_expert_of_a_straight_drive_north_is_straight_ahead_in_base_link(tmp_path):
    bag = odometry_bag(tmp_path / 'north', lambda t: (100.0, 50.0 + 10.0 * t, math.pi / 2))
    anchor = START + 1_000_000_000
    truth = load_truth(bag, [anchor], MAP)[anchor]
    assert truth.ego == pytest.approx((100.0, 60.0, math.pi / 2))
    np.testing.assert_allclose(truth.expert_t, [0.5 * k for k in range(1, 11)])
    np.testing.assert_allclose(truth.expert_xy, [[5.0 * k, 0.0] for k in range(1, 11)],
                               atol=1e-6)
    np.testing.assert_allclose(truth.expert_yaw, 0.0, atol=1e-9)


def test_expert_of_a_left_circle_curves_left_and_stops_at_the_end_of_the_odometry(tmp_path):
    speed, yaw_rate = 8.0, 0.2      # a 40 m radius left turn
    radius = speed / yaw_rate
    bag = odometry_bag(tmp_path / 'circle', lambda t: (
        radius * math.sin(yaw_rate * t), radius * (1 - math.cos(yaw_rate * t)), yaw_rate * t),
        seconds=6.0)
    anchor = START + 3_000_000_000
    truth = load_truth(bag, [anchor], MAP)[anchor]
    # 3 s of odometry left: six waypoints, each on the circle seen from the anchor pose.
    assert len(truth.expert_t) == 6
    for t, (x, y), yaw in zip(truth.expert_t, truth.expert_xy, truth.expert_yaw):
        assert x == pytest.approx(radius * math.sin(yaw_rate * t), abs=0.02)
        assert y == pytest.approx(radius * (1 - math.cos(yaw_rate * t)), abs=0.02)
        assert yaw == pytest.approx(yaw_rate * t, abs=1e-3)


def test_an_anchor_outside_the_odometry_has_no_expert(tmp_path):
    bag = odometry_bag(tmp_path / 'short', lambda t: (t, 0.0, 0.0), seconds=1.0)
    late = START + 5_000_000_000
    assert len(load_truth(bag, [late], MAP)[late].expert_t) == 0


def test_planner_time_counts_each_millisecond_once():
    # The planner's stages: parts plus the 'total' that contains them (2165 ms real p50).
    stages = [('preprocess', 120.0), ('prefill', 900.0), ('decode', 1100.0),
              ('postprocess', 45.0), ('total', 2165.0)]
    assert planner_ms(stages) == 2165.0
    assert planner_ms(stages[:-1]) == 2165.0        # no total: the parts summed
    assert planner_ms([]) == 0.0


def test_metrics_files_are_strict_json_with_the_reason_for_each_null(tmp_path):
    document = {'l2': {'1s': math.nan, '2s': 0.5}, 'ratio': math.inf,
                'rows': [np.float64(1.5), np.float64('nan')], 'count': np.int64(3)}
    strict_json.write(tmp_path / 'm.json', document)
    text = (tmp_path / 'm.json').read_text()

    def refuse(constant):
        raise ValueError(f'not JSON: {constant}')
    parsed = json.loads(text, parse_constant=refuse)
    assert parsed['l2'] == {'1s': None, '2s': 0.5} and parsed['ratio'] is None
    assert parsed['rows'] == [1.5, None] and parsed['count'] == 3
    assert set(parsed['null_reasons']) == {'l2.1s', 'ratio', 'rows.1'}
    assert 'infinite' in parsed['null_reasons']['ratio']
    assert math.isnan(strict_json.read(tmp_path / 'm.json')['l2']['1s'])


def test_a_mapped_topic_absent_from_the_bag_reads_as_no_messages(tmp_path):
    from autovla_replay.bagdata import read_messages
    bag = odometry_bag(tmp_path / 'odom_only', lambda t: (t, 0.0, 0.0), seconds=0.2)
    assert read_messages(bag, ['/annotations/boxes']) == []
    assert len(read_messages(bag, ['/odom'])) == 11


def straight_plan(stamp, speed):
    """Serialized PlannedTrajectory: straight ahead at ``speed``, 10 points 0.5 s apart."""
    from builtin_interfaces.msg import Duration
    from rclpy.serialization import serialize_message

    from autovla_msgs.msg import PlannedTrajectory, TrajectoryPoint
    plan = PlannedTrajectory(explanation='straight', model_id='test')
    plan.header.stamp.sec, plan.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
    for k in range(1, 11):
        nanoseconds = k * 500_000_000
        plan.points.append(TrajectoryPoint(
            time_from_start=Duration(sec=nanoseconds // 10**9, nanosec=nanoseconds % 10**9),
            x=speed * k * 0.5))
    return serialize_message(plan)


def test_only_frames_with_the_full_3s_expert_are_scored(tmp_path):
    """Issue 10: the last frames of a bag got a truncated expert (L2@3s missing, 1-2 s biased)."""
    from autovla_replay.scoring import score_bag
    anchors = [START + 1_000_000_000, START + 6_000_000_000]   # 7 s and 2 s of odometry left
    bag = odometry_bag(tmp_path / 'drive', lambda t: (10.0 * t, 0.0, 0.0), seconds=8.0,
                       anchors=anchors)
    outputs = tmp_path / 'outputs'
    with Writer(outputs, version=BAG_VERSION, storage_plugin=STORAGE_PLUGINS['mcap']) as writer:
        connection = writer.add_connection('planned_trajectory',
                                           'autovla_msgs/msg/PlannedTrajectory',
                                           typestore=typestore())
        # The early plan follows the drive exactly; the late one is 4 m/s too slow.
        for anchor, speed in zip(anchors, (10.0, 6.0)):
            writer.write(connection, anchor, straight_plan(anchor, speed))
    result = score_bag(bag, outputs, MAP, 'CAM_FRONT')
    assert (result['plans'], result['scored_plans'], result['plans_without_full_future']) == \
        (2, 1, 1)
    # Only the early, exact plan is scored: no error at any horizon.
    assert result['l2_uniad'] == pytest.approx({'1s': 0.0, '2s': 0.0, '3s': 0.0, 'avg': 0.0},
                                               abs=1e-6)
