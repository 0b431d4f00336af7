"""Training samples from a small generated scenario, built through the runtime's own path."""

import math

from autovla_planner.model_files import random_model_dir
from autovla_planner.runtime import PlannerRuntime
from autovla_scenarios.generator import TOPIC_EXPERT
from autovla_scenarios.typestore import typestore
from autovla_training.dataset import scenario_samples
import numpy as np
import pytest
from rosbags.rosbag2 import Reader


@pytest.fixture(scope='module')
def runtime():
    return PlannerRuntime(str(random_model_dir()), 'cpu')


def expert_by_stamp(bag):
    """Expert futures read with rosbags' own deserializer (independent of the dataset code)."""
    futures = {}
    with Reader(bag) as reader:
        connections = [c for c in reader.connections if c.topic == TOPIC_EXPERT]
        for connection, _, data in reader.messages(connections=connections):
            msg = typestore().deserialize_cdr(data, connection.msgtype)
            poses = []
            for pose in msg.poses:
                q = pose.pose.orientation
                poses.append((pose.pose.position.x, pose.pose.position.y,
                              2 * math.atan2(q.z, q.w)))
            stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            futures[stamp] = np.array(poses)
    return futures


def test_samples_have_runtime_inputs_and_targets_close_to_the_expert(scenario_dir, runtime):
    samples = scenario_samples(scenario_dir, runtime)
    assert len(samples) == 8 - 3   # frames 4..8 have a full 4-frame history
    futures = expert_by_stamp(scenario_dir / 'curve')
    first = runtime.descriptor.first_action_id
    fast = runtime.tokenizer.encode(runtime.template.fast_thinking)
    for sample in samples:
        inputs = sample.inputs
        assert inputs.video_grid_thw.shape == (3, 3)             # three cameras
        assert len(inputs.input_ids) == len(inputs.token_types)
        assert (inputs.token_types == 2).sum() == \
            inputs.video_grid_thw.prod(axis=1).sum() // 4       # merged 2x2 patches
        target = sample.target_ids
        assert target[:len(fast)] == fast
        actions = target[len(fast):len(fast) + 10]
        assert [a - first for a in actions] == list(sample.action_indices)
        assert runtime.tokenizer.decode(target[len(fast) + 10:]) == '\n</answer><|im_end|>'
        expert = futures[sample.stamp_ns]
        np.testing.assert_allclose(sample.expert_poses, expert[:10], atol=1e-9)
        decoded = runtime.codebook.decode(sample.action_indices)
        errors = np.linalg.norm(decoded[:, :2] - expert[:10, :2], axis=1)
        assert errors.max() < 0.3, errors
        prompt = runtime.tokenizer.decode(inputs.input_ids)
        assert f'velocity of the vehicle is {sample.speed:.3f} m/s' in prompt
        assert sample.speed > 1.0
