"""Plan placement in odom, the odometry history, and polyline projection (values by hand)."""

import math

from autovla_safety.trajectory import (
    EgoState,
    Plan,
    plan_to_odom,
    PoseHistory,
    project_on_polyline,
)
import numpy as np
import pytest


def test_plan_is_placed_with_the_pose_at_its_stamp():
    # Ego at (10, 20) facing +y (yaw 90 deg): base_link forward is odom +y, left is odom -x.
    plan = Plan(stamp=5.0, frame_id='base_link', t=np.array([0.5, 1.0]), x=np.array([1.0, 2.0]),
                y=np.array([0.0, 1.0]), yaw=np.array([0.0, 0.5]), velocity=np.array([2.0, 2.0]),
                acceleration=np.zeros(2), curvature=np.zeros(2), confidence=1.0)
    pose = EgoState(5.0, 10.0, 20.0, math.pi / 2, 1.5)
    trajectory = plan_to_odom(plan, pose)
    np.testing.assert_allclose(trajectory.t, [5.0, 5.5, 6.0])
    np.testing.assert_allclose(trajectory.x, [10.0, 10.0, 9.0], atol=1e-12)
    np.testing.assert_allclose(trajectory.y, [20.0, 21.0, 22.0])
    np.testing.assert_allclose(trajectory.yaw, [math.pi / 2, math.pi / 2, math.pi / 2 + 0.5])
    np.testing.assert_allclose(trajectory.v, [1.5, 2.0, 2.0])  # origin at the odometry speed
    np.testing.assert_allclose(trajectory.s, [0.0, 1.0, 1.0 + math.sqrt(2.0)])


def history():
    poses = PoseHistory(length=3.0)
    for i in range(11):  # 10 Hz along +x at 1 m/s, turning at 0.1 rad/s
        poses.add(EgoState(100.0 + 0.1 * i, 0.1 * i, 0.0, 0.01 * i, 1.0))
    return poses


def test_history_interpolates_between_poses():
    state = history().at(100.25, tolerance=0.1)
    assert state.x == pytest.approx(0.25) and state.yaw == pytest.approx(0.025)


def test_history_uses_the_nearest_pose_only_within_the_tolerance():
    poses = history()
    assert poses.at(101.05, tolerance=0.1).x == pytest.approx(1.0)
    assert poses.at(101.2, tolerance=0.1) is None
    assert poses.at(99.95, tolerance=0.1).x == pytest.approx(0.0)
    assert poses.at(99.8, tolerance=0.1) is None


def test_history_interpolates_yaw_across_pi():
    poses = PoseHistory(length=3.0)
    poses.add(EgoState(0.0, 0.0, 0.0, math.pi - 0.1, 0.0))
    poses.add(EgoState(1.0, 0.0, 0.0, -math.pi + 0.1, 0.0))
    assert abs(poses.at(0.5, 0.0).yaw) == pytest.approx(math.pi)


def test_history_forgets_old_poses_and_restarts_after_a_clock_jump():
    poses = history()
    poses.add(EgoState(104.0, 4.0, 0.0, 0.0, 1.0))
    assert poses.at(100.5, tolerance=0.1) is None  # more than 3 s before the newest
    poses.add(EgoState(50.0, 7.0, 0.0, 0.0, 1.0))  # replay restarted
    assert poses.latest.x == 7.0 and poses.at(104.0, tolerance=0.1) is None


def test_projection_on_a_polyline():
    xs, ys = np.array([0.0, 10.0, 10.0]), np.array([0.0, 0.0, 10.0])
    assert project_on_polyline(xs, ys, 4.0, 3.0) == (0, pytest.approx(0.4), pytest.approx(3.0))
    index, frac, distance = project_on_polyline(xs, ys, 12.0, 6.0)
    assert (index, frac, distance) == (1, pytest.approx(0.6), pytest.approx(2.0))
