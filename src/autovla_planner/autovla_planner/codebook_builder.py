"""Build an action codebook by K-disk clustering of 0.5 s motion segments.

Recipe (AutoVLA's, after SMART): cut driving trajectories into 0.5 s segments, describe each
by the corners of the 4.8 m x 2.0 m ego box at 6 sub-steps in the frame of the segment's start
pose, then pick tokens greedily: token 0 is the still segment; after that, in an order shuffled
by the seed, every segment not yet within ``tolerance`` of a chosen token becomes a token and
covers all segments within ``tolerance`` of it. The distance between two segments is the mean
Euclidean distance of their 6 x 4 corresponding corners (the whole 0.5 s, not just its end).
Clustering stops at K tokens or when every segment is covered; it never pads, so a data set
with little variety gives fewer than K tokens (ids past the end decode as the still token).

Trajectories are (T, 3) arrays of poses x, y, yaw sampled every ``SUBSTEP_SECONDS`` (1/12 s),
so each segment is 7 consecutive poses; data at another rate is resampled first.
"""

import argparse
from dataclasses import dataclass
import math
from pathlib import Path
import pickle
import sys
import time
from typing import List, Sequence

import numpy as np

from autovla_planner.action_codebook import (
    ActionCodebook,
    box_corners,
    SEGMENT_SECONDS,
    wrap_angle,
)

SUBSTEPS = 6
SUBSTEP_SECONDS = SEGMENT_SECONDS / SUBSTEPS
HORIZON_TOKENS = 10  # the model plans 10 tokens = 5 s; round-trips are measured over that
WHEELBASE_M = 2.9
MAX_SPEED = 25.0
MIN_TURN_RADIUS_M = 6.0
LANE_WIDTH_M = 3.5


# ---------------------------------------------------------------- segments

def to_start_frame(poses: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Express poses (..., 3) in the frame of ``start`` (..., 3), broadcasting leading axes."""
    cos_yaw, sin_yaw = np.cos(start[..., 2]), np.sin(start[..., 2])
    dx, dy = poses[..., 0] - start[..., 0], poses[..., 1] - start[..., 1]
    return np.stack([cos_yaw * dx + sin_yaw * dy, -sin_yaw * dx + cos_yaw * dy,
                     wrap_angle(poses[..., 2] - start[..., 2])], axis=-1)


def poses_to_corners(poses: np.ndarray) -> np.ndarray:
    """Return the (..., 4, 2) box corners of poses (..., 3), in ``box_corners`` order."""
    template = box_corners(0.0, 0.0, 0.0)                          # (4, 2) at the origin
    cos_yaw, sin_yaw = np.cos(poses[..., 2])[..., None], np.sin(poses[..., 2])[..., None]
    x = cos_yaw * template[:, 0] - sin_yaw * template[:, 1] + poses[..., 0:1]
    y = sin_yaw * template[:, 0] + cos_yaw * template[:, 1] + poses[..., 1:2]
    return np.stack([x, y], axis=-1)


def extract_segments(trajectory: np.ndarray, stride: int = SUBSTEPS) -> np.ndarray:
    """Cut a (T, 3) trajectory sampled every SUBSTEP_SECONDS into (N, 6, 4, 2) segments.

    A segment starts every ``stride`` samples; its 6 sub-step boxes are in its start frame.
    """
    trajectory = np.asarray(trajectory, dtype=np.float64)
    starts = np.arange(0, len(trajectory) - SUBSTEPS, stride)
    if len(starts) == 0:
        return np.zeros((0, SUBSTEPS, 4, 2))
    windows = trajectory[starts[:, None] + np.arange(SUBSTEPS + 1)]    # (N, 7, 3)
    local = to_start_frame(windows[:, 1:], windows[:, :1])
    return poses_to_corners(local)


def still_segment() -> np.ndarray:
    """Return the (6, 4, 2) segment of a car that does not move (token 0)."""
    return np.broadcast_to(box_corners(0.0, 0.0, 0.0), (SUBSTEPS, 4, 2)).copy()


def resample(trajectory: np.ndarray, dt: float) -> np.ndarray:
    """Linearly resample a (T, 3) trajectory sampled every ``dt`` s to SUBSTEP_SECONDS."""
    trajectory = np.asarray(trajectory, dtype=np.float64)
    if math.isclose(dt, SUBSTEP_SECONDS, rel_tol=1e-9):
        return trajectory
    times = np.arange(len(trajectory)) * dt
    new_times = np.arange(0.0, times[-1] + 1e-9, SUBSTEP_SECONDS)
    yaw = np.unwrap(trajectory[:, 2])
    return np.column_stack([np.interp(new_times, times, trajectory[:, 0]),
                            np.interp(new_times, times, trajectory[:, 1]),
                            wrap_angle(np.interp(new_times, times, yaw))])


def horizon_window(trajectory: np.ndarray) -> np.ndarray:
    """Return the first 5 s of a trajectory as 10 poses every 0.5 s in its start frame."""
    samples = trajectory[SUBSTEPS:SUBSTEPS * HORIZON_TOKENS + 1:SUBSTEPS]
    return to_start_frame(samples, trajectory[0])


# ---------------------------------------------------------------- clustering

@dataclass
class ClusterResult:
    """Tokens chosen by K-disk clustering and how much of the data they cover."""

    tokens: np.ndarray          # (K, 6, 4, 2); token 0 is the still segment
    covered: int                # segments within tolerance of some token
    segments: int               # segments clustered

    @property
    def coverage(self) -> float:
        """Fraction of segments within tolerance of some token."""
        return self.covered / self.segments if self.segments else 1.0


def mean_corner_distance(segments: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Mean distance over the corresponding 6 x 4 corners of each of ``segments`` to one."""
    return np.linalg.norm(segments - segment, axis=-1).mean(axis=(-2, -1))


def k_disk_cluster(segments: np.ndarray, size: int, tolerance: float, seed: int,
                   progress=None) -> ClusterResult:
    """Pick up to ``size`` tokens from (N, 6, 4, 2) segments by greedy K-disk clustering.

    Only segments whose mean corner x is within ``tolerance`` of a token's can be within
    ``tolerance`` of it (the mean of distances bounds the distance of the means), so each
    token is compared with that slice of the x-sorted segments only; the result is the same
    as comparing it with every segment.
    """
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, SUBSTEPS, 4, 2)
    count = len(segments)
    key = segments[..., 0].mean(axis=(1, 2))
    by_key = np.argsort(key, kind='stable')
    sorted_key = key[by_key]
    covered = np.zeros(count, dtype=bool)

    def cover(token: np.ndarray) -> None:
        token_key = token[..., 0].mean()
        low = np.searchsorted(sorted_key, token_key - tolerance, side='left')
        high = np.searchsorted(sorted_key, token_key + tolerance, side='right')
        candidates = by_key[low:high]
        candidates = candidates[~covered[candidates]]
        near = mean_corner_distance(segments[candidates], token) <= tolerance
        covered[candidates[near]] = True

    tokens = [still_segment()]
    cover(tokens[0])
    for index in np.random.default_rng(seed).permutation(count):
        if len(tokens) >= size:
            break
        if covered[index]:
            continue
        tokens.append(segments[index])
        cover(segments[index])
        if progress and len(tokens) % 256 == 0:
            progress(len(tokens), int(covered.sum()), count)
    return ClusterResult(np.stack(tokens), int(covered.sum()), count)


# ---------------------------------------------------------------- synthetic driving

def synthetic_trajectories(count: int, seed: int, seconds: float = 8.0) -> np.ndarray:
    """Roll out ``count`` kinematic-bicycle drives; return (count, T, 3) poses from the origin.

    Speed 0..25 m/s; acceleration and curvature follow random manoeuvres of 1-4 s each
    (cruise, speed up, brake to a stop, start from rest; lane keeping, curves, turns down to
    a 6 m radius, lane changes), bounded by a per-drive lateral acceleration limit of
    2-4.5 m/s^2. Acceleration responds with a 0.4 s lag (jerk) and curvature at a steering
    rate limit, so the motion is smooth like real driving.
    """
    rng = np.random.default_rng(seed)
    steps = int(round(seconds / SUBSTEP_SECONDS))
    dt = SUBSTEP_SECONDS
    start_kind = rng.random(count)
    speed = np.where(start_kind < 0.15, 0.0,
                     np.where(start_kind < 0.4, rng.uniform(0, 5, count),
                              rng.uniform(0, MAX_SPEED, count)))
    lateral_limit = rng.uniform(2.0, 4.5, count)
    accel = np.zeros(count)
    curvature = np.zeros(count)
    accel_target = np.zeros(count)
    curve_target = np.zeros(count)
    accel_left = np.zeros(count, dtype=int)   # steps until a new longitudinal manoeuvre
    curve_left = np.zeros(count, dtype=int)   # steps until a new lateral manoeuvre
    lane_change_flip = np.full(count, -1)     # step count at which a lane change reverses
    poses = np.zeros((count, steps + 1, 3))
    initial_curve = rng.normal(0.0, 0.01, count)
    curvature[:] = np.clip(initial_curve, -1 / MIN_TURN_RADIUS_M, 1 / MIN_TURN_RADIUS_M)

    for step in range(steps):
        redraw = accel_left <= 0
        n = int(redraw.sum())
        if n:
            kind = rng.random(n)
            accel_target[redraw] = np.select(
                [kind < 0.4, kind < 0.65, kind < 0.9],
                [rng.normal(0.0, 0.2, n), rng.uniform(0.3, 3.0, n), rng.uniform(-4.0, -0.5, n)],
                0.0)                                   # else: coast
            accel_left[redraw] = rng.integers(int(1 / dt), int(4 / dt), n)
        redraw = curve_left <= 0
        n = int(redraw.sum())
        if n:
            kind = rng.random(n)
            sign = rng.choice([-1.0, 1.0], n)
            duration = rng.integers(int(1 / dt), int(4 / dt), n)
            # Lane change: +k then -k over the manoeuvre; k gives one lane width of offset.
            travel = np.maximum(speed[redraw], 1.0) * duration * dt
            curve_target[redraw] = sign * np.select(
                [kind < 0.45, kind < 0.65, kind < 0.85],
                [np.abs(rng.normal(0.0, 0.003, n)), rng.uniform(0.0, 0.02, n),
                 rng.uniform(0.02, 1 / MIN_TURN_RADIUS_M, n)],
                LANE_WIDTH_M / (travel / 2) ** 2)
            lane_change_flip[redraw] = np.where(kind >= 0.85, duration // 2, -1)
            curve_left[redraw] = duration
        flip = curve_left == lane_change_flip
        curve_target[flip] *= -1.0

        accel += (accel_target - accel) * min(1.0, dt / 0.4)
        new_speed = np.clip(speed + accel * dt, 0.0, MAX_SPEED)
        accel = np.where((new_speed == 0.0) & (accel < 0), 0.0, accel)
        bound = np.minimum(1 / MIN_TURN_RADIUS_M, lateral_limit / np.maximum(new_speed, 1e-3) ** 2)
        wanted = np.clip(curve_target, -bound, bound)
        curvature += np.clip(wanted - curvature, -0.15 * dt, 0.15 * dt)
        curvature = np.clip(curvature, -bound, bound)

        distance = 0.5 * (speed + new_speed) * dt
        yaw = poses[:, step, 2]
        turn = curvature * distance
        poses[:, step + 1, 0] = poses[:, step, 0] + distance * np.cos(yaw + turn / 2)
        poses[:, step + 1, 1] = poses[:, step, 1] + distance * np.sin(yaw + turn / 2)
        poses[:, step + 1, 2] = yaw + turn
        speed = new_speed
        accel_left -= 1
        curve_left -= 1
    poses[..., 2] = wrap_angle(poses[..., 2])
    return poses


# ---------------------------------------------------------------- evaluation

def round_trip_errors(codebook: ActionCodebook, windows: np.ndarray) -> np.ndarray:
    """Return (W, 10) position errors of decode(encode(window)) for (W, 10, 3) windows."""
    errors = np.zeros(windows.shape[:2])
    for row, window in enumerate(windows):
        decoded = codebook.decode(codebook.encode(window))
        errors[row] = np.linalg.norm(decoded[:, :2] - window[:, :2], axis=1)
    return errors


# ---------------------------------------------------------------- command line

def load_trajectories(path: Path, dt: float) -> List[np.ndarray]:
    """Read every array of an .npz as one (T, 3) trajectory or a batch (M, T, 3); resample."""
    trajectories = []
    with np.load(path, allow_pickle=False) as archive:
        for name in archive.files:
            array = np.asarray(archive[name], dtype=np.float64)
            if array.ndim == 2:
                array = array[None]
            if array.ndim != 3 or array.shape[-1] != 3:
                raise ValueError(f'{path}: array {name!r} has shape {array.shape}, '
                                 'expected (T, 3) or (M, T, 3) poses x, y, yaw')
            if not np.all(np.isfinite(array)):
                raise ValueError(f'{path}: array {name!r} contains NaN or Inf')
            trajectories.extend(resample(trajectory, dt) for trajectory in array)
    if not trajectories:
        raise ValueError(f'{path}: no trajectories')
    return trajectories


def split_holdout(trajectories: Sequence[np.ndarray], fraction: float, seed: int):
    """Split whole trajectories into (clustering set, held-out set) by the seed."""
    order = np.random.default_rng(seed).permutation(len(trajectories))
    held = int(round(fraction * len(trajectories)))
    return ([trajectories[i] for i in order[held:]], [trajectories[i] for i in order[:held]])


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the ``build_codebook`` command line."""
    parser = argparse.ArgumentParser(
        prog='build_codebook', description=__doc__.split('\n\n')[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--trajectories', type=Path, metavar='FILE.npz',
                        help='every array is a (T, 3) or (M, T, 3) trajectory of poses x, y, '
                             'yaw (m, m, rad) in any fixed frame, sampled every --dt seconds')
    source.add_argument('--synthetic', type=int, metavar='N',
                        help='use N synthetic kinematic-bicycle drives of 8 s')
    parser.add_argument('--dt', type=float, default=0.1,
                        help='sample period of --trajectories in seconds (default 0.1)')
    parser.add_argument('--size', type=int, default=2048, help='tokens K (default 2048)')
    parser.add_argument('--tolerance', type=float, default=0.05,
                        help='K-disk radius: mean corner distance in m (default 0.05)')
    parser.add_argument('--seed', type=int, default=0, help='seed of data, order and split')
    parser.add_argument('--holdout', type=float, default=0.1,
                        help='fraction of trajectories kept out to measure round-trip ADE')
    parser.add_argument('--out', type=Path, required=True, metavar='PATH.npy')
    parser.add_argument('--out-pickle', type=Path, metavar='PATH.pkl',
                        help="also write the official layout {'token_all': {'veh': array}}")
    args = parser.parse_args(argv)
    if args.size < 1 or args.tolerance <= 0 or args.dt <= 0 or not 0 <= args.holdout < 1:
        parser.error('need --size >= 1, --tolerance > 0, --dt > 0 and 0 <= --holdout < 1')
    if args.synthetic is not None and args.synthetic < 1:
        parser.error('--synthetic needs N >= 1')
    return args


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    """Entry point of ``build_codebook``; print a one-line summary on stdout."""
    args = parse_args(argv)
    started = time.monotonic()
    if args.synthetic is not None:
        trajectories = list(synthetic_trajectories(args.synthetic, args.seed))
    else:
        try:
            trajectories = load_trajectories(args.trajectories, args.dt)
        except (OSError, ValueError) as error:
            _log(f'build_codebook: error: {error}')
            return 1
    clustered, held_out = split_holdout(trajectories, args.holdout, args.seed)
    segments = np.concatenate([extract_segments(t) for t in clustered])
    _log(f'{len(clustered)} trajectories -> {len(segments)} segments; '
         f'{len(held_out)} trajectories held out')

    def progress(tokens, covered, total):
        _log(f'  {tokens}/{args.size} tokens, {100 * covered / total:.1f} % of segments covered'
             f' ({time.monotonic() - started:.0f} s)')

    result = k_disk_cluster(segments, args.size, args.tolerance, args.seed, progress)
    if len(result.tokens) < args.size:
        _log(f'warning: the data yields only {len(result.tokens)} tokens (every segment is '
             f'covered); the codebook is smaller than --size {args.size}, not padded')
    codebook = ActionCodebook(result.tokens)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    codebook.save(args.out)
    if args.out_pickle:
        # We write this pickle ourselves; ActionCodebook.load reads it with the safe unpickler.
        with open(args.out_pickle, 'wb') as stream:
            pickle.dump({'token_all': {'veh': result.tokens.astype(np.float32)}}, stream)

    long_enough = [t for t in held_out if len(t) > SUBSTEPS * HORIZON_TOKENS]
    if long_enough:
        errors = round_trip_errors(codebook, np.stack([horizon_window(t) for t in long_enough]))
        ade = (f'round-trip ADE {errors.mean():.4f} m, FDE {errors[:, -1].mean():.4f} m '
               f'on {len(long_enough)} held-out 5 s windows')
    else:
        ade = 'round-trip ADE n/a (no held-out trajectory of 5 s)'
    print(f'codebook {args.out}: {len(result.tokens)} tokens, '
          f'{100 * result.coverage:.2f} % of {result.segments} segments within '
          f'{args.tolerance} m, {ade}, {time.monotonic() - started:.0f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
