"""The real stack (perception, planner, safety over DDS) drives the simulator in lock-step."""

import numpy as np
import pytest

from autovla_sim import cli


def _run(tmp_path, baseline, name='stopped_vehicle', duration=4.0, extra=()):
    args = cli.build_parser().parse_args(
        ['--baselines', baseline, '--duration', str(duration), '--width', '400',
         '--height', '225', '--device', 'cpu', '--out', str(tmp_path), *extra])
    rig_file = tmp_path / 'rig.yaml'
    if not rig_file.exists():
        cli.write_rig(rig_file, args.width, args.height)
    return cli.run_one(name, 0, baseline, args, rig_file, tmp_path)


def test_lockstep_runs_with_the_real_stack_are_deterministic(tmp_path):
    first = _run(tmp_path, 'stack')
    second = _run(tmp_path, 'stack')
    # Every frame after the hand-over was answered, the stack drove, and both runs agree.
    assert first['timeouts'] == 0 and first['answered'] == first['frames'] - 3
    assert first['planner_share'] > 0.0
    assert first['plans'] and [p['t'] for p in first['plans']] == \
        [p['t'] for p in second['plans']]
    assert np.array_equal(np.array(first['trajectory']), np.array(second['trajectory']))
    assert first['pdms'] == second['pdms']


def test_model_alone_tracks_the_plans_itself(tmp_path):
    result = _run(tmp_path, 'model', duration=3.0)
    assert result['answered'] >= 2 and result['planner_share'] == 1.0
    assert result['safety_time_s'] == {}     # the safety node's commands are not used


def test_latency_aware_planner_time_passes_in_simulated_time(tmp_path):
    args = ['--latency-aware', '--speed-factor', '0.25']
    result = _run(tmp_path, 'stack', duration=5.0, extra=args)
    delays, walls = result['answer_sim_delay_s'], result['answer_wall_s']
    assert delays and len(delays) == len(walls)
    for delay, wall in zip(delays, walls):
        # The car drove on while the planner thought: a quarter of its wall time.
        assert delay > 0.0
        assert delay == pytest.approx(0.25 * wall, abs=0.04 + 0.05 * wall)
