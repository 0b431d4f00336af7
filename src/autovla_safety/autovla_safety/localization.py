"""Localization sanity: a new odometry pose must follow from the motion just measured.

ROS-free. Between two consecutive samples the car can only have moved as its measured
speed allows (constant speed along the mean heading, give or take what the vehicle's
acceleration limits add over the interval) and turned as its steering allows. A pose
outside that, by more than the configured tolerances, is a localization jump (a relocalised
map match, a GNSS fix snapping, a corrupted or spoofed source): the node then treats the
pose as untrusted (see the supervisor's ``localization_jump`` fault).
"""

import math
from typing import Optional

from autovla_safety.config import LocalizationConfig, VehicleLimits
from autovla_safety.trajectory import EgoState, wrap_angle


def localization_jump(previous: Optional[EgoState], current: EgoState,
                      cfg: LocalizationConfig, limits: VehicleLimits) -> Optional[str]:
    """Describe how ``current`` contradicts the motion since ``previous`` (None: it does not).

    No judgement without a predecessor or across a backwards stamp (another timeline).
    """
    if previous is None or current.stamp <= previous.stamp:
        return None
    dt = current.stamp - previous.stamp
    speed = 0.5 * (previous.speed + current.speed)
    heading = previous.yaw + 0.5 * float(wrap_angle(current.yaw - previous.yaw))
    expected_x = previous.x + speed * dt * math.cos(heading)
    expected_y = previous.y + speed * dt * math.sin(heading)
    error = math.hypot(current.x - expected_x, current.y - expected_y)
    harder = max(limits.max_acceleration, limits.max_deceleration)
    allowed = cfg.max_position_jump + 0.5 * harder * dt * dt
    if error > allowed:
        return (f'position moved {error:.2f} m away from where the measured speed '
                f'{speed:.2f} m/s puts it after {dt:.3f} s, limit {allowed:.2f} m')
    turn = abs(float(wrap_angle(current.yaw - previous.yaw)))
    fastest = max(abs(previous.speed), abs(current.speed))
    allowed_turn = cfg.max_heading_jump + limits.max_curvature * fastest * dt
    if turn > allowed_turn:
        return (f'heading turned {turn:.3f} rad in {dt:.3f} s at {fastest:.2f} m/s, limit '
                f'{allowed_turn:.3f} rad')
    return None
