"""Judging fault episodes: each expectation can fail on its own, and the table says why."""

from types import SimpleNamespace

from autovla_faults.campaign import injections
from autovla_faults.cases import (
    case_by_name,
    CASES,
    Episode,
    FaultCase,
    GAP_LIMIT_S,
    judge,
    MODES,
    table,
)
import pytest

ESTOP = case_by_name('estop_reset')
CAMERA = case_by_name('camera_anchor_stops')


def steady(start, end, period=0.02):
    return [start + period * i for i in range(int(round((end - start) / period)) + 1)]


def episode(case, statuses, commands=None, recovered_at=12.0, crashed=(), ended=12.0):
    return Episode(case, injected=1.0, restored=6.0, statuses=statuses,
                   commands=steady(0.0, ended) if commands is None else commands, ended=ended,
                   recovered_at=recovered_at, crashed=crashed)


LADDER = [(0.5, 'NOMINAL'), (3.2, 'DEGRADED'), (4.7, 'FALLBACK'), (12.0, 'NOMINAL')]


def test_catalogue_has_twenty_distinct_fault_types_with_known_modes():
    assert len({case.name for case in CASES}) == len(CASES) >= 20
    assert {case.expected for case in CASES} <= set(MODES)
    with pytest.raises(ValueError, match='unknown fault'):
        case_by_name('nope')
    with pytest.raises(ValueError, match='unknown mode'):
        FaultCase('x', 'g', 'd', 'PANIC')


def test_expected_ladder_is_ok_with_its_reaction_time():
    verdict = judge(episode(CAMERA, LADDER))
    assert verdict.ok, verdict.problems
    assert verdict.observed == 'FALLBACK'
    assert verdict.react_s == pytest.approx(4.7 - 1.0)
    assert verdict.max_gap_s == pytest.approx(0.02)


def test_missed_and_overreacting_faults_are_mismatches():
    missed = judge(episode(CAMERA, [(0.5, 'NOMINAL'), (3.2, 'DEGRADED'), (12.0, 'NOMINAL')]))
    assert not missed.ok and 'observed DEGRADED, expected FALLBACK' in missed.problems[0]
    worse = judge(episode(CAMERA, LADDER[:3] + [(5.0, 'COMFORTABLE_STOP'), (12.0, 'NOMINAL')]))
    assert 'observed COMFORTABLE_STOP, expected FALLBACK' in worse.problems[0]


def test_ladder_timers_running_on_after_the_restore_are_not_the_faults():
    slow_recovery = LADDER[:3] + [(9.0, 'COMFORTABLE_STOP'), (12.0, 'NOMINAL')]
    verdict = judge(episode(CAMERA, slow_recovery))
    assert verdict.ok and verdict.observed == 'FALLBACK'


def test_latched_mode_must_hold_until_the_restore():
    released_early = [(0.5, 'NOMINAL'), (1.1, 'EMERGENCY_STOP'), (4.0, 'NOMINAL'),
                      (12.0, 'NOMINAL')]
    verdict = judge(episode(ESTOP, released_early, recovered_at=4.0))
    assert any('not held until the restore: NOMINAL' in p for p in verdict.problems)
    held = [(0.5, 'NOMINAL'), (1.1, 'EMERGENCY_STOP'), (5.9, 'EMERGENCY_STOP'),
            (7.0, 'NOMINAL')]
    assert judge(episode(ESTOP, held, recovered_at=7.0)).ok


def test_command_stall_counts_including_silence_until_the_end():
    stalled = steady(0.0, 3.0) + steady(3.0 + GAP_LIMIT_S + 0.05, 12.0)
    verdict = judge(episode(CAMERA, LADDER, commands=stalled))
    assert any('command gap' in p for p in verdict.problems)
    silent = judge(episode(CAMERA, LADDER, commands=steady(0.0, 2.0)))
    assert silent.max_gap_s == pytest.approx(10.0)


def test_no_recovery_and_crashes_are_reported():
    verdict = judge(episode(CAMERA, LADDER[:3], recovered_at=None, crashed=('safety_node',),
                            ended=40.0, commands=steady(0.0, 40.0)))
    assert verdict.crash == 'safety_node' and not verdict.recovered
    assert any('not NOMINAL within' in p for p in verdict.problems)
    assert any('crashed: safety_node' in p for p in verdict.problems)
    row = table([verdict]).splitlines()[-1]
    assert row.startswith('| camera_anchor_stops | FALLBACK | FALLBACK | 3.70 s | 20 ms | no |')
    assert 'MISMATCH' in row


def test_durations_are_reported_on_the_simulated_timeline():
    slow = episode(CAMERA, LADDER)
    slow.time_scale = 0.5
    verdict = judge(slow)
    assert verdict.react_s == pytest.approx(3.7 * 0.5)
    assert verdict.max_gap_s == pytest.approx(0.01)


def test_no_command_at_all_is_one_gap_over_the_whole_episode():
    assert judge(episode(CAMERA, LADDER, commands=[])).max_gap_s == pytest.approx(12.0 - 1.0)


def test_every_case_has_an_injection_and_a_restore():
    world = SimpleNamespace(anchor='CAM_FRONT', cameras={'CAM_FRONT': None, 'CAM_BACK': None},
                            jump_clock=lambda: None, publish_route=lambda kind='': None)
    actions = injections(world, stack=None)
    assert set(actions) == {case.name for case in CASES}
    assert all(callable(inject) and callable(restore) for inject, restore in actions.values())
