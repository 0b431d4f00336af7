"""Lock-step replay through a real node process over DDS, recording, scoring and compare."""

import json
from pathlib import Path

from autovla_common.testing import NodeProcess, PYTHON
from autovla_common.topic_map import CameraTopics, TopicMap
from autovla_replay.bagdata import read_messages
from autovla_replay.compare import compare_run, Tolerances
from autovla_replay.pipeline import LockstepConfig, run_scenario
from autovla_scenarios.generator import generate_scenario, GenerationConfig, START_STAMP_NS
import pytest

ECHO = str(Path(__file__).with_name('echo_planner.py'))
# The echo node listens to the front camera and odometry only.
ECHO_INPUTS = TopicMap((('CAM_FRONT', CameraTopics('cameras/CAM_FRONT/image/compressed')),),
                       route='', command='')
FRAMES = 6


@pytest.fixture(scope='module')
def scenario_bag(tmp_path_factory):
    path = tmp_path_factory.mktemp('scenario') / 'straight_cruise'
    generate_scenario('straight_cruise', path,
                      GenerationConfig(width=160, height=90, camera_rate=2.0, duration=3.0))
    return path


def replay(bag, out_dir, skip=2, delay=0.0, speed=8.0):
    config = LockstepConfig(frame_timeout=10.0, warmup_frames=skip, warmup_pause=0.3,
                            subscriber_timeout=20.0, drain=0.5, topic_map=ECHO_INPUTS)
    with NodeProcess([PYTHON, ECHO, '--skip', str(skip), '--delay', str(delay),
                      '--speed', str(speed)]) as echo:
        assert echo.wait_for_output('echo planner ready', timeout=30), echo.output()
        return run_scenario(bag, out_dir, config, log=lambda line: None)


def test_lockstep_gets_one_answer_per_frame_even_when_the_node_is_slow(scenario_bag, tmp_path):
    # The node takes 0.4 s per answer; lock-step waits for it instead of running ahead.
    metrics = replay(scenario_bag, tmp_path / 'run', skip=2, delay=0.4)
    frames = json.loads((tmp_path / 'run' / 'frames.json').read_text())['frames']
    assert [f['anchor_stamp'] for f in frames] == \
        [START_STAMP_NS + k * 500_000_000 for k in range(FRAMES)]
    assert all(f['answered'] for f in frames if f['waited'])
    assert all(f['latency_ms'] >= 400 for f in frames if f['waited'])
    plans = [m for m in read_messages(tmp_path / 'run' / 'outputs')
             if m.topic == 'planned_trajectory']
    stamps = sorted(m.decode().header.stamp.sec * 10**9 + m.decode().header.stamp.nanosec
                    for m in plans)
    assert stamps == [START_STAMP_NS + k * 500_000_000 for k in range(2, FRAMES)]
    # The expert is the bag's own odometry, recorded 5 s past the last camera frame (issue
    # 10: it stopped with the frames): every plan is scored with its full 3 s expert.
    assert metrics['plans'] == FRAMES - 2 and metrics['scored_plans'] == FRAMES - 2
    assert metrics['plans_without_full_future'] == 0
    assert metrics['timeouts'] == 0
    assert metrics['explanation_share'] == 1.0
    assert metrics['model_ids'] == ['echo']


def test_compare_passes_an_identical_rerun_and_catches_a_perturbed_one(scenario_bag, tmp_path):
    replay(scenario_bag, tmp_path / 'ref' / 'straight_cruise')
    compare_run(tmp_path / 'ref', tmp_path / 'references', update=True)
    replay(scenario_bag, tmp_path / 'same' / 'straight_cruise')
    assert compare_run(tmp_path / 'same', tmp_path / 'references') == {'straight_cruise': []}
    # A planner 2 m/s faster moves the 5 s waypoint by 10 m and the L2 error with it.
    replay(scenario_bag, tmp_path / 'fast' / 'straight_cruise', speed=10.0)
    problems = compare_run(tmp_path / 'fast', tmp_path / 'references',
                           Tolerances(plan_tolerance_m=0.1))['straight_cruise']
    assert any('moved' in p for p in problems), problems
    assert any(p.startswith('l2_') for p in problems), problems
