"""The minimum-risk ladder, stepped with explicit times (no ROS, no sleeping)."""

import dataclasses

from autovla_safety.supervisor import Mode, Supervisor
from autovla_safety.validator import Fault
import pytest

STEP = 0.01
LOW = [Fault('low_confidence', 'confidence 0.100 < 0.3')]
NAN = [Fault('nan_or_inf', 'non-finite values in y')]


@pytest.fixture
def cfg(config):
    return dataclasses.replace(
        config.supervisor, planner_timeout=1.0, odometry_timeout=0.5, degraded_hold=1.5,
        fallback_max_duration=8.0, recovery_valid_plans=3, low_confidence_count=3,
        route_max_age=600.0)


class Clock:
    """Drives a supervisor: odometry every step, plans when asked, records transitions."""

    def __init__(self, cfg):
        self.now = 0.0
        self.supervisor = Supervisor(cfg, self.now)
        self.supervisor.on_route(0.0)
        self.transitions = []
        self.odometry = True

    def plan(self, faults=(), horizon=5.0, latency=0.0):
        stamp = self.now - latency
        self.supervisor.on_plan(self.now, stamp, list(faults), stamp + horizon)
        return self.tick()

    def tick(self, fallback_problem=None):
        self.now += STEP
        if self.odometry:
            self.supervisor.on_odometry(self.now)
        made = self.supervisor.step(self.now, fallback_problem)
        self.transitions += made
        return made

    def run(self, seconds, **kwargs):
        for _ in range(int(round(seconds / STEP))):
            self.tick(**kwargs)

    def nominal(self):
        for _ in range(3):
            self.plan()
        assert self.supervisor.mode == Mode.NOMINAL
        self.transitions.clear()
        return self


def test_starts_stopped_and_without_odometry_goes_to_emergency(cfg):
    supervisor = Supervisor(cfg, 0.0)
    assert supervisor.mode == Mode.COMFORTABLE_STOP
    [transition] = supervisor.step(0.01)
    assert transition.mode == Mode.EMERGENCY_STOP
    assert 'no odometry received yet' in transition.reason


def test_nominal_only_after_n_consecutive_valid_plans(cfg):
    clock = Clock(cfg)
    clock.plan()
    clock.plan()
    clock.plan(NAN)   # breaks the run
    clock.plan()
    clock.plan()
    assert clock.supervisor.mode == Mode.COMFORTABLE_STOP
    [transition] = clock.plan()
    assert transition.mode == Mode.NOMINAL and '3 consecutive valid plans' in transition.reason


def assert_recovers_after_three_plans(clock, mode):
    """Two valid plans leave ``mode`` as it is; the third (recovery_valid_plans) recovers."""
    assert clock.supervisor.mode == mode
    clock.plan()
    clock.plan()
    assert clock.supervisor.mode == mode
    [recovered] = clock.plan()
    assert recovered.mode == Mode.NOMINAL and '3 consecutive valid plans' in recovered.reason


def first_time(clock, mode, start):
    return next(t.time for t in clock.transitions if t.mode == mode) - start


def test_silent_planner_walks_the_ladder_on_its_deadlines(cfg):
    clock = Clock(cfg).nominal()
    last_plan = clock.now
    clock.run(12.0)
    assert [t.mode for t in clock.transitions] == [Mode.DEGRADED, Mode.FALLBACK,
                                                   Mode.COMFORTABLE_STOP]
    # By hand: timeout 1.0 s, then hold 1.5 s, then fallback 8.0 s (one step of resolution).
    assert first_time(clock, Mode.DEGRADED, last_plan) == pytest.approx(1.0, abs=STEP + 1e-9)
    assert first_time(clock, Mode.FALLBACK, last_plan) == pytest.approx(2.5, abs=2 * STEP)
    assert first_time(clock, Mode.COMFORTABLE_STOP, last_plan) == pytest.approx(10.5,
                                                                                abs=3 * STEP)
    assert 'planner_timeout' in clock.transitions[0].reason
    assert 'maximum 1.5 s' in clock.transitions[1].reason
    assert 'maximum 8.0 s' in clock.transitions[2].reason


def test_degraded_leaves_early_when_the_held_plan_runs_out(cfg):
    clock = Clock(cfg)
    for _ in range(3):
        clock.plan(horizon=1.3)
    clock.transitions.clear()
    last_plan = clock.now
    clock.run(3.0)
    assert first_time(clock, Mode.FALLBACK, last_plan) == pytest.approx(1.3, abs=2 * STEP)
    assert 'plan_exhausted' in clock.transitions[1].reason


def test_one_invalid_plan_degrades_and_repeated_low_confidence_falls_back(cfg):
    clock = Clock(cfg).nominal()
    [degraded] = clock.plan(NAN)
    assert degraded.mode == Mode.DEGRADED and 'nan_or_inf' in degraded.reason
    clock.plan(LOW)
    clock.plan(LOW)
    assert clock.supervisor.mode == Mode.DEGRADED
    [fallback] = clock.plan(LOW)
    assert fallback.mode == Mode.FALLBACK and 'repeated_low_confidence' in fallback.reason


def test_a_valid_plan_resets_the_low_confidence_count(cfg):
    clock = Clock(cfg).nominal()
    for faults in (LOW, LOW, [], LOW, LOW):
        clock.plan(faults)
    assert clock.supervisor.mode == Mode.DEGRADED


def test_low_confidence_from_nominal_crosses_two_rungs_in_one_step(cfg):
    cfg = dataclasses.replace(cfg, low_confidence_count=1)
    clock = Clock(cfg).nominal()
    made = clock.plan(LOW)
    assert [t.mode for t in made] == [Mode.DEGRADED, Mode.FALLBACK]
    assert clock.tick() == []  # each transition is reported once


def test_route_loss_stops_instead_of_falling_back(cfg):
    clock = Clock(cfg).nominal()
    clock.supervisor.on_route(None, 'route dropped: empty')
    clock.tick()
    assert clock.supervisor.mode == Mode.NOMINAL
    assert 'route_lost' in {fault.name for fault in clock.supervisor.faults}
    clock.run(3.0)  # planner silent
    assert [t.mode for t in clock.transitions] == [Mode.DEGRADED, Mode.FALLBACK,
                                                   Mode.COMFORTABLE_STOP]
    assert clock.transitions[1].time == clock.transitions[2].time
    assert 'fallback cannot run: route dropped' in clock.transitions[2].reason


def test_route_too_old_or_too_far_is_route_loss(cfg):
    clock = Clock(dataclasses.replace(cfg, route_max_age=5.0)).nominal()
    clock.run(5.5)
    faults = {fault.name: fault.reason for fault in clock.supervisor.faults}
    assert 'old' in faults['route_lost']
    clock = Clock(cfg).nominal()
    clock.tick(fallback_problem='ego is 9.0 m from the route, limit 3.0 m')
    assert 'from the route' in {f.name: f.reason for f in clock.supervisor.faults}['route_lost']


def test_odometry_loss_is_an_emergency_and_recovery_needs_fresh_plans(cfg):
    clock = Clock(cfg).nominal()
    clock.odometry = False
    lost = clock.now
    while clock.supervisor.mode != Mode.EMERGENCY_STOP:
        clock.plan()
    assert clock.now - lost == pytest.approx(0.5, abs=2 * STEP)
    for _ in range(5):
        clock.plan()  # plans during the outage count for nothing
    clock.odometry = True
    assert_recovers_after_three_plans(clock, Mode.EMERGENCY_STOP)


def test_estop_latches_until_released_and_reset(cfg):
    clock = Clock(cfg).nominal()
    clock.supervisor.on_estop(True)
    [emergency] = clock.plan()
    assert emergency.mode == Mode.EMERGENCY_STOP and 'external_estop' in emergency.reason
    ok, message = clock.supervisor.reset_estop(clock.now)
    assert not ok and 'still asserted' in message
    clock.supervisor.on_estop(False)
    for _ in range(5):
        clock.plan()
    assert clock.supervisor.mode == Mode.EMERGENCY_STOP  # released, not reset: latched
    ok, _ = clock.supervisor.reset_estop(clock.now)
    assert ok
    assert_recovers_after_three_plans(clock, Mode.EMERGENCY_STOP)


def test_fallback_returns_to_nominal_with_hysteresis(cfg):
    clock = Clock(cfg).nominal()
    clock.run(3.0)
    assert_recovers_after_three_plans(clock, Mode.FALLBACK)


def test_plans_computed_before_the_escalation_do_not_count(cfg):
    clock = Clock(cfg).nominal()
    [degraded] = clock.plan(NAN)
    for _ in range(5):  # valid, but from observations older than the escalation
        clock.plan(latency=0.5)
    assert clock.supervisor.mode == Mode.DEGRADED
    clock.run(0.5)
    for _ in range(2):
        clock.plan(latency=0.5)
    assert clock.supervisor.mode == Mode.DEGRADED
    [recovered] = clock.plan(latency=0.5)
    assert recovered.mode == Mode.NOMINAL


def test_internal_error_latches_an_emergency_until_reset(cfg):
    clock = Clock(cfg).nominal()
    clock.supervisor.on_internal_error('ZeroDivisionError: division by zero')
    [emergency] = clock.plan()
    assert emergency.mode == Mode.EMERGENCY_STOP and 'ZeroDivisionError' in emergency.reason
    for _ in range(5):
        clock.plan()
    assert clock.supervisor.mode == Mode.EMERGENCY_STOP
    assert clock.supervisor.reset_estop(clock.now)[0]
    assert_recovers_after_three_plans(clock, Mode.EMERGENCY_STOP)


def jump_back(clock, seconds):
    """Move the clock back as a restarted replay does and restart the supervisor's timeline."""
    clock.now -= seconds
    clock.supervisor.restart_timeline(clock.now, f'clock jumped back {seconds} s')
    clock.supervisor.on_route(clock.now)


@pytest.mark.parametrize('latch', ['estop', 'internal_error'])
def test_latches_survive_a_clock_jump_back_until_the_documented_reset(cfg, latch):
    clock = Clock(cfg).nominal()
    if latch == 'estop':
        clock.supervisor.on_estop(True)
    else:
        clock.supervisor.on_internal_error('ValueError: non-finite command')
    clock.plan()
    assert clock.supervisor.mode == Mode.EMERGENCY_STOP
    jump_back(clock, 30.0)
    assert clock.supervisor.mode == Mode.EMERGENCY_STOP
    for _ in range(50):  # valid plans on the new timeline prove nothing while latched
        clock.plan()
    assert clock.supervisor.mode == Mode.EMERGENCY_STOP
    assert all(t.mode == Mode.EMERGENCY_STOP for t in clock.transitions), clock.transitions
    if latch == 'estop':
        ok, message = clock.supervisor.reset_estop(clock.now)
        assert not ok and 'still asserted' in message
        clock.supervisor.on_estop(False)
    ok, message = clock.supervisor.reset_estop(clock.now)
    assert ok and 'e-stop reset' in message, message
    assert_recovers_after_three_plans(clock, Mode.EMERGENCY_STOP)


def test_clock_jump_without_a_latch_restarts_in_comfortable_stop_and_recovers(cfg):
    clock = Clock(cfg).nominal()
    jump_back(clock, 30.0)
    assert clock.supervisor.mode == Mode.COMFORTABLE_STOP
    assert clock.supervisor.reset_estop(clock.now) == (True, 'e-stop was not latched')
    assert_recovers_after_three_plans(clock, Mode.COMFORTABLE_STOP)


def test_localization_jump_is_an_emergency_held_until_the_odometry_settles(cfg):
    cfg = dataclasses.replace(cfg, localization_settle=1.0)
    clock = Clock(cfg).nominal()
    clock.supervisor.on_localization_jump(clock.now, 'position moved 100.00 m')
    [emergency] = clock.plan()
    assert emergency.mode == Mode.EMERGENCY_STOP and 'localization_jump' in emergency.reason
    assert not clock.supervisor.localization_trusted(clock.now)
    jumped = clock.now - STEP
    for _ in range(5):
        clock.plan()   # plans during the hold count for nothing
    while not clock.supervisor.localization_trusted(clock.now):
        clock.tick()
    assert clock.now - jumped == pytest.approx(1.0, abs=2 * STEP)
    assert_recovers_after_three_plans(clock, Mode.EMERGENCY_STOP)


def test_after_a_clock_jump_odometry_gets_its_timeout_before_it_is_an_emergency(cfg):
    clock = Clock(cfg).nominal()
    clock.odometry = False
    jump_back(clock, 30.0)
    restarted = clock.now
    clock.run(0.45)
    assert clock.supervisor.mode == Mode.COMFORTABLE_STOP
    while clock.supervisor.mode != Mode.EMERGENCY_STOP:
        clock.tick()
    assert clock.now - restarted == pytest.approx(cfg.odometry_timeout, abs=2 * STEP)
    assert 'no odometry received yet' in clock.supervisor.reason
