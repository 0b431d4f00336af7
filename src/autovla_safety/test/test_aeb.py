"""AEB core: stopping distance, swept footprints, obstacle speed and the brake hold."""

import math

from autovla_safety.aeb import (
    first_contact,
    motion_path,
    ObstacleMonitor,
    stopping_distance,
    yaw_rate,
)
from autovla_safety.trajectory import EgoState, Trajectory
import numpy as np
import pytest

FRONT = 4.084 - 0.6          # base_link to the front bumper with the shipped footprint


def car_rear_face(x_rear, y=0.0, heights=(0.5, 1.0, 1.5)):
    """Points (N, 3) on the rear face of a 1.9 m wide car whose rear is at ``x_rear``."""
    return np.array([[x_rear, y + dy, z] for dy in np.linspace(-0.95, 0.95, 9) for z in heights])


def ego(speed, x=0.0, y=0.0, yaw=0.0, stamp=0.0):
    return EgoState(stamp, x, y, yaw, speed)


def test_stopping_distance_is_the_rss_formula(config):
    cfg = config.aeb
    # 10 m/s: 0.3 s reaction (3 m) + 100 / (2 * 5) (10 m) + 1 m margin.
    assert stopping_distance(cfg, 10.0) == pytest.approx(14.0)
    # A lead car at 8 m/s braking at 4 m/s^2 needs 64 / 8 = 8 m itself.
    assert stopping_distance(cfg, 10.0, 8.0) == pytest.approx(6.0)


def test_first_contact_is_where_the_front_bumper_reaches_the_point(config):
    poses = motion_path(10.0, 0.0, 20.0, 0.25)
    distance, index = first_contact(poses, np.array([[15.0, 5.0], [10.0, 0.5]]), config.aeb)
    assert index == 1
    assert 10.0 - FRONT <= distance < 10.0 - FRONT + 0.25


def test_footprint_width_and_margin_decide_a_point_beside_the_path(config):
    poses = motion_path(10.0, 0.0, 20.0, 0.25)
    half = 1.85 / 2 + 0.1
    assert first_contact(poses, np.array([[10.0, half - 0.01]]), config.aeb) is not None
    assert first_contact(poses, np.array([[10.0, half + 0.01]]), config.aeb) is None


def test_motion_path_follows_the_yaw_rate(config):
    # Turning left on a 20 m radius: a point on the arc is hit, one straight ahead is not.
    poses = motion_path(10.0, 10.0 / 20.0, 25.0, 0.25)
    angle = 15.0 / 20.0
    on_arc = [20.0 * math.sin(angle), 20.0 * (1 - math.cos(angle))]
    assert first_contact(poses, np.array([on_arc]), config.aeb) is not None
    assert first_contact(poses, np.array([[16.0, 0.0]]), config.aeb) is None


def test_standing_car_inside_the_stopping_distance_brakes_and_holds(config):
    monitor = ObstacleMonitor(config.aeb)
    monitor.on_cloud(0.0, car_rear_face(12.0), ego(10.0))
    collision = monitor.step(0.05, ego(10.0), 0.0, None)
    assert collision is not None and collision.imminent
    assert collision.distance == pytest.approx(12.0 - FRONT, abs=0.25)
    assert collision.time_to_collision == pytest.approx(collision.distance / 10.0)
    assert monitor.braking(0.05 + 1.9) and monitor.activations == 1
    # The obstacle is gone: the hold runs out 2 s after the last imminent collision.
    monitor.on_cloud(0.1, np.zeros((0, 3)), ego(10.0))
    assert monitor.step(0.15, ego(10.0), 0.0, None) is None
    assert monitor.braking(2.0) and not monitor.braking(2.1)


def test_car_far_beyond_the_stopping_distance_does_not_brake(config):
    monitor = ObstacleMonitor(config.aeb)
    monitor.on_cloud(0.0, car_rear_face(FRONT + 14.5), ego(10.0))
    assert monitor.step(0.0, ego(10.0), 0.0, None) is None
    assert not monitor.braking(0.0)


def test_lead_car_driving_away_is_not_an_emergency_once_its_speed_is_seen(config):
    seen_once = ObstacleMonitor(config.aeb)
    seen_once.on_cloud(0.1, car_rear_face(FRONT + 7.0), ego(10.0))
    assert seen_once.step(0.1, ego(10.0), 0.0, None).imminent   # unknown speed: standing
    tracked = ObstacleMonitor(config.aeb)
    tracked.on_cloud(0.0, car_rear_face(FRONT + 7.0 - 0.9), ego(10.0))   # 9 m/s at 10 Hz
    tracked.on_cloud(0.1, car_rear_face(FRONT + 7.0), ego(10.0))
    collision = tracked.check_motion(ego(10.0), 0.0)
    assert collision.obstacle_speed == pytest.approx(9.0, abs=0.3)
    assert not collision.imminent


def test_cloud_in_base_link_is_placed_with_the_pose_of_its_stamp(config):
    monitor = ObstacleMonitor(config.aeb)
    heading_north = ego(8.0, x=100.0, y=50.0, yaw=math.pi / 2)
    monitor.on_cloud(0.0, car_rear_face(10.0), heading_north)
    # 2 m later the car is 2 m closer; seen from a pose with no cloud of its own.
    collision = monitor.check_motion(ego(8.0, x=100.0, y=52.0, yaw=math.pi / 2), 0.0)
    assert collision.distance == pytest.approx(8.0 - FRONT, abs=0.25)


def test_ground_and_overhead_points_are_ignored(config):
    monitor = ObstacleMonitor(config.aeb)
    kept = monitor.on_cloud(0.0, np.array([[6.0, 0.0, 0.05], [6.0, 0.0, 3.0], [6.0, 0.0, 1.0]]),
                            ego(5.0))
    assert kept == 1


def test_stale_cloud_or_slow_ego_does_not_brake(config):
    monitor = ObstacleMonitor(config.aeb)
    monitor.on_cloud(0.0, car_rear_face(6.0), ego(10.0))
    assert monitor.step(0.6, ego(10.0), 0.0, None) is None          # 0.6 s > 0.5 s timeout
    assert monitor.step(0.1, ego(0.05), 0.0, None) is None          # standing still


def straight_trajectory(speeds, dt=0.5):
    t = np.arange(len(speeds)) * dt
    x = np.concatenate([[0.0], np.cumsum((np.asarray(speeds[:-1]) + speeds[1:]) / 2 * dt)])
    return Trajectory.from_arrays(0.0, t, x, np.zeros_like(x), np.zeros_like(x), speeds,
                                  np.zeros_like(x))


def test_plan_into_a_car_is_imminent_and_a_plan_stopping_short_is_not(config):
    monitor = ObstacleMonitor(config.aeb)
    # Contact 15 - 3.48 = 11.5 m ahead: beyond the 8.0 m a 5 m/s stop needs, inside the
    # 14 m the plan's 10 m/s needs.
    monitor.on_cloud(0.0, car_rear_face(15.0), ego(5.0))
    assert monitor.check_motion(ego(5.0), 0.0) is None
    accelerating = straight_trajectory([5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    hit = monitor.check_trajectory('plan', accelerating, ego(5.0))
    # Judged at the top speed on the swept 14.25 m: 9 m/s after 14 m, + 0.25 m at 9->10 m/s.
    assert hit.imminent and hit.speed == pytest.approx(9.0 + 0.25 / 4.75, abs=1e-6)
    stopping = straight_trajectory([5.0, 3.75, 2.5, 1.25, 0.0, 0.0])    # stops after 5 m
    assert monitor.check_trajectory('plan', stopping, ego(5.0)) is None


def test_tracked_path_turning_away_avoids_a_brake_the_straight_motion_would_need(config):
    monitor = ObstacleMonitor(config.aeb)
    monitor.on_cloud(0.0, car_rear_face(9.0), ego(6.0))   # 5.5 m ahead, 6.4 m needed
    assert monitor.check_motion(ego(6.0), 0.0).imminent
    # The tracked path leaves to the left lane (3.5 m) before the car.
    x = np.linspace(0.0, 30.0, 31)
    y = np.clip(x / 6.0, 0.0, 1.0) * 3.5
    lane_change = Trajectory.from_arrays(0.0, x / 6.0, x, y, np.zeros_like(x), np.full(31, 6.0),
                                         np.zeros(31))
    assert monitor.check_trajectory('tracked path', lane_change, ego(6.0)) is None


def test_yaw_rate_from_two_poses():
    assert yaw_rate(ego(5.0, yaw=0.1, stamp=1.0), ego(5.0, yaw=0.0, stamp=0.8)) == \
        pytest.approx(0.5)
    assert yaw_rate(ego(5.0, yaw=-3.1, stamp=1.0), ego(5.0, yaw=3.1, stamp=0.9)) == \
        pytest.approx((2 * math.pi - 6.2) / 0.1)
    assert yaw_rate(ego(5.0), None) == 0.0
