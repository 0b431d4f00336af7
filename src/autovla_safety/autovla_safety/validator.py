"""Plan validator: named checks, each returning faults with the measured value and the limit.

ROS-free. ``validate_plan`` runs the structural checks first (frame, finite numbers, point
count, time); kinematic and context checks only run on a structurally sound plan, because
their arithmetic would be meaningless otherwise. Kinematic quantities are checked twice:
as the planner reported them (velocity, acceleration, curvature fields) and as derived
from the geometry and timing of the points, so a planner that fills a field wrongly cannot
hide an undrivable path.
"""

from dataclasses import dataclass
import math
from typing import List, Optional

import numpy as np

from autovla_safety.config import ValidatorConfig, VehicleLimits
from autovla_safety.trajectory import EgoState, Plan, plan_to_odom, project_on_polyline, wrap_angle

PLAN_FRAME = 'base_link'
# Derived curvature (heading change over distance) is only trusted on segments at least this
# long: on shorter ones the heading quantisation of the action tokens dominates.
MIN_SEGMENT_FOR_CURVATURE_M = 1.0
# Slack for the reverse-motion check (m/s): a stopped plan may carry tiny negative speeds.
REVERSE_SPEED_TOLERANCE = 0.1


@dataclass(frozen=True)
class Fault:
    """One failed check or watchdog: its name and a readable reason with value and limit."""

    name: str
    reason: str


def _worst(values: np.ndarray) -> float:
    return float(np.max(np.abs(values))) if len(values) else 0.0


def check_frame(plan: Plan) -> List[Fault]:
    """Check the plan is in base_link (at its input stamp)."""
    if plan.frame_id != PLAN_FRAME:
        return [Fault('frame', f'frame_id {plan.frame_id!r}, expected {PLAN_FRAME!r}')]
    return []


def check_finite(plan: Plan) -> List[Fault]:
    """Reject any NaN or Inf in the points, the stamp or the confidence."""
    fields = ('t', 'x', 'y', 'yaw', 'velocity', 'acceleration', 'curvature')
    bad = [name for name in fields if not np.all(np.isfinite(getattr(plan, name)))]
    if not math.isfinite(plan.confidence):
        bad.append('confidence')
    if not math.isfinite(plan.stamp):
        bad.append('stamp')
    return [Fault('nan_or_inf', 'non-finite values in ' + ', '.join(bad))] if bad else []


def check_point_count(plan: Plan, cfg: ValidatorConfig) -> List[Fault]:
    """Check the number of points is within [min_points, max_points]."""
    count = len(plan.t)
    if not cfg.min_points <= count <= cfg.max_points:
        return [Fault('point_count',
                      f'{count} points, allowed {cfg.min_points}..{cfg.max_points}')]
    return []


def check_time(plan: Plan, cfg: ValidatorConfig) -> List[Fault]:
    """Check times from start are non-negative, increasing and spaced within the limits."""
    if plan.t[0] < 0.0:
        return [Fault('time_not_monotonic', f'first point at {plan.t[0]:.3f} s < 0')]
    dt = np.diff(plan.t)
    if np.any(dt <= 0.0):
        index = int(np.argmax(dt <= 0.0))
        return [Fault('time_not_monotonic', f'point {index + 1} at {plan.t[index + 1]:.3f} s '
                      f'is not after point {index} at {plan.t[index]:.3f} s')]
    if dt.min() < cfg.min_point_interval or dt.max() > cfg.max_point_interval:
        return [Fault('point_spacing', f'point interval {dt.min():.3f}..{dt.max():.3f} s, '
                      f'allowed {cfg.min_point_interval}..{cfg.max_point_interval} s')]
    return []


def check_speed(plan: Plan, limits: VehicleLimits) -> List[Fault]:
    """Check reported speeds and speeds between points are within [0, speed_limit]."""
    faults = []
    step_speed = np.hypot(np.diff(plan.x), np.diff(plan.y)) / np.diff(plan.t)
    fastest = max(float(plan.velocity.max()), float(step_speed.max()))
    if fastest > limits.speed_limit:
        faults.append(Fault('speed_limit', f'speed {fastest:.2f} m/s > limit '
                            f'{limits.speed_limit} m/s'))
    if plan.velocity.min() < -REVERSE_SPEED_TOLERANCE:
        faults.append(Fault('reverse_motion', f'velocity {plan.velocity.min():.2f} m/s < 0'))
    return faults


def check_longitudinal(plan: Plan, limits: VehicleLimits) -> List[Fault]:
    """Acceleration (reported and from speed differences) and jerk within the vehicle limits."""
    faults = []
    dt = np.diff(plan.t)
    derived = np.diff(plan.velocity) / dt
    highest = max(float(plan.acceleration.max()), float(derived.max(initial=-math.inf)))
    lowest = min(float(plan.acceleration.min()), float(derived.min(initial=math.inf)))
    if highest > limits.max_acceleration or lowest < -limits.max_deceleration:
        faults.append(Fault('acceleration', f'acceleration {lowest:.2f}..{highest:.2f} m/s^2, '
                            f'allowed {-limits.max_deceleration}..{limits.max_acceleration}'))
    jerk = max(_worst(np.diff(plan.acceleration) / dt),
               _worst(np.diff(derived) / (0.5 * (dt[1:] + dt[:-1]))))
    if jerk > limits.max_jerk:
        faults.append(Fault('jerk', f'jerk {jerk:.2f} m/s^3 > limit {limits.max_jerk}'))
    return faults


def check_lateral(plan: Plan, limits: VehicleLimits) -> List[Fault]:
    """Curvature, lateral acceleration and steering rate against the bicycle model.

    Curvature: reported, and heading change over distance on long-enough segments.
    Lateral acceleration: speed squared times reported curvature, and speed times yaw rate
    (which stays well-defined at low speed). Steering rate: the front-wheel angle
    atan(wheelbase * curvature) differentiated over time.
    """
    faults = []
    dt = np.diff(plan.t)
    ds = np.hypot(np.diff(plan.x), np.diff(plan.y))
    dyaw = wrap_angle(np.diff(plan.yaw))
    long_enough = ds >= MIN_SEGMENT_FOR_CURVATURE_M
    curvature = max(_worst(plan.curvature), _worst(dyaw[long_enough] / ds[long_enough]))
    if curvature > limits.max_curvature:
        faults.append(Fault('curvature', f'curvature {curvature:.3f} 1/m > '
                            f'{limits.max_curvature:.3f} (wheelbase {limits.wheelbase} m, '
                            f'steering {limits.max_steering_angle} rad)'))
    mean_speed = 0.5 * (np.abs(plan.velocity[1:]) + np.abs(plan.velocity[:-1]))
    lateral = max(_worst(plan.velocity ** 2 * plan.curvature), _worst(mean_speed * dyaw / dt))
    if lateral > limits.max_lateral_acceleration:
        faults.append(Fault('lateral_acceleration', f'lateral acceleration {lateral:.2f} m/s^2'
                            f' > {limits.max_lateral_acceleration}'))
    steering = np.arctan(limits.wheelbase * plan.curvature)
    rate = _worst(np.diff(steering) / dt)
    if rate > limits.max_steering_rate:
        faults.append(Fault('steering_rate', f'steering rate {rate:.2f} rad/s > '
                            f'{limits.max_steering_rate}'))
    return faults


def check_first_point(plan: Plan, ego: Optional[EgoState], cfg: ValidatorConfig) -> List[Fault]:
    """Check the first point is near the ego pose moved at constant speed to its time.

    In base_link at the stamp the ego is at the origin heading +x; moving at its odometry
    speed for the first point's time puts it at (speed * t0, 0).
    """
    if ego is None:
        return []
    expected_x = ego.speed * plan.t[0]
    deviation = math.hypot(plan.x[0] - expected_x, plan.y[0])
    if deviation > cfg.max_first_point_deviation:
        return [Fault('first_point_deviation', f'first point {deviation:.2f} m from the ego '
                      f'pose, limit {cfg.max_first_point_deviation} m')]
    return []


def check_age(plan: Plan, now: float, cfg: ValidatorConfig) -> List[Fault]:
    """Now minus the input stamp within [-max_clock_skew, max_trajectory_age]."""
    age = now - plan.stamp
    if age > cfg.max_trajectory_age:
        return [Fault('trajectory_age', f'plan is {age:.3f} s old, limit '
                      f'{cfg.max_trajectory_age} s')]
    if age < -cfg.max_clock_skew:
        return [Fault('trajectory_age', f'plan stamp {-age:.3f} s in the future, limit '
                      f'{cfg.max_clock_skew} s')]
    return []


def check_confidence(plan: Plan, cfg: ValidatorConfig) -> List[Fault]:
    """Check the confidence reaches the threshold."""
    if plan.confidence < cfg.min_confidence:
        return [Fault('low_confidence', f'confidence {plan.confidence:.3f} < '
                      f'{cfg.min_confidence}')]
    return []


def check_pose_at_stamp(ego: Optional[EgoState]) -> List[Fault]:
    """Check the ego pose at the input stamp is known (needed to place the plan in odom)."""
    if ego is None:
        return [Fault('no_pose_at_stamp', 'no odometry near the plan stamp')]
    return []


def check_route_deviation(plan: Plan, ego: Optional[EgoState], route: Optional[np.ndarray],
                          cfg: ValidatorConfig) -> List[Fault]:
    """Check every plan point is near the route polyline (optional)."""
    if cfg.max_route_deviation <= 0.0 or ego is None or route is None:
        return []
    trajectory = plan_to_odom(plan, ego)
    worst = max(project_on_polyline(route[:, 0], route[:, 1], px, py)[2]
                for px, py in zip(trajectory.x, trajectory.y))
    if worst > cfg.max_route_deviation:
        return [Fault('route_deviation', f'plan point {worst:.2f} m from the route, limit '
                      f'{cfg.max_route_deviation} m')]
    return []


def validate_plan(plan: Plan, now: float, ego_at_stamp: Optional[EgoState],
                  route: Optional[np.ndarray], limits: VehicleLimits,
                  cfg: ValidatorConfig) -> List[Fault]:
    """Run every check; return all faults found (empty = the plan may be tracked).

    ``ego_at_stamp`` is the odometry state at the plan's input stamp (None if unknown);
    ``route`` is an (N, 2) array in the odometry frame or None.
    """
    faults = check_frame(plan) + check_finite(plan) + check_point_count(plan, cfg)
    if faults:
        return faults
    faults = check_time(plan, cfg)
    if faults:
        return faults
    return (check_age(plan, now, cfg) + check_confidence(plan, cfg)
            + check_pose_at_stamp(ego_at_stamp) + check_speed(plan, limits)
            + check_longitudinal(plan, limits) + check_lateral(plan, limits)
            + check_first_point(plan, ego_at_stamp, cfg)
            + check_route_deviation(plan, ego_at_stamp, route, cfg))
