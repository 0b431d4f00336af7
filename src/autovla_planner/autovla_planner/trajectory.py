"""From decoded poses to trajectory points and a fast-thinking explanation.

Kinematics (10 poses, 0.5 s apart, ego frame at the observation):
- velocity of point i: length of segment i (from pose i-1, the first from the origin) over
  0.5 s, negative when the segment points backwards relative to the heading it starts from;
- acceleration of point i: (v_i - v_{i-1}) / 0.5 s, v_0 being the current ego speed;
- curvature of point i: heading change over segment i divided by its length (0 below 1 cm).

Meta-actions, in the official vocabulary, classify the whole 5 s plan (thresholds below):
- lateral: turn left/right if the final heading differs by more than TURN_YAW_RAD; otherwise
  change lane to left/right if the final lateral offset exceeds LANE_CHANGE_OFFSET_M; else move
  forward. A plan that travels less than MIN_TRAVEL_M is "move forward".
- longitudinal, from the current speed v0 and the final segment's speed v_end:
  stop if both are below STOPPED_SPEED_MPS; deceleration to zero if only v_end is; otherwise by
  the mean acceleration (v_end - v0) / 5 s: below -QUICK_ACCEL_MPS2 quick deceleration, below
  -STEADY_ACCEL_MPS2 deceleration, above QUICK_ACCEL_MPS2 quick acceleration, above
  STEADY_ACCEL_MPS2 acceleration, else maintain constant speed.
"""

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from autovla_planner.action_codebook import SEGMENT_SECONDS, wrap_angle

TURN_YAW_RAD = 0.35            # ~20 deg of final heading change
LANE_CHANGE_OFFSET_M = 2.0     # more than half a 3.5 m lane sideways
MIN_TRAVEL_M = 1.0
STOPPED_SPEED_MPS = 0.3
STEADY_ACCEL_MPS2 = 0.2
QUICK_ACCEL_MPS2 = 1.5


@dataclass(frozen=True)
class Kinematics:
    """Per-point velocity (m/s), acceleration (m/s^2) and curvature (1/m), shape (N,) each."""

    velocity: np.ndarray
    acceleration: np.ndarray
    curvature: np.ndarray


def kinematics(poses: np.ndarray, current_speed: float,
               dt: float = SEGMENT_SECONDS) -> Kinematics:
    """Finite-difference kinematics of (N, 3) poses that start from the origin."""
    poses = np.asarray(poses, dtype=np.float64)
    previous = np.vstack([np.zeros(3), poses[:-1]])
    delta = poses[:, :2] - previous[:, :2]
    length = np.linalg.norm(delta, axis=1)
    forward = delta[:, 0] * np.cos(previous[:, 2]) + delta[:, 1] * np.sin(previous[:, 2])
    velocity = np.where(forward < 0.0, -length, length) / dt
    acceleration = np.diff(np.concatenate([[current_speed], velocity])) / dt
    turned = wrap_angle(poses[:, 2] - previous[:, 2])
    curvature = np.where(length > 0.01, turned / np.maximum(length, 0.01), 0.0)
    return Kinematics(velocity, acceleration, curvature)


def meta_actions(poses: np.ndarray, current_speed: float,
                 dt: float = SEGMENT_SECONDS) -> Tuple[str, str, float]:
    """Return (lateral action, longitudinal action, target speed m/s) of a plan."""
    poses = np.asarray(poses, dtype=np.float64)
    velocity = kinematics(poses, current_speed, dt).velocity
    travel = float(np.sum(np.abs(velocity)) * dt)
    final_yaw, final_y = float(wrap_angle(poses[-1, 2])), float(poses[-1, 1])
    if travel < MIN_TRAVEL_M:
        lateral = 'move forward'
    elif abs(final_yaw) > TURN_YAW_RAD:
        lateral = 'turn left' if final_yaw > 0 else 'turn right'
    elif abs(final_y) > LANE_CHANGE_OFFSET_M:
        lateral = 'change lane to left' if final_y > 0 else 'change lane to right'
    else:
        lateral = 'move forward'
    target = max(float(velocity[-1]), 0.0)
    mean_accel = (target - current_speed) / (len(poses) * dt)
    if target < STOPPED_SPEED_MPS:
        longitudinal = 'stop' if current_speed < STOPPED_SPEED_MPS else 'deceleration to zero'
    elif mean_accel < -QUICK_ACCEL_MPS2:
        longitudinal = 'quick deceleration'
    elif mean_accel < -STEADY_ACCEL_MPS2:
        longitudinal = 'deceleration'
    elif mean_accel > QUICK_ACCEL_MPS2:
        longitudinal = 'quick acceleration'
    elif mean_accel > STEADY_ACCEL_MPS2:
        longitudinal = 'acceleration'
    else:
        longitudinal = 'maintain constant speed'
    return lateral, longitudinal, target


def fast_explanation(poses: np.ndarray, current_speed: float) -> str:
    """One line for a fast-thinking plan: the meta-actions and the target speed."""
    lateral, longitudinal, target = meta_actions(poses, current_speed)
    return (f'Fast thinking: {lateral}, {longitudinal} (target speed {target:.1f} m/s, '
            f'now {current_speed:.1f} m/s).')
