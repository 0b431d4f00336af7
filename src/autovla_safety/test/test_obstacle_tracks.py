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
    radius, speed, dt = 30.0, 10.0, 0.1
    tracker = ObstacleTracker(0.7, 40.0)
    for k in range(4):
        angle = speed * dt * k / radius
        box = (radius * math.sin(angle), radius * (1 - math.cos(angle)), angle, 4.5, 1.9, 1.5)
        motion = tracker.update(dt * k, odom_points([box], (-20.0, -10.0, 0.0)))
    assert motion[:, 2] == pytest.approx(speed / radius, rel=0.2)
