"""Render geometry: a known 3D point lands on the expected pixel of each nuScenes camera."""

import math
from pathlib import Path

from autovla_common.rig import load_rig
from autovla_scenarios.geometry import box_corners, build_path, rectangles_overlap
from autovla_scenarios.render import Box, Renderer, SKY
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

RIG = load_rig(Path(__file__).resolve().parents[3] / 'config' / 'rigs' / 'nuscenes.yaml')
WIDTH, HEIGHT = 400, 225


def expected_pixel(camera, point_base):
    """Independent pinhole projection: scipy quaternion, intrinsics scaled by 1/4."""
    rotation = Rotation.from_quat(camera.rotation_xyzw)   # optical -> base_link
    in_optical = rotation.inv().apply(np.asarray(point_base) - np.asarray(camera.translation))
    fx, fy, cx, cy = camera.intrinsics
    scale = WIDTH / camera.width
    return (fx * scale * in_optical[0] / in_optical[2] + cx * scale,
            fy * scale * in_optical[1] / in_optical[2] + cy * scale)


@pytest.mark.parametrize('camera', RIG.cameras, ids=lambda c: c.name)
def test_a_point_lands_on_the_expected_pixel(camera):
    # A point 12 m along the camera's viewing axis, 0.3 m right and 0.2 m up of it.
    rotation = Rotation.from_quat(camera.rotation_xyzw)
    target = np.asarray(camera.translation) + rotation.apply([0.3, -0.2, 12.0])
    u, v = expected_pixel(camera, target)
    assert 0 <= u < WIDTH and 0 <= v < HEIGHT
    # A small red cube (0.3 m) centred on the target, nothing else in the scene; its lit
    # interior pixels (outlines are darker) must centre on the expected pixel.
    size = 0.3
    cube = Box(target[0], target[1], 0.0, size, size, size, (0, 0, 255), target[2] - size / 2)
    renderer = Renderer(RIG, WIDTH, HEIGHT)
    images = renderer.render((0.0, 0.0, 0.0), [], [cube])
    red = np.argwhere((images[camera.name][..., 2] > 150) & (images[camera.name][..., 0] < 100))
    assert len(red) > 0, 'cube not rendered'
    assert red[:, 1].mean() == pytest.approx(u, abs=1.5)
    assert red[:, 0].mean() == pytest.approx(v, abs=1.5)


def test_empty_scene_is_sky_above_grass():
    image = Renderer(RIG, WIDTH, HEIGHT).render((0.0, 0.0, 0.0), [], [])['CAM_FRONT']
    assert tuple(image[0, WIDTH // 2]) == SKY
    assert tuple(image[-1, WIDTH // 2]) != SKY


def test_build_path_arc_ends_where_circle_geometry_says():
    path = build_path((0.0, 0.0), 0.0, [('straight', 10.0), ('arc', 20.0, 90.0)])
    # Quarter circle of radius 20 turning left from (10, 0): ends at (30, 20) heading +y.
    assert path.xy[-1] == pytest.approx([30.0, 20.0], abs=1e-6)
    assert path.yaw[-1] == pytest.approx(math.pi / 2)
    assert path.length == pytest.approx(10.0 + 20.0 * math.pi / 2, rel=1e-3)


def test_rectangles_overlap_separating_axis():
    a = box_corners(0.0, 0.0, 0.0, 4.0, 2.0)
    assert rectangles_overlap(a, box_corners(3.9, 0.0, 0.0, 4.0, 2.0))
    assert not rectangles_overlap(a, box_corners(4.1, 0.0, 0.0, 4.0, 2.0))
    # Rotated 45 deg, centre 3.2 m ahead: its nearest corner reaches 3.2 - 1.414 = 1.79 < 2.
    assert rectangles_overlap(a, box_corners(3.2, 0.0, math.pi / 4, 2.0, 2.0))
    assert not rectangles_overlap(a, box_corners(3.5, 0.0, math.pi / 4, 2.0, 2.0))
