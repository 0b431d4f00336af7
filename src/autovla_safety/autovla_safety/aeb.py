"""Autonomous emergency braking (AEB): an obstacle check the planner's model does not decide.

ROS-free. The same check as Autoware's autonomous_emergency_braking, in this project's terms:

1. Points: the newest obstacle cloud (from a lidar or radar driver, or the scenario
   generator), kept in the odometry frame so it stays where it was seen while the car moves
   between clouds. Points below ``min_height`` (ground) or above ``max_height`` (passing
   over the car) are dropped.
2. Paths: the ego footprint (``ego_length`` x ``ego_width`` plus ``lateral_margin`` a side,
   ``rear_overhang`` behind base_link) swept every ``path_step`` metres along (a) the path
   the node is about to track and (b) the ego's current motion: constant speed and yaw
   rate from odometry, the "IMU path" of Autoware. In the stops nothing is tracked and
   the current motion is checked as far as the stopping distance.
3. Obstacle motion: every cloud is clustered and each cluster tracked from the previous
   cloud (``obstacle_tracks``) for its velocity; an obstacle not tracked yet counts as
   standing. Along a path each footprint is tested at the time the ego reaches it
   (the path's own timing: the plan's times, or the current speed for the current motion)
   against the points moved by their velocity until then, unless the obstacle drives ahead
   along the path there (velocity within 45 degrees of the path's direction): that one is
   judged where it is, with the RSS credit below. Oncoming traffic (velocity within 30
   degrees of the opposite of the ego's path where the obstacle is, alongside the whole
   path the ego follows) keeps its offset from that path and comes down it at its speed:
   lanes run alongside the ego's, so a car on a curve stays in its curved lane even before
   it starts to turn. So a car crossing in front of the ego is where it will be when the
   ego gets there (gone), a pedestrian walking into the lane is in it, an oncoming car in
   the next lane passes and one in the ego's lane closes in.
4. Collision: the first footprint that holds a (moved) point; its arc length is the
   distance left; the speed along the path of an obstacle driving ahead is its speed
   (others count as standing there).
5. Imminent when the distance is shorter than the RSS stopping distance
   ``v * reaction_time + v^2 / (2 deceleration) - v_obstacle^2 / (2 obstacle_deceleration)
   + longitudinal_margin``. Then the node brakes at ``deceleration`` (an emergency stop)
   and keeps braking ``hold`` seconds after the last imminent collision, whatever the
   planner says. A plan whose own path is imminent at the speed it asks for is rejected.
6. The current motion and the tracked path: while the ego is within ``path_tolerance`` of
   the path it tracks, the controller keeps it on that path, and the path's own check
   covers where the car goes; the current motion is checked (``motion_horizon`` seconds
   ahead) only when the ego is off it. At a curve entry the straight current motion would
   otherwise run into the cars parked along the curve.
Paths are only swept as far as the stopping distance with a standing obstacle: nothing
farther can be imminent, which keeps the check short (milliseconds) at control rate.
"""

from dataclasses import dataclass
import math
from typing import Optional, Tuple

import numpy as np

from autovla_safety.config import AebConfig
from autovla_safety.obstacle_tracks import ObstacleTracker
from autovla_safety.trajectory import EgoState, project_on_polyline, Trajectory

# Footprints tested together: large enough for numpy to pay off, small enough that a dense
# lidar cloud times a chunk stays a few megabytes.
POSE_CHUNK = 32
# An obstacle whose velocity is within 45 degrees of the path's direction drives ahead of
# the ego along it; any other moving obstacle crosses the path or comes towards the ego.
FOLLOWING_COS = math.cos(math.radians(45.0))
# Spacing (m) of the path vertices oncoming points are measured against.
LANE_STEP = 1.0
# Traffic within this angle of the opposite of the ego's path where it is drives in a lane
# alongside and keeps to it (wider angles: a junction's crossing traffic).
ONCOMING_COS = math.cos(math.radians(30.0))


@dataclass(frozen=True)
class Collision:
    """The first obstacle point a swept footprint meets, and whether braking is due."""

    path: str                 # 'motion' or 'tracked path' / 'plan'
    distance: float           # m the ego travels along the path before touching it
    speed: float              # ego speed assumed (m/s)
    obstacle_speed: float     # along the path, >= 0 (m/s)
    stopping_distance: float  # RSS distance needed (m)

    @property
    def imminent(self) -> bool:
        """Whether the ego cannot stop short of the obstacle unless it brakes now."""
        return self.distance < self.stopping_distance

    @property
    def time_to_collision(self) -> float:
        """Seconds until contact at the current speeds (inf when not closing in)."""
        closing = self.speed - self.obstacle_speed
        return self.distance / closing if closing > 1e-3 else math.inf

    def describe(self) -> str:
        """One line for logs and the fault reason."""
        return (f'{self.path}: obstacle {self.distance:.1f} m ahead (moving '
                f'{self.obstacle_speed:.1f} m/s), stopping from {self.speed:.1f} m/s needs '
                f'{self.stopping_distance:.1f} m, time to collision '
                f'{self.time_to_collision:.1f} s')


def displacement(vx, vy, yaw_rate, dt) -> Tuple[np.ndarray, np.ndarray]:
    """Way (x, y) covered in ``dt`` at constant speed and yaw rate from velocity (vx, vy)."""
    turn = yaw_rate * dt
    straight = np.abs(yaw_rate) < 1e-4
    rate = np.where(straight, 1.0, yaw_rate)
    sin_t, one_minus_cos = np.sin(turn), 1.0 - np.cos(turn)
    # Rotation of (sin turn, 1 - cos turn) / rate by the heading; dt * velocity when straight.
    x = np.where(straight, vx * dt, (vx * sin_t - vy * one_minus_cos) / rate)
    y = np.where(straight, vy * dt, (vy * sin_t + vx * one_minus_cos) / rate)
    return x, y


def following(along, speed):
    """Whether an obstacle moving at ``speed``, ``along`` of it on the path, drives ahead.

    Ahead along the path: its velocity within 45 degrees of the path's direction (step 3).
    """
    return np.asarray(along) > FOLLOWING_COS * np.asarray(speed)


def stopping_distance(cfg: AebConfig, speed: float, obstacle_speed: float = 0.0) -> float:
    """RSS longitudinal distance (m) to stop behind an obstacle that brakes too."""
    speed = max(speed, 0.0)
    return (speed * cfg.reaction_time + speed * speed / (2.0 * cfg.deceleration)
            - obstacle_speed ** 2 / (2.0 * cfg.obstacle_deceleration) + cfg.longitudinal_margin)


def motion_path(speed: float, yaw_rate: float, length: float, step: float) -> np.ndarray:
    """(M, 4) poses x, y, yaw, s in base_link along the arc of constant speed and yaw rate."""
    s = np.arange(0.0, length + step, step)
    curvature = yaw_rate / speed if abs(speed) > 1e-3 else 0.0
    yaw = curvature * s
    if abs(curvature) < 1e-6:
        x, y = s, np.zeros_like(s)
    else:
        x, y = np.sin(yaw) / curvature, (1.0 - np.cos(yaw)) / curvature
    return np.column_stack([x, y, yaw, s])


def arc_length_at(trajectory: Trajectory, ego: EgoState) -> Tuple[float, float]:
    """(arc length, distance) of the ego's projection on ``trajectory``."""
    index, fraction, distance = project_on_polyline(trajectory.x, trajectory.y, ego.x, ego.y)
    next_s = trajectory.s[min(index + 1, len(trajectory.s) - 1)]
    return trajectory.s[index] + fraction * (next_s - trajectory.s[index]), distance


def trajectory_path(trajectory: Trajectory, ego: EgoState, length: float,
                    step: float) -> Tuple[np.ndarray, np.ndarray, float]:
    """Poses (M, 4) in base_link from the ego's projection onwards, times and top speed.

    The times are the seconds until the ego reaches each pose (the trajectory's own
    timing); the top speed is the fastest the trajectory asks for on them. The path ends
    where the trajectory ends or after ``length`` metres.
    """
    start = arc_length_at(trajectory, ego)[0]
    end = min(float(trajectory.s[-1]), start + length)
    s = np.append(np.arange(start, end, step), end)
    x, y = np.interp(s, trajectory.s, trajectory.x), np.interp(s, trajectory.s, trajectory.y)
    if len(s) > 1:
        heading = np.unwrap(np.arctan2(np.gradient(y), np.gradient(x)))
        heading[np.hypot(np.gradient(x), np.gradient(y)) < 1e-6] = ego.yaw
    else:
        heading = np.array([ego.yaw])
    cos, sin = math.cos(ego.yaw), math.sin(ego.yaw)
    dx, dy = x - ego.x, y - ego.y
    poses = np.column_stack([cos * dx + sin * dy, -sin * dx + cos * dy, heading - ego.yaw,
                             s - start])
    top_speed = float(np.max(np.interp(s, trajectory.s, trajectory.v)))
    reached = np.interp(s, trajectory.s, trajectory.t)
    return poses, np.maximum(reached - reached[0], 0.0), top_speed


def oncoming(along, speed):
    """Whether an obstacle moving at ``speed``, ``along`` of it on a lane, comes down it.

    Within 30 degrees (``ONCOMING_COS``) of the lane's opposite direction (step 3).
    """
    return np.asarray(along) < -ONCOMING_COS * np.asarray(speed)


def path_coordinates(poses: np.ndarray,
                     points: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(arc length, lateral offset, path heading, alongside) of ``points`` along ``poses``.

    Both in base_link: ``points`` (N, 2), ``poses`` (M, 4) as the paths are. Each point
    is measured in the frame of its nearest path vertex; ``alongside`` is False for points
    before the path's start or past its end (no lane is known there).
    """
    nearest = np.argmin(((points[:, None, :] - poses[None, :, :2]) ** 2).sum(axis=2), axis=1)
    x, y, yaw, arc = poses[nearest].T
    dx, dy = points[:, 0] - x, points[:, 1] - y
    cos, sin = np.cos(yaw), np.sin(yaw)
    along = cos * dx + sin * dy
    alongside = ~(((nearest == 0) & (along < 0.0))
                  | ((nearest == len(poses) - 1) & (along > 0.0)))
    return arc + along, cos * dy - sin * dx, yaw, alongside


def first_contact(poses: np.ndarray, points: np.ndarray, cfg: AebConfig,
                  motion: Optional[np.ndarray] = None,
                  times: Optional[np.ndarray] = None,
                  lane: Optional[np.ndarray] = None) -> Optional[Tuple[float, int]]:
    """(arc length, point index) of the first footprint along ``poses`` holding a point.

    ``points`` (N, 2) and ``poses`` are in base_link. With ``motion`` (N, 3: velocity in
    base_link and yaw rate) and ``times`` (M,: seconds until the ego reaches each pose),
    each footprint meets the points where their constant speed and turn rate take them by
    then, unless they drive ahead along the path at that pose or come down it (module
    docstring, step 3). Oncoming points keep their offset from ``lane`` (poses like
    ``poses``, as far as the ego's path is known; default ``poses``).
    Points that cannot come near the paths' bounding box (grown by the footprint's reach
    and their motion) are dropped first; the footprints are then tested ``POSE_CHUNK`` at
    a time, in path order, so memory stays bounded by the cloud size.
    """
    if not len(points) or not len(poses):
        return None
    front = cfg.ego_length - cfg.rear_overhang
    half_width = cfg.ego_width / 2.0 + cfg.lateral_margin
    moving = motion is not None and times is not None
    if not moving:
        motion, times = np.zeros((len(points), 3)), np.zeros(len(poses))
    reach = math.hypot(max(front, cfg.rear_overhang), half_width) + \
        np.linalg.norm(motion[:, :2], axis=1, keepdims=True) * float(np.max(times))
    low, high = poses[:, :2].min(axis=0), poses[:, :2].max(axis=0)
    candidates = np.flatnonzero(np.all((points >= low - reach) & (points <= high + reach),
                                       axis=1))
    if not len(candidates):
        return None
    px, py = points[candidates, 0, None], points[candidates, 1, None]
    vx, vy, turn = (motion[candidates, k, None] for k in range(3))
    speed = np.hypot(vx, vy)
    if moving:
        # Oncoming traffic: against the path's direction where the obstacle is. It keeps its
        # offset from the path and comes down it at its speed. (Standing points: no lane.)
        lane_s, lane_offset = np.zeros_like(speed), np.zeros_like(speed)
        towards = np.zeros(speed.shape, dtype=bool)
        movers = np.flatnonzero(speed[:, 0] > 0.0)
        if len(movers):
            lane_s[movers, 0], lane_offset[movers, 0], heading, alongside = path_coordinates(
                poses if lane is None else lane, points[candidates[movers]])
            towards[movers, 0] = alongside & oncoming(
                vx[movers, 0] * np.cos(heading) + vy[movers, 0] * np.sin(heading),
                speed[movers, 0])
    for first in range(0, len(poses), POSE_CHUNK):
        chunk = poses[first:first + POSE_CHUNK]
        cos, sin = np.cos(chunk[:, 2]), np.sin(chunk[:, 2])
        dx, dy = px - chunk[:, 0], py - chunk[:, 1]
        if moving:
            along_velocity = vx * cos + vy * sin
            crossing = ~following(along_velocity, speed)
            shift_x, shift_y = displacement(vx, vy, turn, times[first:first + POSE_CHUNK])
            dx = dx + np.where(crossing, shift_x, 0.0)
            dy = dy + np.where(crossing, shift_y, 0.0)
        along = cos * dx + sin * dy
        inside = ((along >= -cfg.rear_overhang) & (along <= front)
                  & (np.abs(cos * dy - sin * dx) <= half_width))
        if moving:
            lane_along = lane_s - speed * times[first:first + POSE_CHUNK] - chunk[:, 3]
            along = np.where(towards, lane_along, along)
            inside = np.where(towards, (lane_along >= -cfg.rear_overhang)
                              & (lane_along <= front) & (np.abs(lane_offset) <= half_width),
                              inside)
        hits = np.flatnonzero(inside.any(axis=0))
        if len(hits):
            pose = int(hits[0])
            # Of the points inside, the one farthest back along the path touches first.
            held = np.flatnonzero(inside[:, pose])
            point = held[np.argmin(along[held, pose])]
            return float(chunk[pose, 3]), int(candidates[point])
    return None


class ObstacleMonitor:
    """The latest cloud, the obstacle speed estimate and the brake hold; one per node."""

    def __init__(self, cfg: AebConfig):
        self.cfg = cfg
        self.cloud_stamp: Optional[float] = None
        self._points = np.zeros((0, 2))            # odometry frame
        self._motion = np.zeros((0, 3))            # per point: vx, vy (odom), yaw rate
        self._tracker = ObstacleTracker(cfg.cluster_distance, cfg.max_obstacle_speed)
        self._brake_until = -math.inf
        self.reason = ''
        self.activations = 0

    def on_cloud(self, stamp: float, xyz: np.ndarray, pose: Optional[EgoState]) -> int:
        """Store a validated cloud; return how many points were kept.

        ``xyz`` is in base_link with the ego ``pose`` at the cloud's stamp, or already in
        the odometry frame when ``pose`` is None.
        """
        keep = (xyz[:, 2] >= self.cfg.min_height) & (xyz[:, 2] <= self.cfg.max_height)
        xy = xyz[keep, :2]
        if pose is not None:
            cos, sin = math.cos(pose.yaw), math.sin(pose.yaw)
            xy = np.column_stack([pose.x + cos * xy[:, 0] - sin * xy[:, 1],
                                  pose.y + sin * xy[:, 0] + cos * xy[:, 1]])
        self._motion = self._tracker.update(stamp, xy)
        self._points, self.cloud_stamp = xy, stamp
        return len(xy)

    def forget(self) -> None:
        """Drop every cloud (the clock jumped: they belong to another timeline)."""
        self.__init__(self.cfg)

    def fresh(self, now: float) -> bool:
        """Whether the newest cloud is recent enough to judge by."""
        return (self.cloud_stamp is not None
                and -self.cfg.cloud_timeout <= now - self.cloud_stamp <= self.cfg.cloud_timeout)

    def braking(self, now: float) -> bool:
        """Whether an imminent collision (or its hold) asks for the AEB brake now."""
        return now <= self._brake_until

    def _relative(self, ego: EgoState) -> Tuple[np.ndarray, np.ndarray]:
        """Points where they are at ``ego.stamp`` and their motion (vx, vy, yaw rate).

        Both in base_link at ``ego``.
        """
        cos, sin = math.cos(ego.yaw), math.sin(ego.yaw)
        age = max(0.0, ego.stamp - self.cloud_stamp) if self.cloud_stamp is not None else 0.0
        moved = self._points + self._motion[:, :2] * age
        dx, dy = moved[:, 0] - ego.x, moved[:, 1] - ego.y
        vx, vy = self._motion[:, 0], self._motion[:, 1]
        return (np.column_stack([cos * dx + sin * dy, -sin * dx + cos * dy]),
                np.column_stack([cos * vx + sin * vy, -sin * vx + cos * vy, self._motion[:, 2]]))

    def _check(self, name: str, poses: np.ndarray, times: np.ndarray, speed: float,
               ego: EgoState, lane: Optional[np.ndarray] = None) -> Optional[Collision]:
        points, motion = self._relative(ego)
        contact = first_contact(poses, points, self.cfg, motion, times, lane)
        if contact is None:
            return None
        distance, index = contact
        pose = poses[min(int(np.searchsorted(poses[:, 3], distance)), len(poses) - 1)]
        along = float(motion[index, 0] * math.cos(pose[2]) + motion[index, 1] * math.sin(pose[2]))
        obstacle_speed = along if following(along, np.linalg.norm(motion[index, :2])) else 0.0
        return Collision(name, distance, speed, obstacle_speed,
                         stopping_distance(self.cfg, speed, obstacle_speed))

    def check_motion(self, ego: EgoState, yaw_rate: float,
                     horizon: float = math.inf) -> Optional[Collision]:
        """First collision along the ego's current motion within ``horizon`` seconds.

        None below ``min_speed``. Beyond the stopping distance nothing is imminent, so the
        path never extends farther than that.
        """
        if ego.speed < self.cfg.min_speed:
            return None
        length = min(stopping_distance(self.cfg, ego.speed), ego.speed * horizon)
        poses = motion_path(ego.speed, yaw_rate, length, self.cfg.path_step)
        return self._check('current motion', poses, poses[:, 3] / ego.speed, ego.speed, ego)

    def check_trajectory(self, name: str, trajectory: Trajectory,
                         ego: EgoState) -> Optional[Collision]:
        """First collision along ``trajectory`` at the top speed it asks for (or the ego's)."""
        probe = max(ego.speed, float(np.max(trajectory.v)))
        poses, times, top_speed = trajectory_path(
            trajectory, ego, stopping_distance(self.cfg, probe) + self.cfg.path_step,
            self.cfg.path_step)
        speed = max(ego.speed, top_speed)
        if speed < self.cfg.min_speed:
            return None
        # The whole path, not only its stopping distance: the lane oncoming traffic keeps to.
        lane = trajectory_path(trajectory, ego, math.inf, LANE_STEP)[0] \
            if self._motion[:, :2].any() else None
        return self._check(name, poses, times, speed, ego, lane)

    def on_path(self, trajectory: Trajectory, ego: EgoState) -> bool:
        """Whether the ego is within ``path_tolerance`` of ``trajectory`` (step 6)."""
        return arc_length_at(trajectory, ego)[1] <= self.cfg.path_tolerance

    def step(self, now: float, ego: Optional[EgoState], yaw_rate: float,
             tracked: Optional[Trajectory]) -> Optional[Collision]:
        """Check both paths at control rate; an imminent collision starts or extends the hold.

        Returns the imminent collision found this tick (None if none or no fresh cloud).
        """
        if ego is None or not self.fresh(now):
            return None
        if tracked is None:
            checks = (self.check_motion(ego, yaw_rate),)
        elif self.on_path(tracked, ego):
            checks = (self.check_trajectory('tracked path', tracked, ego),)
        else:
            checks = (self.check_motion(ego, yaw_rate, self.cfg.motion_horizon),
                      self.check_trajectory('tracked path', tracked, ego))
        for collision in checks:
            if collision is not None and collision.imminent:
                self.activations += not self.braking(now)
                self._brake_until = now + self.cfg.hold
                self.reason = collision.describe()
                return collision
        return None


def yaw_rate(latest: EgoState, earlier: Optional[EgoState]) -> float:
    """Yaw rate (rad/s) between two odometry poses (0 without a usable earlier one)."""
    if earlier is None or latest.stamp - earlier.stamp <= 1e-3:
        return 0.0
    change = math.atan2(math.sin(latest.yaw - earlier.yaw), math.cos(latest.yaw - earlier.yaw))
    return change / (latest.stamp - earlier.stamp)
