"""Full-size camera frames reach a BEST_EFFORT stack in lock-step (none lost in a burst).

Six 1600x900 JPEGs per frame (noisy, so each is as large as a real one) go to a real
perception_node reading a topic map; its observations end the lock-step frames.
"""

import json
from pathlib import Path

from autovla_common.rig import load_rig, save_rig
from autovla_common.testing import NodeProcess
from autovla_common.topic_map import parse_topic_map
from autovla_replay.pipeline import LockstepConfig, run_scenario
from autovla_replay.recording import Keyframe, rendered_recording, straight, write_recording
import cv2
import numpy as np
import yaml

RIG = load_rig(Path(__file__).resolve().parents[3] / 'config' / 'rigs' / 'nuscenes.yaml')
MAP = {'cameras': {name: f'/{name}/image_raw/compressed' for name in RIG.names},
       'odometry': '/odom', 'route': '/route'}
FRAMES = 5


def noisy_jpeg(seed: int) -> bytes:
    image = np.random.default_rng(seed).integers(0, 255, (900, 1600, 3), np.uint8)
    image = cv2.GaussianBlur(image, (3, 3), 0)
    return cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 75])[1].tobytes()


def test_six_full_size_cameras_per_frame_all_arrive(tmp_path):
    jpegs = {name: noisy_jpeg(k) for k, name in enumerate(RIG.names)}
    assert min(len(j) for j in jpegs.values()) > 300_000
    start = 1_533_280_036_000_000_000
    keyframes = [Keyframe(start + k * 500_000_000, jpegs,
                          {name: 5_000_000 * i for i, name in enumerate(RIG.names)})
                 for k in range(FRAMES)]
    write_recording(tmp_path / 'bag', parse_topic_map(MAP), keyframes, straight(5.0))
    (tmp_path / 'map.yaml').write_text(yaml.safe_dump(MAP))
    config = LockstepConfig(output_topic='observation',
                            output_type='autovla_msgs/msg/DrivingObservation',
                            frame_timeout=20.0, warmup_frames=1, drain=0.2,
                            topic_map=parse_topic_map(MAP))
    with NodeProcess.ros_node('autovla_perception', 'perception_node', params={
            'topic_map': str(tmp_path / 'map.yaml'), 'history_length': 2,
            'use_sim_time': True}) as node:
        run_scenario(tmp_path / 'bag', tmp_path / 'run', config, log=lambda line: None)
        output = node.output()
    frames = json.loads((tmp_path / 'run' / 'frames.json').read_text())['frames']
    waited = [f for f in frames if f['waited']]
    assert len(waited) == FRAMES - 1 and all(f['answered'] for f in waited), output
    assert 'camera_missing' not in output, output


def test_replays_into_a_running_perception_lose_no_frame(tmp_path):
    rig = RIG.resized(160, 90)
    save_rig(rig, tmp_path / 'rig.yaml')
    (tmp_path / 'map.yaml').write_text(yaml.safe_dump(MAP))
    offsets = {name: ms for name, ms in zip(RIG.names, (0, -8, 12, 35, 50, 27))}
    rendered_recording(tmp_path / 'bag', parse_topic_map(MAP), rig, 0.5, FRAMES, offsets)
    config = LockstepConfig(output_topic='observation',
                            output_type='autovla_msgs/msg/DrivingObservation',
                            frame_timeout=20.0, warmup_frames=1, drain=0.2,
                            topic_map=parse_topic_map(MAP))
    with NodeProcess.ros_node('autovla_perception', 'perception_node', params={
            'topic_map': str(tmp_path / 'map.yaml'), 'rig_file': str(tmp_path / 'rig.yaml'),
            'history_length': 2, 'use_sim_time': True}) as node:
        for run in ('first', 'second', 'third'):
            run_scenario(tmp_path / 'bag', tmp_path / run, config, log=lambda line: None)
            frames = json.loads((tmp_path / run / 'frames.json').read_text())['frames']
            waited = [f for f in frames if f['waited']]
            assert len(waited) == FRAMES - 1 and all(f['answered'] for f in waited), \
                (run, node.output())
