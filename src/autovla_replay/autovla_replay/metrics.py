"""Open-loop planning metrics (ROS-free): L2, collisions, comfort, modes, safety time, latency.

Two conventions are in use for "L2 / collision at t seconds" (waypoints every 0.5 s):
- ST-P3 (also VAD, AutoVLA tables "avg"): the mean over the waypoints up to t,
- UniAD: the value at the waypoint at t.
Both are reported side by side as ``l2_stp3`` / ``l2_uniad`` and ``collision_stp3`` /
``collision_uniad``, averaged over the scored frames.
"""

from dataclasses import dataclass
import math
from typing import Dict, List, Optional, Sequence, Tuple

from autovla_scenarios.geometry import box_corners, rectangles_overlap
from autovla_scenarios.world import EGO_LENGTH_M, EGO_WIDTH_M
import numpy as np

HORIZONS_S = (1.0, 2.0, 3.0)
COMFORT_JERK_LIMIT = 4.0    # m/s^3, nuPlan's comfort bound on longitudinal jerk


def per_step_l2(plan_xy: np.ndarray, expert_xy: np.ndarray) -> np.ndarray:
    """Euclidean distance per waypoint of two (N, 2) trajectories (m)."""
    return np.linalg.norm(np.asarray(plan_xy, float) - np.asarray(expert_xy, float), axis=1)


def at_horizons(per_step: np.ndarray, step_dt: float, convention: str,
                horizons: Sequence[float] = HORIZONS_S) -> Dict[str, float]:
    """Average (F, N) per-step values over frames at each horizon in ``convention``.

    ``stp3``: mean over steps 1..k with k = t / step_dt; ``uniad``: the value at step k.
    Frames whose row is NaN at a needed step are left out of that horizon.
    """
    values = np.atleast_2d(np.asarray(per_step, dtype=float))
    result = {}
    for horizon in horizons:
        k = int(round(horizon / step_dt))
        if k < 1 or k > values.shape[1]:
            result[f'{horizon:g}s'] = math.nan
            continue
        if convention == 'stp3':
            per_frame = values[:, :k].mean(axis=1)
        elif convention == 'uniad':
            per_frame = values[:, k - 1]
        else:
            raise ValueError(f'unknown convention {convention!r} (stp3 or uniad)')
        per_frame = per_frame[np.isfinite(per_frame)]
        result[f'{horizon:g}s'] = float(per_frame.mean()) if len(per_frame) else math.nan
    result['avg'] = float(np.nanmean([result[f'{h:g}s'] for h in horizons])) \
        if any(np.isfinite(result[f'{h:g}s']) for h in horizons) else math.nan
    return result


def ego_collisions(plan_world: np.ndarray, agent_boxes: Sequence[Sequence[Tuple[float, ...]]],
                   ego_width: float = EGO_WIDTH_M, ego_length: float = EGO_LENGTH_M
                   ) -> np.ndarray:
    """1.0 per waypoint where the ego box overlaps any agent box at that waypoint's time.

    ``plan_world``: (N, 3) x, y, yaw of the ego box centre; ``agent_boxes[i]``: boxes
    (x, y, yaw, length, width) at waypoint i's time. NaN where the plan has no pose.
    """
    hits = np.full(len(plan_world), math.nan)
    for i, (x, y, yaw) in enumerate(plan_world):
        if not np.isfinite([x, y, yaw]).all():
            continue
        ego = box_corners(x, y, yaw, ego_length, ego_width)
        hits[i] = float(any(rectangles_overlap(ego, box_corners(*box))
                            for box in agent_boxes[i]))
    return hits


def headings_from_positions(xy: np.ndarray, start_yaw: float = 0.0) -> np.ndarray:
    """Heading of each waypoint from the segment that reaches it (first from the origin)."""
    points = np.vstack([[0.0, 0.0], np.asarray(xy, float)])
    delta = np.diff(points, axis=0)
    yaw = np.arctan2(delta[:, 1], delta[:, 0])
    moving = np.hypot(delta[:, 0], delta[:, 1]) > 0.05
    last = start_yaw
    for i in range(len(yaw)):
        last = yaw[i] = yaw[i] if moving[i] else last
    return yaw


def max_jerk(xy: np.ndarray, step_dt: float, start_speed: Optional[float] = None) -> float:
    """Largest |jerk| (m/s^3) along a waypoint trajectory starting at the origin.

    Speeds are finite differences of consecutive waypoints; with ``start_speed`` the
    current speed is the first sample. Jerk is the third difference of position (second of
    speed), so at least three speed samples are needed (NaN otherwise).
    """
    points = np.vstack([[0.0, 0.0], np.asarray(xy, float)])
    speed = np.linalg.norm(np.diff(points, axis=0), axis=1) / step_dt
    if start_speed is not None:
        speed = np.concatenate([[start_speed], speed])
    if len(speed) < 3:
        return math.nan
    jerk = np.diff(speed, n=2) / step_dt ** 2
    return float(np.max(np.abs(jerk)))


def max_lateral_acceleration(poses: np.ndarray, step_dt: float) -> float:
    """Largest |speed * yaw rate| (m/s^2) along (N, 3) x, y, yaw poses from the origin."""
    poses = np.vstack([[0.0, 0.0, 0.0], np.asarray(poses, float).reshape(-1, 3)])
    if len(poses) < 3:
        return math.nan
    speed = np.linalg.norm(np.diff(poses[:, :2], axis=0), axis=1) / step_dt
    yaw_rate = np.diff(np.unwrap(poses[:, 2])) / step_dt
    return float(np.max(np.abs(speed * yaw_rate)))


def progress_ratio(plan_xy: np.ndarray, expert_xy: np.ndarray) -> float:
    """Path length of the plan over that of the expert for the same time (NaN if at rest)."""
    def length(xy):
        points = np.vstack([[0.0, 0.0], np.asarray(xy, float).reshape(-1, 2)])
        return float(np.sum(np.linalg.norm(np.diff(points, axis=0), axis=1)))
    expert = length(expert_xy)
    return length(plan_xy) / expert if expert > 0.5 else math.nan


def percentiles(values: Sequence[float], quantiles=(50, 90, 99)) -> Dict[str, float]:
    """p50/p90/p99 and max of finite ``values`` (NaN when there are none)."""
    finite = np.asarray([v for v in values if v is not None and math.isfinite(v)], float)
    if not len(finite):
        return {**{f'p{q}': math.nan for q in quantiles}, 'max': math.nan, 'count': 0}
    return {**{f'p{q}': float(np.percentile(finite, q)) for q in quantiles},
            'max': float(finite.max()), 'count': int(len(finite))}


def time_in_modes(statuses: Sequence[Tuple[int, str]]) -> Dict[str, float]:
    """Seconds per safety mode from (stamp_ns, mode_name) samples in time order.

    Each sample's mode holds until the next sample; the last sample adds nothing.
    """
    seconds: Dict[str, float] = {}
    for (stamp, mode), (next_stamp, _) in zip(statuses, statuses[1:]):
        seconds[mode] = seconds.get(mode, 0.0) + max(0, next_stamp - stamp) / 1e9
    for _, mode in statuses:
        seconds.setdefault(mode, 0.0)
    return seconds


@dataclass(frozen=True)
class ModeCounts:
    """How many plans answered fast, how many reasoned slowly."""

    fast: int
    slow: int

    def as_dict(self) -> Dict[str, float]:
        """Return counts, shares and the fast/slow ratio (inf when no slow plan)."""
        total = self.fast + self.slow
        return {'fast': self.fast, 'slow': self.slow,
                'fast_share': self.fast / total if total else math.nan,
                'fast_slow_ratio': self.fast / self.slow if self.slow else
                (math.inf if self.fast else math.nan)}


def share(flags: Sequence[bool]) -> float:
    """Fraction of true flags (NaN for none)."""
    return float(np.mean(flags)) if len(flags) else math.nan


def summarize_scores(l2_rows: List[np.ndarray], collision_rows: List[np.ndarray],
                     step_dt: float) -> Dict[str, Dict[str, float]]:
    """L2 and collision tables in both conventions from per-frame per-step rows."""
    tables = {}
    for name, rows, scale in (('l2', l2_rows, 1.0), ('collision', collision_rows, 100.0)):
        if not rows:
            continue
        width = max(len(r) for r in rows)
        matrix = np.full((len(rows), width), math.nan)
        for i, row in enumerate(rows):
            matrix[i, :len(row)] = row
        for convention in ('stp3', 'uniad'):
            table = at_horizons(matrix, step_dt, convention)
            tables[f'{name}_{convention}'] = {k: v * scale for k, v in table.items()}
    return tables
