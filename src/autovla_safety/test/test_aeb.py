"""AEB core: stopping distance, swept footprints, obstacle speed and the brake hold."""

import math

from autovla_safety.aeb import (
    first_contact,
    motion_path,
    ObstacleMonitor,
    stopping_distance,
    yaw_rate,
)
from autovla_safety.supervisor import Mode, Supervisor
from autovla_safety.trajectory import EgoState, Trajectory
from autovla_scenarios.obstacles import obstacle_points
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


def test_car_cutting_in_ahead_and_faster_is_credited_its_speed(config):
    # A car crossing into the lane diagonally at 11 m/s along the path and 1.4 m/s across:
    # its side face slides along itself, the cluster (rear and side face) shows the motion.
    monitor = ObstacleMonitor(config.aeb)
    for k, stamp in enumerate((0.0, 0.1)):
        box = (FRONT + 7.0 + 2.25 + 1.1 * k, 1.6 - 0.14 * k, -0.13, 4.5, 1.9, 1.6)
        monitor.on_cloud(stamp, obstacle_points([box], (0.0, 0.0, 0.0)), ego(10.0))
    collision = monitor.check_motion(ego(10.0), 0.0)
    assert collision is not None
    assert collision.obstacle_speed == pytest.approx(11.0, abs=1.0)
    assert not collision.imminent


def test_supervisor_brakes_for_the_aeb_and_recovers_only_with_fresh_valid_plans(config):
    supervisor = Supervisor(config.supervisor, 0.0)
    supervisor.on_route(0.0)
    for k in range(4):
        supervisor.on_odometry(0.1 * k)
        supervisor.on_plan(0.1 * k, 0.1 * k, [], 5.0)
        supervisor.step(0.1 * k)
    assert supervisor.mode == Mode.NOMINAL
    supervisor.on_aeb('current motion: obstacle 5.0 m ahead')
    supervisor.on_odometry(0.5)
    transitions = supervisor.step(0.5)
    assert supervisor.mode == Mode.EMERGENCY_STOP
    assert 'aeb_braking: current motion: obstacle 5.0 m ahead' in transitions[0].reason
    supervisor.on_aeb(None)
    for k in range(3):   # plans stamped before the braking ended prove nothing
        supervisor.on_odometry(0.6 + 0.1 * k)
        supervisor.on_plan(0.6 + 0.1 * k, 0.45, [], 5.0)
        supervisor.step(0.6 + 0.1 * k)
    assert supervisor.mode == Mode.EMERGENCY_STOP
    for k in range(3):
        supervisor.on_odometry(1.0 + 0.1 * k)
        supervisor.on_plan(1.0 + 0.1 * k, 1.0 + 0.1 * k, [], 5.0)
        supervisor.step(1.0 + 0.1 * k)
    assert supervisor.mode == Mode.NOMINAL


def box_clouds(monitor, boxes, stamps, pose=(0.0, 0.0, 0.0), speed=10.0):
    """Feed ``monitor`` the cloud of each box (x, y, yaw, l, w, h) at its stamp, from ``pose``."""
    for box, stamp in zip(boxes, stamps):
        monitor.on_cloud(stamp, obstacle_points([box], pose), ego(speed, *pose, stamp=stamp))


def test_car_crossing_in_front_is_gone_when_the_ego_gets_there(config):
    # intersection_left: the ego rolls at 3 m/s (2.8 m stopping distance) towards a car
    # crossing 2 m in front of its bumper at 8 m/s. In 0.7 s it is 5.3 m further on.
    monitor = ObstacleMonitor(config.aeb)
    box_clouds(monitor, [(FRONT + 2.0 + 0.95, -1.0 + 0.8 * k, math.pi / 2, 4.5, 1.9, 1.5)
                         for k in range(2)], (0.0, 0.1), speed=3.0)
    assert monitor.step(0.1, ego(3.0, stamp=0.1), 0.0, None) is None
    assert not monitor.braking(0.1)


def test_pedestrian_walking_into_the_lane_brakes_before_it_is_in_it(config):
    # 8 m/s needs 9.8 m; the pedestrian is 5.7 m ahead, 0.7 m beside the swept footprint,
    # walking towards the lane at 1.5 m/s: in it when the ego gets there.
    monitor = ObstacleMonitor(config.aeb)
    box_clouds(monitor, [(FRONT + 6.0, 2.0 + 0.15 * (1 - k), 0.0, 0.6, 0.6, 1.7)
                         for k in range(2)], (0.0, 0.1), speed=8.0)
    collision = monitor.step(0.1, ego(8.0, stamp=0.1), 0.0, None)
    assert collision is not None and collision.imminent
    assert collision.obstacle_speed == 0.0          # crossing: no credit for moving away


def test_oncoming_car_in_the_ego_lane_is_judged_at_the_closing_speed(config):
    # Head on at 10 m/s each, 20 m apart: standing it would be beyond the 14 m stopping
    # distance; closing at 20 m/s the two meet after 10 m.
    monitor = ObstacleMonitor(config.aeb)
    box_clouds(monitor, [(FRONT + 20.0 + 2.25 + 1.0 * (1 - k), 0.0, math.pi, 4.5, 1.9, 1.5)
                         for k in range(2)], (0.0, 0.1))
    collision = monitor.step(0.1, ego(10.0, stamp=0.1), 0.0, None)
    assert collision is not None and collision.imminent
    assert collision.distance == pytest.approx(10.0, abs=0.5)


def curve_trajectory(radius, speed, length=60.0):
    """Left-hand curve from the origin (heading +x) at constant ``speed``."""
    s = np.arange(0.0, length, 0.5)
    x, y = radius * np.sin(s / radius), radius * (1.0 - np.cos(s / radius))
    return Trajectory.from_arrays(0.0, s / speed, x, y, s / radius, np.full(len(s), speed),
                                  np.zeros(len(s)))


def test_oncoming_car_about_to_enter_the_curve_is_predicted_along_its_lane(config):
    # curve seeds 0-18: an oncoming car still on the straight before the curve (yaw rate
    # 0 measured, and truly 0 until it gets there) was predicted straight on from its
    # tangent, into the curving ego lane; the ego braked. Oncoming traffic keeps to its
    # lane, and its lane follows the ego's path.
    inner, speed, dt, curve_end = 46.5, 12.0, 0.1, 0.5
    end = np.array([inner * math.sin(curve_end), 50.0 - inner * math.cos(curve_end)])
    tangent = np.array([math.cos(curve_end), math.sin(curve_end)])
    monitor = ObstacleMonitor(config.aeb)
    box_clouds(monitor, [(*(end + tangent * (6.0 - speed * dt * k)), curve_end + math.pi,
                          4.5, 1.9, 1.5) for k in range(4)], [dt * k for k in range(4)])
    now = 0.3
    assert monitor.step(now, ego(10.0, stamp=now), 0.0, curve_trajectory(50.0, 10.0)) is None


def test_oncoming_car_in_the_ego_lane_is_braked_for(config):
    # Head-on: a car coming down the ego's own lane at 8 m/s, 25 m ahead, ego at 10 m/s.
    monitor = ObstacleMonitor(config.aeb)
    box_clouds(monitor, [(FRONT + 25.0 + 2.25 - 0.8 * k, 0.0, math.pi, 4.5, 1.9, 1.5)
                         for k in range(3)], [0.1 * k for k in range(3)])
    collision = monitor.step(0.2, ego(10.0, stamp=0.2), 0.0, curve_trajectory(1e6, 10.0))
    assert collision is not None and collision.imminent


def test_car_parked_along_a_curve_does_not_stop_an_ego_that_follows_the_curve(config):
    # curve seed 8: at the curve entry the straight current motion runs into a car parked
    # on the outside of the curve; the tracked path, which the ego is on, passes it.
    monitor = ObstacleMonitor(config.aeb)
    box_clouds(monitor, [(FRONT + 6.0 + 2.25, -1.9, 0.0, 4.5, 1.9, 1.5)], (0.0,))
    now = ego(10.0, stamp=0.05)
    assert monitor.check_motion(now, 0.0, config.aeb.motion_horizon).imminent
    assert monitor.step(0.05, now, 0.0, curve_trajectory(50.0, 10.0)) is None
    # Off the path (1 m beside it), the current motion is checked again.
    off_path = ego(10.0, y=-1.0, stamp=0.05)
    assert not monitor.on_path(curve_trajectory(50.0, 10.0), off_path)
    assert monitor.step(0.05, off_path, 0.0, curve_trajectory(50.0, 10.0)).imminent


def test_oncoming_car_following_its_curved_lane_stays_in_it(config):
    # The ego takes a left curve (radius 50 m) at 10 m/s; a car comes the other way at
    # 12 m/s in the inner lane (46.5 m). Straight on from its tangent it would cross into
    # the ego lane within the 14 m checked; turning with its lane it passes.
    inner, speed, dt = 46.5, 12.0, 0.1
    monitor = ObstacleMonitor(config.aeb)
    boxes = []
    for k in range(4):
        angle = 0.55 - speed * dt * k / inner
        boxes.append((inner * math.sin(angle), 50.0 - inner * math.cos(angle), angle + math.pi,
                      4.5, 1.9, 1.5))
    box_clouds(monitor, boxes, [dt * k for k in range(4)])
    now = 0.3
    assert monitor.step(now, ego(10.0, stamp=now), 0.0, curve_trajectory(50.0, 10.0)) is None
