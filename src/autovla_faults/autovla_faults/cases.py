"""The fault cases, what the safety node must do about each, and how an episode is judged.

ROS-free. A case is injected for ``duration`` seconds into a stack that is NOMINAL, then
removed (``restore``). The episode runs from the injection until the stack is NOMINAL
again (or ``recovery_timeout`` after the restore). Judged per case:

Times are wall-clock seconds of the campaign; reported durations are converted to
simulated seconds (the stack's timeline) with the episode's ``time_scale``.

- observed mode: the most severe mode of any ``safety_status`` from the injection until
  ``REACTION_MARGIN_S`` after the restore; it must equal the expected one (no milder: the
  fault was missed; no worse: the ladder overreacted). After that the ladder's timers go
  on until the planner has proven itself again (``recovery_valid_plans`` fresh plans):
  with a slow planner a FALLBACK may end in COMFORTABLE_STOP before that, which is the
  ladder working, not the fault; the recovery is judged on its own;
- held: for latches, no milder mode once the expected one was reached, until the restore;
- time to react: injection -> first status at the expected mode (NOMINAL cases: none);
- max command gap: longest silence between two ``drive_command`` messages, at most
  ``GAP_LIMIT_S`` (the stream must never stall, whatever the fault);
- recovered: NOMINAL again after the restore;
- crash: a stack process that ended without being the target of the fault.

Expected modes follow the ladder in the safety README with the shipped parameters:
planner heartbeat 2 s -> DEGRADED, held plan 1.5 s -> FALLBACK (8 s at most), odometry
0.5 s or a localization jump -> EMERGENCY_STOP; perception skips observations a camera is
missing from (``late_camera_policy: skip``), so a camera fault silences the planner.
"""

from dataclasses import dataclass, field
import math
from typing import Dict, List, Optional, Sequence, Tuple

MODES = ('NOMINAL', 'DEGRADED', 'FALLBACK', 'COMFORTABLE_STOP', 'EMERGENCY_STOP')
GAP_LIMIT_S = 0.25          # 12.5 control periods: far above jitter, far below a stall
FAULT_S = 6.0               # planner faults reach FALLBACK 3.5 s after the last plan arrived
REACTION_MARGIN_S = 0.5     # simulated seconds after the restore still counted as the fault's
RECOVERY_S = 25.0


@dataclass(frozen=True)
class FaultCase:
    """One fault: what is injected, for how long, and what the safety node must do."""

    name: str
    group: str
    description: str
    expected: str                       # most severe mode of the episode
    duration: float = FAULT_S
    latched: bool = False               # the expected mode must hold until the restore
    recovery_timeout: float = RECOVERY_S

    def __post_init__(self):
        if self.expected not in MODES:
            raise ValueError(f'{self.name}: unknown mode {self.expected!r}')


CASES: Tuple[FaultCase, ...] = (
    FaultCase('camera_one_stops', 'cameras', 'CAM_BACK stops publishing', 'FALLBACK'),
    FaultCase('camera_anchor_stops', 'cameras', 'the anchor camera CAM_FRONT stops',
              'FALLBACK'),
    FaultCase('cameras_all_stop', 'cameras', 'all six cameras stop', 'FALLBACK'),
    FaultCase('camera_frozen', 'cameras', 'CAM_FRONT repeats its last frame and stamp',
              'FALLBACK'),
    FaultCase('camera_corrupt', 'cameras', 'CAM_FRONT sends random bytes as JPEG', 'FALLBACK'),
    FaultCase('camera_truncated', 'cameras', 'CAM_FRONT JPEGs cut in half', 'FALLBACK'),
    FaultCase('camera_empty', 'cameras', 'CAM_FRONT sends zero-byte images', 'FALLBACK'),
    FaultCase('camera_wrong_format', 'cameras', "CAM_FRONT format 'tiff'", 'FALLBACK'),
    FaultCase('camera_wrong_size', 'cameras', 'CAM_FRONT at half the calibrated size',
              'FALLBACK'),
    FaultCase('camera_flood', 'cameras', 'CAM_FRONT at 100 Hz instead of 2 Hz', 'NOMINAL'),
    FaultCase('odometry_stops', 'odometry', 'odometry stops', 'EMERGENCY_STOP'),
    FaultCase('odometry_nan', 'odometry', 'odometry position NaN', 'EMERGENCY_STOP'),
    FaultCase('odometry_inf', 'odometry', 'odometry speed +inf', 'EMERGENCY_STOP'),
    FaultCase('odometry_teleport', 'odometry', 'odometry +100 m sideways, then back',
              'EMERGENCY_STOP'),
    FaultCase('clock_jump', 'clock', '/clock 30 s back (a replay restarting)',
              'COMFORTABLE_STOP', duration=1.0),
    FaultCase('route_empty', 'route', 'an empty route (clears it)', 'NOMINAL'),
    # Plans 500 m off the route break validator.max_route_deviation_m (on since issue 15
    # item 4) and the fallback cannot run that far from it: a stop, not blind driving.
    FaultCase('route_far', 'route', 'a route 500 m to the side', 'COMFORTABLE_STOP'),
    FaultCase('plan_nan', 'rogue plans', 'extra plans at 4 Hz with a NaN point', 'FALLBACK'),
    FaultCase('plan_absurd_speed', 'rogue plans', 'extra plans at 4 Hz asking 100 m/s',
              'FALLBACK'),
    FaultCase('plan_empty', 'rogue plans', 'extra plans at 4 Hz without points', 'FALLBACK'),
    FaultCase('plan_wrong_frame', 'rogue plans', "extra plans at 4 Hz in frame 'map'",
              'FALLBACK'),
    FaultCase('plan_oversized', 'rogue plans', 'extra plans at 4 Hz with 20,000 points',
              'FALLBACK'),
    FaultCase('estop_reset', 'e-stop', 'e-stop true; then false and reset_emergency_stop',
              'EMERGENCY_STOP', latched=True),
    FaultCase('estop_clock_jump', 'e-stop', 'e-stop true, /clock 30 s back; then release and '
              'reset', 'EMERGENCY_STOP', latched=True),
    FaultCase('planner_sigstop', 'processes', 'SIGSTOP the planner, SIGCONT after', 'FALLBACK'),
    FaultCase('planner_kill9', 'processes', 'kill -9 the planner (bring-up respawns it)',
              'FALLBACK', recovery_timeout=60.0),
)


def case_by_name(name: str) -> FaultCase:
    """Return the case called ``name``; ValueError lists the known ones."""
    for case in CASES:
        if case.name == name:
            return case
    raise ValueError(f'unknown fault {name!r}; known: {", ".join(c.name for c in CASES)}')


@dataclass
class Episode:
    """What was observed around one injection (wall-clock seconds of the campaign)."""

    case: FaultCase
    injected: float
    restored: float
    statuses: List[Tuple[float, str]] = field(default_factory=list)   # (received, mode)
    commands: List[float] = field(default_factory=list)              # received
    ended: float = 0.0              # observation stopped (recovery or its timeout)
    recovered_at: Optional[float] = None
    crashed: Tuple[str, ...] = ()
    ready: bool = True              # the stack was NOMINAL before the injection
    note: str = ''
    time_scale: float = 1.0         # simulated seconds per wall second (the /clock rate)


@dataclass(frozen=True)
class Verdict:
    """One row of the table."""

    name: str
    expected: str
    observed: str
    react_s: Optional[float]
    max_gap_s: float
    recovered: bool
    crash: str
    problems: Tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether the case matched every expectation."""
        return not self.problems


def severity(mode: str) -> int:
    """Rank of ``mode`` on the ladder (0 = NOMINAL)."""
    return MODES.index(mode)


def judge(episode: Episode) -> Verdict:
    """Compare an episode with its case's expectations."""
    case = episode.case
    end = episode.recovered_at if episode.recovered_at is not None else math.inf
    window_end = min(end, episode.restored + REACTION_MARGIN_S / episode.time_scale)
    window = [(t, mode) for t, mode in episode.statuses if episode.injected <= t <= window_end]
    observed = max((mode for _, mode in window), key=severity, default='none')
    reached = next((t for t, mode in window
                    if severity(mode) >= severity(case.expected)), None)
    react = None if case.expected == 'NOMINAL' or reached is None else (
        reached - episode.injected) * episode.time_scale
    # The silence from the last command to the end of the episode is a gap too.
    stop = min(end, episode.ended)
    before = [t for t in episode.commands if t < episode.injected][-1:] or [episode.injected]
    commands = before + [t for t in episode.commands if episode.injected <= t <= stop] + [stop]
    gaps = [(b - a) * episode.time_scale for a, b in zip(commands, commands[1:])]
    max_gap = max(gaps, default=math.inf)
    problems = []
    if not episode.ready:
        problems.append('stack not NOMINAL before the injection')
    if observed != case.expected:
        problems.append(f'observed {observed}, expected {case.expected}')
    if case.latched and reached is not None:
        milder = [mode for t, mode in window if reached <= t <= episode.restored
                  and severity(mode) < severity(case.expected)]
        if milder:
            problems.append(f'{case.expected} not held until the restore: {milder[0]} seen')
    if max_gap > GAP_LIMIT_S:
        problems.append(f'command gap {max_gap * 1e3:.0f} ms > {GAP_LIMIT_S * 1e3:.0f} ms')
    if episode.recovered_at is None:
        problems.append(f'not NOMINAL within {case.recovery_timeout:g} s of the restore')
    if episode.crashed:
        problems.append('crashed: ' + ', '.join(episode.crashed))
    if episode.note:
        problems.append(episode.note)
    return Verdict(case.name, case.expected, observed, react, max_gap,
                   episode.recovered_at is not None, ', '.join(episode.crashed) or 'no',
                   tuple(problems))


def table(verdicts: Sequence[Verdict]) -> str:
    """Markdown table of the verdicts, one row per case."""
    lines = ['| fault | expected mode | observed mode | time to react | max command gap | '
             'recovered | crash | result |', '|---|---|---|---|---|---|---|---|']
    for v in verdicts:
        react = '-' if v.react_s is None else f'{v.react_s:.2f} s'
        gap = 'none' if math.isinf(v.max_gap_s) else f'{v.max_gap_s * 1e3:.0f} ms'
        result = 'ok' if v.ok else 'MISMATCH: ' + '; '.join(v.problems)
        lines.append(f'| {v.name} | {v.expected} | {v.observed} | {react} | {gap} | '
                     f'{"yes" if v.recovered else "no"} | {v.crash} | {result} |')
    return '\n'.join(lines)


def summary(verdicts: Sequence[Verdict]) -> Dict[str, object]:
    """Count the verdicts for the JSON record and the last line of the output."""
    return {'cases': len(verdicts), 'ok': sum(v.ok for v in verdicts),
            'mismatches': [v.name for v in verdicts if not v.ok]}
