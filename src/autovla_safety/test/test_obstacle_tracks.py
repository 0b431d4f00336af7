"""Obstacle tracks: clusters of a cloud and their velocities between clouds (ROS-free)."""

import math

from autovla_safety.obstacle_tracks import cluster_labels, ObstacleTracker
from autovla_scenarios.obstacles import obstacle_points
import numpy as np
import pytest


def odom_points(boxes, pose):
    """Cloud of ``boxes`` seen from ``pose``, put back into the odometry frame (x, y)."""
    xyz = obstacle_points(boxes, pose)
    cos, sin = math.cos(pose[2]), math.sin(pose[2])
    return np.column_stack([pose[0] + cos * xyz[:, 0] - sin * xyz[:, 1],
                            pose[1] + sin * xyz[:, 0] + cos * xyz[:, 1]])


def test_clusters_split_cars_a_lane_apart_and_keep_one_car_whole():
    cloud = odom_points([(10.0, 0.0, 0.0, 4.5, 1.9, 1.5), (10.0, 3.5, 0.0, 4.5, 1.9, 1.5)],
                        (0.0, 0.0, 0.0))
    labels = cluster_labels(cloud, 0.7)
    assert len(set(labels)) == 2
    assert set(labels[cloud[:, 1] < 1.75]) != set(labels[cloud[:, 1] > 1.75])
    assert len(cluster_labels(np.zeros((0, 2)), 0.7)) == 0


def test_moving_car_gets_its_velocity_and_a_new_one_stands():
    tracker = ObstacleTracker(0.7, 40.0)
    # Ahead and to the right: the sensor sees its rear and its left face in both clouds.
    first = tracker.update(0.0, odom_points([(20.0, -4.0, 0.0, 4.5, 1.9, 1.5)], (0.0, 0.0, 0.0)))
    assert not first.any()                          # seen once: no velocity yet
    second = tracker.update(0.1, odom_points([(20.8, -3.7, 0.0, 4.5, 1.9, 1.5)], (0.0, 0.0, 0.0)))
    assert second[:, 0] == pytest.approx(8.0, abs=1e-3)
    assert second[:, 1] == pytest.approx(3.0, abs=1e-3)


def test_parked_car_seen_from_a_passing_ego_stays_standing():
    # As the ego passes, the parked car's rear face drops out of view: its centroid jumps
    # 2 m forward in 0.1 s. That is not motion (the old boundary estimate read 6.9 m/s
    # from such a view change on the curve).
    tracker = ObstacleTracker(0.7, 40.0)
    parked = [(12.0, -3.3, 0.0, 4.5, 1.9, 1.5)]
    tracker.update(0.0, odom_points(parked, (0.0, -1.75, 0.0)))
    motion = tracker.update(0.1, odom_points(parked, (11.0, -1.75, 0.0)))
    assert not motion.any()


def test_car_following_a_curve_gets_its_yaw_rate():
    # One second of clouds: the estimate settles on the true rate. It used to settle on
    # twice that (the smoothed velocity's lag counted as turning).
    radius, speed, dt = 30.0, 10.0, 0.1
    tracker = ObstacleTracker(0.7, 40.0)
    for k in range(11):
        angle = speed * dt * k / radius
        box = (radius * math.sin(angle), radius * (1 - math.cos(angle)), angle, 4.5, 1.9, 1.5)
        motion = tracker.update(dt * k, odom_points([box], (-20.0, -10.0, 0.0)))
    assert motion[:, 2] == pytest.approx(speed / radius, rel=0.1)


def test_a_face_edge_coming_into_view_does_not_bend_a_straight_car():
    # Expert drive, intersection_left seed 2: one column of a face came into view on the
    # oncoming car (196 -> 203 points, same extent); its centroid moved sideways and the
    # car, driving straight, got a 0.07 rad/s yaw rate. Predicted 3.6 s on, that bent it
    # into the waiting ego's left turn: a false AEB brake.
    tracker = ObstacleTracker(0.7, 40.0)
    speed, dt = -7.5, 0.1
    for k in range(5):
        cloud = odom_points([(30.0 + speed * dt * k, 1.8, math.pi, 4.5, 1.9, 1.5)],
                            (0.0, -1.8, 0.0))
        if k == 4:   # the far face's first column, one sample in from the corner column
            corner = cloud[np.isclose(cloud[:, 0], cloud[:, 0].max())]
            cloud = np.vstack([cloud, corner + [0.0, 0.25]])
        motion = tracker.update(dt * k, cloud)
    assert motion[:, 0] == pytest.approx(speed, abs=0.05)
    assert np.abs(motion[:, 1]).max() < 0.02
    assert np.abs(motion[:, 2]).max() < 0.01


def test_two_cars_that_come_close_keep_their_own_velocities():
    # Expert drive, intersection_left seed 15: the car crossing the junction northwards and
    # the oncoming car passing it came within a cell of each other and formed one cluster.
    # It kept the oncoming car's velocity, so the crossing car's points, standing in the
    # ego's lane, were predicted to rush at the ego: a false AEB brake.
    tracker = ObstacleTracker(0.7, 40.0)
    dt = 0.1
    for k in range(6):
        crossing = (46.8, -6.0 + 8.0 * dt * k, math.pi / 2, 4.5, 1.9, 1.5)
        oncoming = (53.0 - 9.0 * dt * k, 1.8, math.pi, 4.5, 1.9, 1.5)
        cloud = odom_points([crossing, oncoming], (38.0, -1.8, 0.0))
        motion = tracker.update(dt * k, cloud)
    assert len(set(cluster_labels(cloud, 0.7))) == 1      # the last cloud: one cluster
    crossing_points = cloud[:, 1] < 0.55     # the cars' boxes end 0.6 m apart in y
    assert np.abs(motion[crossing_points, :2] - [0.0, 8.0]).max() < 0.1
    assert np.abs(motion[~crossing_points, :2] - [-9.0, 0.0]).max() < 0.1


def test_the_cut_between_two_touching_cars_does_not_turn_either():
    # Expert drive, intersection_left seed 18: the oncoming car passed right behind the
    # crossing car. Cut apart, each part's box changed within the shape tolerance, and the
    # displacement against a cut part read as a swerve: 0.67 rad/s on a straight car.
    tracker = ObstacleTracker(0.7, 40.0)
    dt, yaw_rates = 0.1, []
    for k in range(16):
        crossing = (46.75, -4.04 + 8.0 * dt * k, math.pi / 2, 4.5, 1.9, 1.5)
        oncoming = (58.55 - 8.75 * dt * k, 1.75, math.pi, 4.5, 1.9, 1.5)
        motion = tracker.update(dt * k, odom_points([crossing, oncoming], (37.4, -1.8, 0.0)))
        yaw_rates.append(np.abs(motion[:, 2]).max())
    assert max(yaw_rates) < 0.05
