"""World boxes -> obstacle point cloud: geometry in base_link, range, message round trip."""

import math

from autovla_scenarios.catalogue import make_scenario
from autovla_scenarios.obstacles import (
    CloudConfig,
    obstacle_points,
    point_cloud,
    POINT_STEP,
    scene_points,
    world_boxes,
)
from autovla_scenarios.typestore import typestore
import numpy as np
import pytest

CAR = (4.5, 1.9, 1.6)


def test_car_ahead_shows_only_its_rear_face_at_the_right_distance():
    points = obstacle_points([(10.0, 0.0, 0.0, *CAR)], (0.0, 0.0, 0.0))
    assert len(points) > 20 and points.dtype == np.float32
    np.testing.assert_allclose(points[:, 0], 10.0 - 4.5 / 2, atol=1e-5)
    assert points[:, 1].min() == pytest.approx(-0.95, abs=1e-5)
    assert points[:, 1].max() == pytest.approx(0.95, abs=1e-5)
    assert points[:, 2].min() == pytest.approx(0.2) and points[:, 2].max() == pytest.approx(1.6)


def test_points_are_expressed_in_the_ego_frame():
    # Ego at (100, 50) heading +y (north); a car 10 m north of it, seen from its left rear.
    ego = (100.0, 50.0, math.pi / 2)
    box = (103.0, 60.0, math.pi / 2, *CAR)
    points = obstacle_points([box], ego)
    # Independent check: in base_link the box centre is 10 m ahead and 3 m to the right.
    rear_face = points[np.isclose(points[:, 0], 10.0 - 2.25, atol=1e-4)]
    side_face = points[np.isclose(points[:, 1], -3.0 + 0.95, atol=1e-4)]
    assert len(rear_face) and len(side_face)
    assert len(rear_face) + len(side_face) >= len(points)   # the corner column is on both
    assert rear_face[:, 1].min() == pytest.approx(-3.95, abs=1e-4)
    assert side_face[:, 0].max() == pytest.approx(12.25, abs=1e-4)


def test_boxes_out_of_range_or_behind_a_short_range_are_not_seen():
    config = CloudConfig(max_range=20.0)
    assert len(obstacle_points([(30.0, 0.0, 0.0, *CAR)], (0.0, 0.0, 0.0), config)) == 0
    near = obstacle_points([(-8.0, 0.0, 0.0, *CAR)], (0.0, 0.0, 0.0), config)
    np.testing.assert_allclose(near[:, 0], -8.0 + 2.25, atol=1e-5)   # its front face


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match='spacing'):
        obstacle_points([], (0.0, 0.0, 0.0), CloudConfig(spacing=0.0))


def test_scenario_cloud_holds_the_stopped_vehicle_ahead():
    scenario = make_scenario('stopped_vehicle', 0)
    stopped = scenario.agents[0]
    x, y, _ = stopped.pose(0.0)
    boxes = world_boxes(scenario, 0.0)
    assert boxes[0][:2] == (x, y) and len(boxes) == len(scenario.agents)
    points = scene_points(scenario, 0.0, (0.0, -1.75, 0.0))
    in_lane = points[np.abs(points[:, 1]) < 1.0]
    assert in_lane[:, 0].min() == pytest.approx(x - stopped.size[0] / 2, abs=1e-3)


def test_point_cloud_message_round_trips_through_cdr():
    points = obstacle_points([(10.0, 2.0, 0.3, *CAR)], (0.0, 0.0, 0.0))
    store = typestore()
    data = store.serialize_cdr(point_cloud(123, points), 'sensor_msgs/msg/PointCloud2')
    msg = store.deserialize_cdr(data, 'sensor_msgs/msg/PointCloud2')
    assert msg.header.frame_id == 'base_link' and msg.width == len(points)
    assert [f.name for f in msg.fields] == ['x', 'y', 'z'] and msg.point_step == POINT_STEP
    decoded = np.frombuffer(bytes(msg.data), dtype='<f4').reshape(-1, 3)
    np.testing.assert_array_equal(decoded, points)
