"""Closed-loop controller tests against a kinematic bicycle simulated here (test code).

The simulator is independent of the controller: rear-axle bicycle, the commanded
front-wheel angle and acceleration applied as they are, no reversing.
"""

import math

from autovla_safety.controller import route_trajectory, Tracker
from autovla_safety.trajectory import EgoState, Trajectory
import numpy as np

DT = 0.02  # 50 Hz, the default control rate


class Bicycle:
    def __init__(self, wheelbase, x=0.0, y=0.0, yaw=0.0, speed=0.0):
        self.wheelbase, self.x, self.y, self.yaw, self.speed = wheelbase, x, y, yaw, speed
        self.time = 0.0

    def state(self):
        return EgoState(self.time, self.x, self.y, self.yaw, self.speed)

    def apply(self, command, dt=DT):
        self.x += self.speed * math.cos(self.yaw) * dt
        self.y += self.speed * math.sin(self.yaw) * dt
        self.yaw += self.speed / self.wheelbase * math.tan(command.steering_angle) * dt
        self.speed = max(self.speed + command.acceleration * dt, 0.0)
        self.time += dt


def straight_line(speed, length=400.0):
    t = np.arange(0.0, length / speed, 0.5)
    return Trajectory.from_arrays(0.0, t, speed * t, 0.0 * t, 0.0 * t, speed + 0.0 * t, 0.0 * t)


def circle(radius, speed, duration):
    # Counter-clockwise around (0, radius), starting at the origin heading +x.
    t = np.arange(0.0, duration, 0.5)
    angle = speed * t / radius
    return Trajectory.from_arrays(0.0, t, radius * np.sin(angle), radius - radius * np.cos(angle),
                                  angle, speed + 0.0 * t, 0.0 * t)


def run(tracker, car, trajectory, seconds):
    commands = []
    for _ in range(int(round(seconds / DT))):
        command = tracker.track(trajectory, car.state(), car.time, DT)
        car.apply(command)
        commands.append(command)
    return commands


def test_straight_line_converges_from_a_lateral_offset(config):
    car = Bicycle(config.vehicle.wheelbase, y=1.0, speed=5.0)
    tracker = Tracker(config.vehicle, config.controller)
    run(tracker, car, straight_line(5.0), 25.0)
    assert abs(car.y) < 0.05
    assert abs(car.yaw) < 0.01
    assert abs(car.speed - 5.0) < 0.05


def test_circle_steady_state_cross_track_error_is_bounded(config):
    radius, speed = 30.0, 5.0
    car = Bicycle(config.vehicle.wheelbase, speed=speed)
    tracker = Tracker(config.vehicle, config.controller)
    trajectory = circle(radius, speed, 80.0)
    run(tracker, car, trajectory, 20.0)  # settle
    errors = []
    for _ in range(int(10.0 / DT)):
        car.apply(tracker.track(trajectory, car.state(), car.time, DT))
        errors.append(math.hypot(car.x, car.y - radius) - radius)
    # Euclidean-lookahead pure pursuit has no steady-state error on a true circle; the path
    # is a polygon of 2.5 m chords whose sagitta is R (1 - cos(2.5 / 2R)) = 0.026 m.
    assert max(abs(e) for e in errors) < 0.1
    # Steering settles at the bicycle's angle for that radius: atan(L / R).
    expected = math.atan(config.vehicle.wheelbase / radius)
    assert abs(tracker.steering - expected) < 0.01


def jerk_limited_stop_distance(v0, deceleration, jerk):
    """Ramp 0 -> -deceleration at the jerk limit, then constant deceleration to rest."""
    ramp = deceleration / jerk
    v1 = v0 - 0.5 * deceleration * ramp
    return v0 * ramp - jerk * ramp ** 3 / 6.0 + v1 ** 2 / (2.0 * deceleration)


def stop_from(config, v0, deceleration, jerk):
    car = Bicycle(config.vehicle.wheelbase, speed=v0)
    tracker = Tracker(config.vehicle, config.controller)
    accelerations = []
    path = straight_line(v0)
    while car.speed > 0.0 and car.time < 60.0:
        command = tracker.stop(deceleration, jerk, DT, car.state(), path)
        car.apply(command)
        accelerations.append(command.acceleration)
    return car, np.array(accelerations)


def test_comfortable_stop_distance_matches_the_deceleration(config):
    stop = config.stop
    car, accelerations = stop_from(config, 10.0, stop.comfortable_deceleration,
                                   stop.comfortable_jerk)
    # 1.0 m/s^2 with a 1.0 m/s^3 ramp from 10 m/s: 9.833 + 45.125 = 54.96 m by hand
    # (v^2 / 2a alone is 50 m; the ramp adds the rest).
    expected = jerk_limited_stop_distance(10.0, stop.comfortable_deceleration,
                                          stop.comfortable_jerk)
    assert abs(car.x - expected) < 0.01 * expected
    assert accelerations.min() >= -stop.comfortable_deceleration - 1e-9
    assert np.max(np.abs(np.diff(accelerations))) <= stop.comfortable_jerk * DT + 1e-9
    assert abs(car.y) < 1e-6


def test_emergency_stop_distance_matches_the_deceleration(config):
    stop = config.stop
    car, accelerations = stop_from(config, 10.0, stop.emergency_deceleration, stop.emergency_jerk)
    expected = jerk_limited_stop_distance(10.0, stop.emergency_deceleration, stop.emergency_jerk)
    assert abs(car.x - expected) < 0.01 * expected
    assert abs(car.x - 10.0 ** 2 / (2 * stop.emergency_deceleration)) < 3.0
    assert accelerations.min() >= -stop.emergency_deceleration - 1e-9


def test_stop_without_odometry_holds_the_steering(config):
    tracker = Tracker(config.vehicle, config.controller)
    tracker.steering = 0.2
    command = tracker.stop(2.5, 5.0, DT, None, None)
    assert command.steering_angle == 0.2
    assert command.speed == 0.0
    assert math.isclose(command.acceleration, -5.0 * DT)


def test_outputs_are_saturated_to_the_vehicle_limits(config):
    vehicle = config.vehicle
    tracker = Tracker(vehicle, config.controller)
    # Path far to the left and much faster than the car: the raw demands exceed every limit.
    t = np.arange(0.0, 20.0, 0.5)
    trajectory = Trajectory.from_arrays(0.0, t, 0.0 * t, 3.0 + 15.0 * t, 0.0 * t + math.pi / 2,
                                        15.0 + 0.0 * t, 0.0 * t)
    car = Bicycle(vehicle.wheelbase, speed=0.0)
    commands = run(tracker, car, trajectory, 3.0)
    steering = np.array([c.steering_angle for c in commands])
    accel = np.array([c.acceleration for c in commands])
    assert np.all(np.abs(steering) <= vehicle.max_steering_angle + 1e-9)
    assert np.max(np.abs(np.diff(steering))) <= vehicle.max_steering_rate * DT + 1e-9
    assert steering.max() == vehicle.max_steering_angle  # it did saturate
    assert np.all(accel <= vehicle.max_acceleration + 1e-9)
    assert np.max(np.abs(np.diff(accel))) <= vehicle.max_jerk * DT + 1e-9
    assert all(c.steering_rate == vehicle.max_steering_rate for c in commands)


def test_speed_feed_forward_tracks_an_acceleration(config):
    t = np.arange(0.0, 30.0, 0.5)
    speed = np.minimum(1.0 * t, 8.0)
    accel = np.where(t < 8.0, 1.0, 0.0)
    x = np.where(t < 8.0, 0.5 * t ** 2, 32.0 + 8.0 * (t - 8.0))
    trajectory = Trajectory.from_arrays(0.0, t, x, 0.0 * t, 0.0 * t, speed, accel)
    car = Bicycle(config.vehicle.wheelbase)
    tracker = Tracker(config.vehicle, config.controller)
    run(tracker, car, trajectory, 6.0)
    assert abs(car.speed - 6.0) < 0.3  # mid-ramp: 1 m/s^2 for 6 s
    run(tracker, car, trajectory, 6.0)
    assert abs(car.speed - 8.0) < 0.1


def test_route_fallback_follows_the_route_and_stops_at_its_end(config):
    # An L-shaped route: 60 m east, then a 20 m radius quarter turn north, then 30 m north.
    east = np.column_stack([np.arange(0.0, 60.0, 2.0), np.zeros(30)])
    angles = np.linspace(0.0, math.pi / 2, 16)
    turn = np.column_stack([60.0 + 20.0 * np.sin(angles), 20.0 - 20.0 * np.cos(angles)])
    north = np.column_stack([np.full(15, 80.0), 20.0 + np.arange(2.0, 32.0, 2.0)])
    route = np.vstack([east, turn, north])
    car = Bicycle(config.vehicle.wheelbase, y=0.5)
    tracker = Tracker(config.vehicle, config.controller)
    worst = 0.0
    top = 0.0
    for _ in range(int(90.0 / DT)):
        trajectory = route_trajectory(route, car.state(), car.time, config.vehicle,
                                      config.fallback, config.stop.comfortable_deceleration)
        assert isinstance(trajectory, Trajectory), trajectory
        car.apply(tracker.track(trajectory, car.state(), car.time, DT))
        top = max(top, car.speed)
        if car.x > 5.0:  # distance to the route polyline, after the initial offset
            worst = max(worst, np.min(np.hypot(route[:, 0] - car.x, route[:, 1] - car.y)))
        if car.speed == 0.0 and car.time > 5.0:
            break
    assert top <= config.fallback.speed_cap + 0.1
    assert worst < 1.5  # vertex distance: 2 m spacing adds up to 1 m
    assert math.hypot(car.x - 80.0, car.y - 50.0) < 1.5
    assert car.speed < 0.05


def test_route_fallback_refuses_when_far_from_the_route(config):
    route = np.column_stack([np.arange(0.0, 50.0, 1.0), np.zeros(50)])
    far = EgoState(0.0, 10.0, config.fallback.max_route_distance + 1.0, 0.0, 0.0)
    problem = route_trajectory(route, far, 0.0, config.vehicle, config.fallback, 1.0)
    assert isinstance(problem, str) and 'from the route' in problem


def test_route_fallback_slows_down_comfortably_from_above_the_cap(config):
    route = np.column_stack([np.arange(0.0, 300.0, 1.0), np.zeros(300)])
    fast = EgoState(0.0, 0.0, 0.0, 0.0, 10.0)
    trajectory = route_trajectory(route, fast, 0.0, config.vehicle, config.fallback, 1.0)
    assert math.isclose(trajectory.v[0], 10.0)
    assert math.isclose(trajectory.a[0], -1.0, rel_tol=0.05)
    # 10 -> 3 m/s at 1 m/s^2 takes (100 - 9) / 2 = 45.5 m > the 40 m horizon.
    assert trajectory.v[-1] > config.fallback.speed_cap


def test_stop_cuts_a_positive_acceleration_at_once(config):
    tracker = Tracker(config.vehicle, config.controller)
    tracker.acceleration = 2.0
    command = tracker.stop(1.0, 1.0, DT, None, None)
    assert math.isclose(command.acceleration, -1.0 * DT)
