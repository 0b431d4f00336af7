"""Plain trajectory types, the odometry pose history and the geometry the other parts share.

ROS-free. Times are float seconds on the node clock; positions are metres; angles radians.
A ``Plan`` is what the planner sent (base_link at its input stamp); a ``Trajectory`` is a
path in the odometry frame with absolute times, ready to track.
"""

from collections import deque
from dataclasses import dataclass
import math
from typing import Deque, Optional, Tuple

import numpy as np


def wrap_angle(angle):
    """Wrap an angle (or array of angles) to [-pi, pi)."""
    return (np.asarray(angle) + math.pi) % (2.0 * math.pi) - math.pi


@dataclass(frozen=True)
class EgoState:
    """Vehicle state from odometry: pose in the odometry frame and longitudinal speed."""

    stamp: float
    x: float
    y: float
    yaw: float
    speed: float


@dataclass(frozen=True)
class Plan:
    """A planner trajectory as received: points in base_link at ``stamp``."""

    stamp: float
    frame_id: str
    t: np.ndarray           # time from stamp (s)
    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    velocity: np.ndarray
    acceleration: np.ndarray
    curvature: np.ndarray
    confidence: float

    @property
    def end_time(self) -> float:
        """Absolute time of the last point (the plan cannot be tracked after it)."""
        return self.stamp + float(self.t[-1]) if len(self.t) else self.stamp


@dataclass(frozen=True)
class Trajectory:
    """A time-parametrised path in the odometry frame; ``s`` is the arc length."""

    stamp: float            # stamp of the input it was computed from
    t: np.ndarray           # absolute time of each point (s)
    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    v: np.ndarray
    a: np.ndarray
    s: np.ndarray

    @classmethod
    def from_arrays(cls, stamp, t, x, y, yaw, v, a) -> 'Trajectory':
        """Build one and compute its arc length."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        s = np.concatenate(([0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))))
        return cls(float(stamp), np.asarray(t, float), x, y, np.asarray(yaw, float),
                   np.asarray(v, float), np.asarray(a, float), s)

    @property
    def end_time(self) -> float:
        """Absolute time of the last point."""
        return float(self.t[-1])

    def at_time(self, now: float) -> Tuple[float, float]:
        """Return the reference speed and acceleration at ``now`` (held at the ends)."""
        return (float(np.interp(now, self.t, self.v)), float(np.interp(now, self.t, self.a)))


def project_on_polyline(xs: np.ndarray, ys: np.ndarray, px: float,
                        py: float) -> Tuple[int, float, float]:
    """Closest point of a polyline to (px, py): (segment index, fraction along it, distance).

    A polyline of one point (or with zero-length segments) is handled: the fraction is 0.
    """
    if len(xs) == 1:
        return 0, 0.0, math.hypot(px - xs[0], py - ys[0])
    dx, dy = np.diff(xs), np.diff(ys)
    length2 = dx * dx + dy * dy
    safe = np.where(length2 > 0.0, length2, 1.0)
    frac = np.clip(((px - xs[:-1]) * dx + (py - ys[:-1]) * dy) / safe, 0.0, 1.0)
    frac = np.where(length2 > 0.0, frac, 0.0)
    dist = np.hypot(xs[:-1] + frac * dx - px, ys[:-1] + frac * dy - py)
    index = int(np.argmin(dist))
    return index, float(frac[index]), float(dist[index])


def plan_to_odom(plan: Plan, pose: EgoState) -> Trajectory:
    """Express a plan in the odometry frame, from the ego pose at the plan's input stamp.

    The planner's points are in base_link *at the input stamp*; the car has moved since.
    ``pose`` is the odometry pose at (or interpolated to) that stamp, so the rigid transform
    base_link(stamp) -> odom is a rotation by its yaw plus its position. The ego pose at the
    stamp is prepended (time 0, odometry speed) when the plan does not start at time 0, so
    the path begins where the car was when the camera frame was taken.
    """
    cos, sin = math.cos(pose.yaw), math.sin(pose.yaw)
    t, x, y, yaw = plan.t, plan.x, plan.y, plan.yaw
    v, a = plan.velocity, plan.acceleration
    if t[0] > 0.0:
        t, x, y, yaw = (np.concatenate(([0.0], t)), np.concatenate(([0.0], x)),
                        np.concatenate(([0.0], y)), np.concatenate(([0.0], yaw)))
        v, a = np.concatenate(([pose.speed], v)), np.concatenate(([a[0]], a))
    return Trajectory.from_arrays(
        plan.stamp, plan.stamp + t, pose.x + cos * x - sin * y, pose.y + sin * x + cos * y,
        wrap_angle(pose.yaw + yaw), v, a)


class PoseHistory:
    """The last few seconds of odometry, to find the ego pose at a past stamp."""

    def __init__(self, length: float):
        self.length = length
        self._states: Deque[EgoState] = deque()

    def add(self, state: EgoState) -> None:
        """Append a state; drop states older than ``length`` before the newest.

        Odometry from one publisher arrives in order, so a stamp older than the newest means
        the clock jumped back (a replay restarted): the history starts again from it rather
        than keep poses from another timeline.
        """
        if self._states and state.stamp < self._states[-1].stamp:
            self._states.clear()
        self._states.append(state)
        while self._states[-1].stamp - self._states[0].stamp > self.length:
            self._states.popleft()

    @property
    def latest(self) -> Optional[EgoState]:
        """Newest state, or None before the first odometry."""
        return self._states[-1] if self._states else None

    def at(self, stamp: float, tolerance: float) -> Optional[EgoState]:
        """Ego state at ``stamp``: interpolated inside the history, nearest within ``tolerance``.

        None when the stamp lies farther than ``tolerance`` outside the history.
        """
        if not self._states:
            return None
        first, last = self._states[0], self._states[-1]
        if stamp <= first.stamp:
            return first if first.stamp - stamp <= tolerance else None
        if stamp >= last.stamp:
            return last if stamp - last.stamp <= tolerance else None
        stamps = [state.stamp for state in self._states]
        upper = int(np.searchsorted(stamps, stamp))
        before, after = self._states[upper - 1], self._states[upper]
        span = after.stamp - before.stamp
        w = (stamp - before.stamp) / span if span > 0.0 else 0.0
        return EgoState(
            stamp=stamp,
            x=before.x + w * (after.x - before.x),
            y=before.y + w * (after.y - before.y),
            yaw=float(wrap_angle(before.yaw + w * wrap_angle(after.yaw - before.yaw))),
            speed=before.speed + w * (after.speed - before.speed))
