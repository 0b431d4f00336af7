"""Supervisor: the minimum-risk ladder as a plain state machine (no ROS, time passed in).

Modes, from nominal to most severe: NOMINAL (track the newest VLA plan), DEGRADED (track
the last valid VLA plan for at most ``degraded_hold``), FALLBACK (rule-based route
following for at most ``fallback_max_duration``: it has no perception), COMFORTABLE_STOP,
EMERGENCY_STOP.

Escalation is immediate and may cross several rungs in one step (each crossing is reported
as its own transition with its reason). The only way down is back to NOMINAL, after
``recovery_valid_plans`` consecutive valid plans computed (input stamp) after the last
escalation, the end of the last emergency condition or the e-stop reset (hysteresis):
plans already in flight when something went wrong prove nothing. The node starts in
COMFORTABLE_STOP: the car does not move before the planner has proven itself the same way.
"""

from dataclasses import dataclass
from enum import IntEnum
import math
from typing import List, Optional, Sequence, Tuple

from autovla_safety.config import SupervisorConfig
from autovla_safety.validator import Fault

# Faults that send any mode straight to EMERGENCY_STOP.
EMERGENCY_FAULTS = ('external_estop', 'internal_error', 'odometry_timeout', 'localization_jump',
                    'aeb_braking')


class Mode(IntEnum):
    """Ladder rungs; values equal the SafetyStatus constants, larger = more severe."""

    NOMINAL = 0
    DEGRADED = 1
    FALLBACK = 2
    COMFORTABLE_STOP = 3
    EMERGENCY_STOP = 4


@dataclass(frozen=True)
class Transition:
    """One change of mode, when it happened and why."""

    time: float
    previous: Mode
    mode: Mode
    reason: str


class Supervisor:
    """Watchdogs, plan bookkeeping and the ladder. Call ``step`` at control rate."""

    def __init__(self, cfg: SupervisorConfig, now: float,
                 reason: str = 'start-up: waiting for valid plans'):
        self.cfg = cfg
        self.estop_latched = False
        self._estop_asserted = False
        self._internal_error: Optional[str] = None
        self.restart_timeline(now, reason)
        self._odometry_expected_from = -math.inf   # at start-up no odometry is an emergency

    def restart_timeline(self, now: float, reason: str) -> None:
        """Forget every timed input (the clock jumped back); keep the latches.

        Heartbeats, plans, the route stamp and the recovery count belong to the old
        timeline. The e-stop and internal-error latches do not depend on time: only
        ``reset_estop`` releases them, so a latched supervisor restarts in EMERGENCY_STOP,
        any other in COMFORTABLE_STOP. Odometry on the new timeline gets the usual
        ``odometry_timeout`` from the restart to arrive before its absence is an emergency.
        """
        self._odometry_expected_from = now
        latched = self.estop_latched or self._internal_error is not None
        self.mode = Mode.EMERGENCY_STOP if latched else Mode.COMFORTABLE_STOP
        self.since = now
        self.reason = reason
        self.faults: List[Fault] = []
        self.newest_plan_stamp: Optional[float] = None
        self._last_plan_time: Optional[float] = None
        self._last_plan_faults: Sequence[Fault] = ()
        self._valid_plan_end: Optional[float] = None
        self._valid_in_a_row = 0
        self._count_plans_from = -math.inf   # input stamps before this prove nothing
        self._low_confidence_in_a_row = 0
        self._last_odometry_time: Optional[float] = None
        self._route_stamp: Optional[float] = None
        self._route_problem = 'no route received'
        self._localization_jump: Optional[str] = None
        self._localization_settled_at = -math.inf
        self._aeb_reason: Optional[str] = None

    # Inputs -------------------------------------------------------------------------------
    def on_plan(self, now: float, stamp: float, faults: Sequence[Fault],
                end_time: float) -> None:
        """Record a received plan (a heartbeat) and its validation result."""
        self._last_plan_time = now
        self.newest_plan_stamp = stamp
        self._last_plan_faults = tuple(faults)
        if faults:
            self._valid_in_a_row = 0
        else:
            self._valid_in_a_row += stamp >= self._count_plans_from
            self._valid_plan_end = end_time
        low = any(fault.name == 'low_confidence' for fault in faults)
        self._low_confidence_in_a_row = self._low_confidence_in_a_row + 1 if low else 0

    def on_odometry(self, now: float) -> None:
        """Record an odometry heartbeat."""
        self._last_odometry_time = now

    def on_localization_jump(self, now: float, reason: str) -> None:
        """Record a pose that contradicts the measured motion: untrusted for ``settle``."""
        self._localization_jump = reason
        self._localization_settled_at = now + self.cfg.localization_settle

    def localization_trusted(self, now: float) -> bool:
        """Whether the odometry pose may steer the car (no jump within the settle time)."""
        return now >= self._localization_settled_at

    def on_route(self, stamp: Optional[float], problem: Optional[str] = None) -> None:
        """Record a new route (its stamp) or its loss (stamp None and the reason)."""
        self._route_stamp = stamp
        self._route_problem = problem if stamp is None else None

    def on_estop(self, asserted: bool) -> None:
        """External e-stop input: true latches; false only allows a later reset."""
        self._estop_asserted = asserted
        if asserted:
            self.estop_latched = True

    def on_aeb(self, reason: Optional[str]) -> None:
        """AEB state of this tick: why it brakes (an emergency while set), or None."""
        self._aeb_reason = reason

    def on_internal_error(self, reason: str) -> None:
        """Latch an emergency stop for a fault of the node itself (cleared like the e-stop)."""
        self._internal_error = reason

    def reset_estop(self, now: float) -> Tuple[bool, str]:
        """Clear the latches unless the e-stop is still asserted; say what happened."""
        if self._estop_asserted:
            return False, 'e-stop still asserted: release it (publish false) first'
        if not self.estop_latched and self._internal_error is None:
            return True, 'e-stop was not latched'
        self.estop_latched = False
        self._internal_error = None
        self._restart_recovery(now)
        return True, (f'e-stop reset; back to NOMINAL after {self.cfg.recovery_valid_plans} '
                      'consecutive valid plans')

    # Ladder --------------------------------------------------------------------------------
    def time_in_mode(self, now: float) -> float:
        """Seconds since the last transition."""
        return now - self.since

    def odometry_fresh(self, now: float) -> bool:
        """Whether odometry arrived within the timeout (closed-loop control allowed)."""
        return (self._last_odometry_time is not None
                and now - self._last_odometry_time <= self.cfg.odometry_timeout)

    def planner_age(self, now: float) -> float:
        """Now minus the newest plan's input stamp (NaN before the first plan)."""
        return math.nan if self.newest_plan_stamp is None else now - self.newest_plan_stamp

    def step(self, now: float, fallback_problem: Optional[str] = None) -> List[Transition]:
        """Update the active faults and the mode; return the transitions made (often none).

        ``fallback_problem`` says why the route-following fallback could not run from the
        current pose (e.g. too far from the route), None if it could.
        """
        faults = self._watchdog_faults(now)
        route_problem = self._route_fault(now) or fallback_problem
        if route_problem:
            faults.append(Fault('route_lost', route_problem))
        vla_problem = self._vla_problem(now)
        emergency = [f for f in faults if f.name in EMERGENCY_FAULTS]
        self.faults = faults + list(self._last_plan_faults)
        transitions: List[Transition] = []

        def escalate(mode: Mode, reason: str):
            transitions.append(Transition(now, self.mode, mode, reason))
            self.mode, self.since, self.reason = mode, now, reason
            self._restart_recovery(now)

        if emergency:
            self._restart_recovery(now)  # only plans after the emergency clears count
            if self.mode != Mode.EMERGENCY_STOP:
                escalate(Mode.EMERGENCY_STOP, _describe(emergency))
            return transitions
        if (self.mode != Mode.NOMINAL and vla_problem is None
                and self._valid_in_a_row >= self.cfg.recovery_valid_plans):
            reason = f'{self._valid_in_a_row} consecutive valid plans'
            transitions.append(Transition(now, self.mode, Mode.NOMINAL, reason))
            self.mode, self.since, self.reason = Mode.NOMINAL, now, reason
            return transitions
        if self.mode == Mode.NOMINAL and vla_problem:
            escalate(Mode.DEGRADED, vla_problem)
        if self.mode == Mode.DEGRADED:
            held = self._held_plan_problem(now)
            if held:
                escalate(Mode.FALLBACK, held)
        if self.mode == Mode.FALLBACK:
            if route_problem:
                escalate(Mode.COMFORTABLE_STOP, f'fallback cannot run: {route_problem}')
            elif now - self.since > self.cfg.fallback_max_duration:
                escalate(Mode.COMFORTABLE_STOP, 'fallback ran its maximum '
                         f'{self.cfg.fallback_max_duration} s')
        return transitions

    def _restart_recovery(self, now: float) -> None:
        self._valid_in_a_row = 0
        self._count_plans_from = now

    def _watchdog_faults(self, now: float) -> List[Fault]:
        faults = []
        if self.estop_latched:
            faults.append(Fault('external_estop', 'e-stop latched (reset_emergency_stop to '
                                'clear)'))
        if self._internal_error is not None:
            faults.append(Fault('internal_error', f'{self._internal_error} (latched; '
                                'reset_emergency_stop to clear)'))
        if self._aeb_reason is not None:
            faults.append(Fault('aeb_braking', self._aeb_reason))
        if self._last_odometry_time is None:
            if now - self._odometry_expected_from > self.cfg.odometry_timeout:
                faults.append(Fault('odometry_timeout', 'no odometry received yet'))
        elif not self.odometry_fresh(now):
            faults.append(Fault('odometry_timeout', f'no odometry for '
                                f'{now - self._last_odometry_time:.2f} s, limit '
                                f'{self.cfg.odometry_timeout} s'))
        if not self.localization_trusted(now):
            faults.append(Fault('localization_jump', f'{self._localization_jump} (held until '
                                f'the odometry is consistent for '
                                f'{self.cfg.localization_settle} s)'))
        if self._last_plan_time is None:
            faults.append(Fault('planner_timeout', 'no plan received yet'))
        elif now - self._last_plan_time > self.cfg.planner_timeout:
            faults.append(Fault('planner_timeout', f'no plan for '
                                f'{now - self._last_plan_time:.2f} s, limit '
                                f'{self.cfg.planner_timeout} s'))
        if self._low_confidence_in_a_row >= self.cfg.low_confidence_count:
            faults.append(Fault('repeated_low_confidence', f'{self._low_confidence_in_a_row} '
                                'low-confidence plans in a row, limit '
                                f'{self.cfg.low_confidence_count}'))
        return faults

    def _route_fault(self, now: float) -> Optional[str]:
        if self._route_stamp is None:
            return self._route_problem
        age = now - self._route_stamp
        if age > self.cfg.route_max_age:
            return f'route is {age:.1f} s old, limit {self.cfg.route_max_age} s'
        return None

    def _vla_problem(self, now: float) -> Optional[str]:
        """Why the newest plan cannot be tracked in NOMINAL (None = it can)."""
        if self._last_plan_time is None:
            return 'no plan received yet'
        if now - self._last_plan_time > self.cfg.planner_timeout:
            return (f'planner_timeout: no plan for {now - self._last_plan_time:.2f} s, limit '
                    f'{self.cfg.planner_timeout} s')
        if self._last_plan_faults:
            return 'plan rejected: ' + _describe(self._last_plan_faults)
        if self._valid_plan_end is None or now > self._valid_plan_end:
            return 'plan_exhausted: the newest plan ended'
        return None

    def _held_plan_problem(self, now: float) -> Optional[str]:
        """Why DEGRADED cannot go on holding the last valid plan (None = it can)."""
        if self._low_confidence_in_a_row >= self.cfg.low_confidence_count:
            return (f'repeated_low_confidence: {self._low_confidence_in_a_row} low-confidence '
                    'plans in a row')
        if self._valid_plan_end is None or now > self._valid_plan_end:
            return 'plan_exhausted: no valid plan left to hold'
        if now - self.since > self.cfg.degraded_hold:
            return f'held the last valid plan for its maximum {self.cfg.degraded_hold} s'
        return None


def _describe(faults: Sequence[Fault]) -> str:
    return '; '.join(f'{fault.name}: {fault.reason}' for fault in faults)
