"""Ego motion state from odometry: speed, filtered acceleration and yaw rate, in base_link."""

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass
import math
from typing import Deque, Optional, Tuple

from autovla_perception.preprocess import FrameError


@dataclass(frozen=True)
class OdometrySample:
    """One odometry message: pose in the odometry frame, twist in base_link."""

    stamp_ns: int
    x: float
    y: float
    yaw: float
    velocity_x: float
    velocity_y: float
    yaw_rate: float

    def check(self) -> None:
        """Raise FrameError('bad_odometry') if any field is NaN or infinite."""
        if not all(math.isfinite(v) for v in (self.x, self.y, self.yaw, self.velocity_x,
                                             self.velocity_y, self.yaw_rate)):
            raise FrameError('bad_odometry', 'odometry has a NaN or infinite field')


@dataclass(frozen=True)
class EgoState:
    """What the planner is told about the ego motion (see autovla_msgs/EgoState)."""

    stamp_ns: int
    speed: float
    velocity_x: float
    velocity_y: float
    acceleration: float
    acceleration_x: float
    yaw_rate: float
    pose: Tuple[float, float, float]  # x, y, yaw in the odometry frame


def yaw_from_quaternion(x: float, y: float, z: float, w: float) -> float:
    """Yaw (rotation about z) of a quaternion, rad."""
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


class EgoEstimator:
    """Low-pass the body velocity and differentiate it; add the rotation term for base_link.

    Filtered velocity: v_f += a (v - v_f) with a = dt / (tau + dt). Acceleration in the
    rotating base_link frame: dv_f/dt + omega x v_f, so a steady turn shows its centripetal
    acceleration. The filter restarts after a gap longer than ``max_gap_s``.

    The states of the last ``history_s`` are kept, so an observation takes the ego state
    at its camera stamp (``state_at``), not whatever odometry came in last: odometry runs
    ahead of the cameras whenever frames arrive late (encoding, transport, a busy node).
    """

    def __init__(self, time_constant_s: float, max_gap_s: float = 1.0,
                 history_s: float = 2.0):
        self._tau = time_constant_s
        self._max_gap_ns = int(max_gap_s * 1e9)
        self._history_ns = int(history_s * 1e9)
        self.reset()

    def reset(self) -> None:
        """Forget the history (after a backwards clock jump or a long gap)."""
        self._last: Optional[OdometrySample] = None
        self._filtered = (0.0, 0.0)
        self._acceleration = (0.0, 0.0)
        self._states: Deque[EgoState] = deque()
        self._stamps: Deque[int] = deque()

    @property
    def latest_stamp_ns(self) -> Optional[int]:
        """Stamp of the newest accepted sample (None before the first)."""
        return None if self._last is None else self._last.stamp_ns

    def update(self, sample: OdometrySample) -> None:
        """Take one sample; FrameError for NaN ('bad_odometry') or an old stamp."""
        sample.check()
        last = self._last
        if last is not None and sample.stamp_ns <= last.stamp_ns:
            raise FrameError('stamp_backwards' if sample.stamp_ns < last.stamp_ns
                             else 'duplicate_stamp', 'odometry stamp did not advance')
        if last is None or sample.stamp_ns - last.stamp_ns > self._max_gap_ns:
            self._filtered = (sample.velocity_x, sample.velocity_y)
            self._acceleration = (0.0, 0.0)
        else:
            dt = (sample.stamp_ns - last.stamp_ns) * 1e-9
            gain = dt / (self._tau + dt)
            old_x, old_y = self._filtered
            new_x = old_x + gain * (sample.velocity_x - old_x)
            new_y = old_y + gain * (sample.velocity_y - old_y)
            self._filtered = (new_x, new_y)
            self._acceleration = ((new_x - old_x) / dt - sample.yaw_rate * new_y,
                                  (new_y - old_y) / dt + sample.yaw_rate * new_x)
        self._last = sample
        self._states.append(EgoState(
            stamp_ns=sample.stamp_ns,
            speed=math.hypot(sample.velocity_x, sample.velocity_y),
            velocity_x=sample.velocity_x, velocity_y=sample.velocity_y,
            acceleration=math.hypot(*self._acceleration),
            acceleration_x=self._acceleration[0],
            yaw_rate=sample.yaw_rate,
            pose=(sample.x, sample.y, sample.yaw)))
        self._stamps.append(sample.stamp_ns)
        while self._stamps[0] < sample.stamp_ns - self._history_ns:
            self._stamps.popleft()
            self._states.popleft()

    def state(self) -> Optional[EgoState]:
        """Return the current ego state, or None before the first sample."""
        return self._states[-1] if self._states else None

    def state_at(self, stamp_ns: int, tolerance_ns: float) -> Optional[EgoState]:
        """Return the kept state stamped nearest ``stamp_ns`` if within ``tolerance_ns``."""
        index = bisect_left(self._stamps, stamp_ns)
        nearest = min((i for i in (index - 1, index) if 0 <= i < len(self._stamps)),
                      key=lambda i: abs(self._stamps[i] - stamp_ns), default=None)
        if nearest is None or abs(self._stamps[nearest] - stamp_ns) > tolerance_ns:
            return None
        return self._states[nearest]
