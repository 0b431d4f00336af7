"""Rule-based control: trajectory tracking, minimum-risk stops and the route-following plan.

ROS-free. ``Tracker`` turns the selected ``Trajectory`` and the latest ``EgoState`` into a
``Command`` once per control tick:
- lateral: pure pursuit. The target is where the path, ahead of the car's projection on
  it, leaves a circle of radius lookahead = clamp(speed * lookahead_time, min, max) around
  the rear axle; the arc through it gives curvature 2 * y / d^2 and the front-wheel angle
  atan(wheelbase * curvature). Past the path's end the path is extended along its last
  heading. Using the Euclidean lookahead (not arc length) keeps the steady-state error on
  a circle near zero.
- longitudinal: the trajectory's speed and acceleration at the current time, acceleration
  = feed-forward + PID on the speed error (integral clamped against wind-up).
- every output is saturated to the vehicle limits: steering angle and rate, acceleration
  and deceleration, jerk (as a rate limit on the acceleration command).
``Tracker.stop`` is the open-loop minimum-risk stop: any positive acceleration is dropped
at once, then the command ramps to -deceleration at the jerk limit; steering keeps pursuing
the last path while odometry is there and holds otherwise.
``route_trajectory`` makes the fallback's own trajectory from the route: the route ahead of
the car with a speed profile capped by the fallback cap and by the lateral-acceleration
limit in curves, reached from a higher current speed at the comfortable deceleration, and
braking to zero at the route's end.
The pose is base_link, assumed on the rear axle (REP 105 car convention, pure pursuit's
reference point).
"""

from dataclasses import dataclass
import math
from typing import Optional, Tuple, Union

import numpy as np

from autovla_safety.config import ControllerConfig, FallbackConfig, VehicleLimits
from autovla_safety.trajectory import EgoState, project_on_polyline, Trajectory, wrap_angle

# Below this speed (m/s) the car counts as stopped: a stop holds the brake instead of
# asking for more deceleration, and pursuit uses the minimum lookahead.
STANDSTILL_SPEED = 0.1
# Spacing (m) of the route-following trajectory's points.
ROUTE_SAMPLE_SPACING = 1.0


@dataclass(frozen=True)
class Command:
    """One drive-by-wire command (ROS-free twin of DriveCommand's control fields)."""

    steering_angle: float
    steering_rate: float
    speed: float
    acceleration: float
    jerk: float


class Tracker:
    """Pure pursuit + speed PID with feed-forward; keeps the state between ticks."""

    def __init__(self, vehicle: VehicleLimits, cfg: ControllerConfig):
        self.vehicle = vehicle
        self.cfg = cfg
        self.steering = 0.0
        self.acceleration = 0.0
        self._integral = 0.0
        self._previous_error: Optional[float] = None

    def reset_speed_control(self) -> None:
        """Forget the PID state (when the tracked trajectory changes source)."""
        self._integral = 0.0
        self._previous_error = None

    def track(self, trajectory: Trajectory, ego: EgoState, now: float, dt: float) -> Command:
        """Follow ``trajectory`` from ``ego`` for one tick of ``dt`` seconds."""
        steering = self._steer(self.pursuit_angle(trajectory, ego), dt)
        v_ref, a_ref = trajectory.at_time(now)
        if v_ref > self.vehicle.speed_limit:
            v_ref, a_ref = self.vehicle.speed_limit, min(a_ref, 0.0)
        v_ref = max(v_ref, 0.0)
        error = v_ref - ego.speed
        self._integral = float(np.clip(self._integral + error * dt, -self.cfg.integral_limit,
                                       self.cfg.integral_limit))
        derivative = 0.0 if self._previous_error is None else (error - self._previous_error) / dt
        self._previous_error = error
        accel = (a_ref + self.cfg.speed_kp * error + self.cfg.speed_ki * self._integral
                 + self.cfg.speed_kd * derivative)
        if v_ref < STANDSTILL_SPEED and ego.speed < STANDSTILL_SPEED:
            accel = min(accel, 0.0)  # asked to stand still: never creep
        accel = self._ramp(float(np.clip(accel, -self.vehicle.max_deceleration,
                                         self.vehicle.max_acceleration)),
                           self.vehicle.max_jerk, dt)
        return Command(steering, self.vehicle.max_steering_rate, v_ref, accel,
                       self.vehicle.max_jerk)

    def stop(self, deceleration: float, jerk: float, dt: float,
             ego: Optional[EgoState], path: Optional[Trajectory]) -> Command:
        """Jerk-limited open-loop stop at ``deceleration`` (positive) for one tick."""
        if ego is not None and path is not None:
            steering = self._steer(self.pursuit_angle(path, ego), dt)
        else:
            steering = self.steering  # no feedback: hold the wheel where it is
        self.reset_speed_control()
        # Cutting the throttle is always safe: only the braking is jerk-limited.
        self.acceleration = min(self.acceleration, 0.0)
        accel = self._ramp(-deceleration, jerk, dt)
        return Command(steering, self.vehicle.max_steering_rate, 0.0, accel, jerk)

    def pursuit_angle(self, trajectory: Trajectory, ego: EgoState) -> float:
        """Front-wheel angle of the pure-pursuit arc to the lookahead target (unsaturated)."""
        lookahead = float(np.clip(abs(ego.speed) * self.cfg.lookahead_time,
                                  self.cfg.lookahead_min, self.cfg.lookahead_max))
        tx, ty = lookahead_target(trajectory, ego.x, ego.y, lookahead)
        dx, dy = tx - ego.x, ty - ego.y
        cos, sin = math.cos(ego.yaw), math.sin(ego.yaw)
        forward, left = cos * dx + sin * dy, -sin * dx + cos * dy
        distance2 = forward * forward + left * left
        if distance2 < 1e-6:
            return self.steering
        return math.atan(self.vehicle.wheelbase * 2.0 * left / distance2)

    def _steer(self, angle: float, dt: float) -> float:
        limit = self.vehicle.max_steering_angle
        step = self.vehicle.max_steering_rate * dt
        angle = float(np.clip(angle, -limit, limit))
        self.steering = float(np.clip(angle, self.steering - step, self.steering + step))
        return self.steering

    def _ramp(self, target: float, jerk: float, dt: float) -> float:
        step = jerk * dt
        self.acceleration = float(np.clip(target, self.acceleration - step,
                                          self.acceleration + step))
        return self.acceleration


def lookahead_target(trajectory: Trajectory, px: float, py: float,
                     lookahead: float) -> Tuple[float, float]:
    """First point ahead of the projection of (px, py) at distance ``lookahead`` from it.

    Walks the segments from the projection onward and solves the circle crossing in the
    first segment whose end is at least ``lookahead`` away; past the last point the path
    continues straight along the last heading.
    """
    xs, ys = trajectory.x, trajectory.y
    index, frac, _ = project_on_polyline(xs, ys, px, py)
    start = np.array([xs[index] + frac * (xs[min(index + 1, len(xs) - 1)] - xs[index]),
                      ys[index] + frac * (ys[min(index + 1, len(ys) - 1)] - ys[index])])
    here = np.array([px, py])
    for end_index in range(index + 1, len(xs)):
        end = np.array([xs[end_index], ys[end_index]])
        if np.linalg.norm(end - here) >= lookahead:
            return _circle_crossing(start, end, here, lookahead)
        start = end
    heading = trajectory.yaw[-1]
    far = start + (lookahead + np.linalg.norm(start - here)) * np.array(
        [math.cos(heading), math.sin(heading)])
    return _circle_crossing(start, far, here, lookahead)


def _circle_crossing(start: np.ndarray, end: np.ndarray, center: np.ndarray,
                     radius: float) -> Tuple[float, float]:
    """Point of segment start->end at ``radius`` from ``center`` (end is outside the circle)."""
    direction = end - start
    a = float(direction @ direction)
    if a < 1e-12:
        return float(end[0]), float(end[1])
    offset = start - center
    b = 2.0 * float(direction @ offset)
    c = float(offset @ offset) - radius * radius
    root = (-b + math.sqrt(max(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)
    point = start + float(np.clip(root, 0.0, 1.0)) * direction
    return float(point[0]), float(point[1])


def route_trajectory(route: np.ndarray, ego: EgoState, now: float, vehicle: VehicleLimits,
                     cfg: FallbackConfig,
                     comfortable_deceleration: float) -> Union[Trajectory, str]:
    """Fallback trajectory along ``route`` ((N, 2) in odom) from the car's projection on it.

    Returns the trajectory, or a string saying why the fallback cannot run from here.
    """
    index, frac, distance = project_on_polyline(route[:, 0], route[:, 1], ego.x, ego.y)
    if distance > cfg.max_route_distance:
        return (f'ego is {distance:.1f} m from the route, limit '
                f'{cfg.max_route_distance} m')
    s_route = np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(route, axis=0).T))))
    s_ego = s_route[index] + frac * (s_route[min(index + 1, len(route) - 1)] - s_route[index])
    s_end = min(s_ego + cfg.horizon, s_route[-1])
    count = max(int(math.ceil((s_end - s_ego) / ROUTE_SAMPLE_SPACING)), 1) + 1
    samples = np.linspace(s_ego, s_end, count)
    x = np.interp(samples, s_route, route[:, 0])
    y = np.interp(samples, s_route, route[:, 1])
    # Heading of the route segment under each sample (well defined even at the very end).
    segment = np.clip(np.searchsorted(s_route, samples, side='right') - 1, 0, len(route) - 2)
    direction = route[segment + 1] - route[segment]
    yaw = np.unwrap(np.arctan2(direction[:, 1], direction[:, 0]))
    ds = np.maximum(np.diff(samples), 1e-6)
    curvature = np.abs(np.gradient(yaw, samples)) if count > 2 else np.zeros(count)
    cap = min(cfg.speed_cap, vehicle.speed_limit)
    lateral_limit = min(cfg.max_lateral_acceleration, vehicle.max_lateral_acceleration)
    v = np.minimum(cap, np.sqrt(lateral_limit / np.maximum(curvature, 1e-9)))
    # Faster than that now: slow down to it at the comfortable rate, not at once.
    v = np.maximum(v, np.sqrt(np.maximum(
        ego.speed ** 2 - 2.0 * comfortable_deceleration * (samples - s_ego), 0.0)))
    if s_end >= s_route[-1]:
        v[-1] = 0.0  # the route ends within the horizon: stop at its end
    for i in range(len(v) - 2, -1, -1):  # every slow-down reachable at the comfortable rate
        v[i] = min(v[i], math.sqrt(v[i + 1] ** 2 + 2.0 * comfortable_deceleration * ds[i]))
    a = np.append(np.diff(v ** 2) / (2.0 * ds), 0.0)
    t = now + np.concatenate(([0.0], np.cumsum(ds / np.maximum(0.5 * (v[1:] + v[:-1]), 0.1))))
    return Trajectory.from_arrays(ego.stamp, t, x, y, wrap_angle(yaw), v, a)
