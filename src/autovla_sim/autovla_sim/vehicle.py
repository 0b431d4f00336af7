"""The ego vehicle: a kinematic bicycle with steering and acceleration lag (ROS-free).

Input is the control part of a DriveCommand (``autovla_safety.controller.Command``); the
drive-by-wire side is acceleration-controlled: the target acceleration is reached through a
first-order lag and the command's jerk limit, the front-wheel angle through a first-order lag
and the steering-rate limit. Every input is saturated to the safety config's vehicle limits.
The car never reverses (gear drive): speed stops at zero. The pose is base_link, taken as the
centre of the ego footprint (as the scenario world and the open-loop metrics do).
"""

from dataclasses import dataclass, replace
import math

from autovla_safety.config import VehicleLimits
from autovla_safety.controller import Command


@dataclass(frozen=True)
class VehicleState:
    """Pose in the world (odom) frame and the actuator states."""

    x: float
    y: float
    yaw: float
    speed: float                 # m/s, >= 0
    acceleration: float = 0.0    # m/s^2, actual (after lag)
    steering: float = 0.0        # rad, actual front-wheel angle
    yaw_rate: float = 0.0        # rad/s


@dataclass(frozen=True)
class VehicleModel:
    """Limits (from the safety config) and actuator lags of the simulated car."""

    limits: VehicleLimits
    steering_lag: float = 0.1        # s, first-order time constant of the steering actuator
    acceleration_lag: float = 0.25   # s, powertrain / brake response

    def step(self, state: VehicleState, command: Command, dt: float) -> VehicleState:
        """Advance ``state`` by ``dt`` seconds under ``command``."""
        limits = self.limits
        target_steer = min(max(command.steering_angle, -limits.max_steering_angle),
                           limits.max_steering_angle)
        rate = limits.max_steering_rate
        if command.steering_rate > 0.0:
            rate = min(rate, command.steering_rate)
        steer_step = (target_steer - state.steering) * min(1.0, dt / self.steering_lag)
        steering = state.steering + min(max(steer_step, -rate * dt), rate * dt)

        target_accel = min(max(command.acceleration, -limits.max_deceleration),
                           limits.max_acceleration)
        jerk = command.jerk if command.jerk > 0.0 else limits.max_jerk
        accel_step = (target_accel - state.acceleration) * min(1.0, dt / self.acceleration_lag)
        acceleration = state.acceleration + min(max(accel_step, -jerk * dt), jerk * dt)

        speed = max(0.0, state.speed + acceleration * dt)
        mean_speed = 0.5 * (speed + state.speed)
        yaw_rate = mean_speed * math.tan(steering) / limits.wheelbase
        yaw = state.yaw + yaw_rate * dt
        heading = 0.5 * (state.yaw + yaw)
        return replace(state, x=state.x + mean_speed * math.cos(heading) * dt,
                       y=state.y + mean_speed * math.sin(heading) * dt, yaw=yaw, speed=speed,
                       acceleration=acceleration if speed > 0.0 else min(acceleration, 0.0),
                       steering=steering, yaw_rate=yaw_rate)
