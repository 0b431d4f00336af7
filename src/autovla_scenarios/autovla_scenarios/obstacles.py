"""The world's boxes as a range sensor sees them: an (N, 3) point cloud in base_link.

A simple, deterministic stand-in for a lidar or radar driver: every agent box within range
is sampled on the vertical faces that look towards the sensor (at base_link, on the
ground), on a grid of ``spacing`` metres. No occlusion, no noise, no ground returns: the
safety node's obstacle check (AEB) must already cope with those from a real driver; this
cloud only has to put the world's obstacles where they are.
"""

from dataclasses import dataclass
import math
from typing import List, Sequence, Tuple

import numpy as np

from autovla_scenarios import messages
from autovla_scenarios.typestore import msg_class
from autovla_scenarios.world import Scenario

# sensor_msgs/PointField datatype FLOAT32; x, y, z packed as three little-endian floats.
FLOAT32 = 7
POINT_STEP = 12
CLOUD_FRAME = 'base_link'


@dataclass(frozen=True)
class CloudConfig:
    """How densely and how far the simulated range sensor samples the boxes."""

    spacing: float = 0.25        # m between samples along a face and in height
    max_range: float = 60.0      # m from base_link; farther boxes are not seen
    min_height: float = 0.2      # m above the ground: the lowest sample of a face

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        if not 0.02 <= self.spacing <= 2.0:
            raise ValueError(f'spacing {self.spacing} m must be in [0.02, 2]')
        if not 1.0 <= self.max_range <= 500.0:
            raise ValueError(f'max_range {self.max_range} m must be in [1, 500]')
        if not 0.0 <= self.min_height <= 2.0:
            raise ValueError(f'min_height {self.min_height} m must be in [0, 2]')


def world_boxes(scenario: Scenario, t: float) -> List[Tuple[float, ...]]:
    """Every agent's box at scenario time ``t``: (x, y, yaw, length, width, height) in odom."""
    return [(*agent.pose(t), *agent.size) for agent in scenario.agents]


def _face_points(start: np.ndarray, end: np.ndarray, height: float,
                 config: CloudConfig) -> np.ndarray:
    """Grid on the vertical face above the ground segment ``start`` -> ``end``."""
    columns = max(2, int(math.ceil(np.linalg.norm(end - start) / config.spacing)) + 1)
    bottom = min(config.min_height, height)
    rows = max(1, int(math.ceil((height - bottom) / config.spacing)) + 1)
    along = np.linspace(0.0, 1.0, columns)
    xy = start + along[:, None] * (end - start)
    z = np.linspace(bottom, height, rows)
    return np.column_stack([np.repeat(xy, rows, axis=0), np.tile(z, columns)])


def obstacle_points(boxes: Sequence[Tuple[float, ...]], ego_pose: Tuple[float, float, float],
                    config: CloudConfig = CloudConfig()) -> np.ndarray:
    """(N, 3) float32 points in base_link of the box faces the sensor at ``ego_pose`` sees.

    ``boxes``: (x, y, yaw, length, width, height) in odom; ``ego_pose``: base_link (x, y, yaw)
    in odom. A face is seen when its outward normal points towards the sensor.
    """
    config.validate()
    ex, ey, eyaw = ego_pose
    cos_e, sin_e = math.cos(eyaw), math.sin(eyaw)
    to_base = np.array([[cos_e, -sin_e], [sin_e, cos_e]])   # row vectors: odom -> base_link
    clouds = [np.zeros((0, 3))]
    for x, y, yaw, length, width, height in boxes:
        if math.hypot(x - ex, y - ey) - math.hypot(length, width) / 2 > config.max_range:
            continue
        c, s = math.cos(yaw), math.sin(yaw)
        half = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]]) * [length / 2, width / 2]
        corners = (half @ np.array([[c, s], [-s, c]]) + [x, y] - [ex, ey]) @ to_base
        center = corners.mean(axis=0)
        for i in range(4):
            start, end = corners[i], corners[(i + 1) % 4]
            middle = (start + end) / 2
            # Corners run counter-clockwise, so the outward normal is the edge turned right.
            normal = np.array([end[1] - start[1], start[0] - end[0]])
            if np.dot(normal, middle - center) < 0:
                normal = -normal
            if np.dot(normal, -middle) > 0:
                clouds.append(_face_points(start, end, height, config))
    points = np.concatenate(clouds)
    in_range = np.linalg.norm(points[:, :2], axis=1) <= config.max_range
    return points[in_range].astype(np.float32)


def scene_points(scenario: Scenario, t: float, ego_pose: Tuple[float, float, float],
                 config: CloudConfig = CloudConfig()) -> np.ndarray:
    """Return the cloud of ``scenario`` at time ``t`` seen from ``ego_pose`` (odom)."""
    return obstacle_points(world_boxes(scenario, t), ego_pose, config)


def point_cloud(stamp: int, points: np.ndarray, frame_id: str = CLOUD_FRAME):
    """sensor_msgs/PointCloud2 (rosbags) of (N, 3) points: x, y, z float32, unorganised.

    ``typestore().serialize_cdr`` turns it into bytes that rclpy publishers accept as is.
    """
    points = np.ascontiguousarray(points, dtype='<f4').reshape(-1, 3)
    field = msg_class('sensor_msgs/msg/PointField')
    return msg_class('sensor_msgs/msg/PointCloud2')(
        header=messages.header(stamp, frame_id), height=1, width=len(points),
        fields=[field(name=name, offset=4 * i, datatype=FLOAT32, count=1)
                for i, name in enumerate('xyz')],
        is_bigendian=False, point_step=POINT_STEP, row_step=POINT_STEP * len(points),
        data=points.view(np.uint8).ravel(), is_dense=True)
