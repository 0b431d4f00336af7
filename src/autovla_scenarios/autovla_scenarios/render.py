"""Pinhole rendering of a scenario for every camera of a rig (OpenCV polygons, painter's order).

The ground (grass, asphalt, markings, zebra stripes) is a set of flat polygons at z = 0; agents
are boxes standing on the ground. Each polygon is moved into the camera's optical frame with
the rig extrinsics, clipped at a near plane, projected with the (scaled) intrinsics and filled.
"""

from dataclasses import dataclass
import math
from typing import Dict, List, Optional, Sequence, Tuple

from autovla_common.rig import CameraRig, CameraSpec
import cv2
import numpy as np

from autovla_scenarios.geometry import box_corners, Path2D
from autovla_scenarios.world import Crosswalk, LANE_WIDTH_M, Road, Scenario, TrafficLight

NEAR_M = 0.3
FAR_M = 150.0
SUBPIXEL_BITS = 4
SKY = (235, 206, 150)
GRASS = (70, 125, 85)
ASPHALT = (95, 95, 95)
WHITE = (235, 235, 235)
YELLOW = (20, 200, 235)
EDGE_DARKEN = 0.45
RED_LIGHT = (30, 30, 230)
GREEN_LIGHT = (60, 200, 60)
POLE = (60, 60, 60)
# Shading per box face (+x, -x, +y, -y, top): a fixed light direction gives boxes volume.
FACE_SHADE = (0.85, 0.6, 0.75, 0.7, 1.15)


@dataclass(frozen=True)
class GroundPolygon:
    """A flat polygon at z = 0 in the world frame."""

    xy: np.ndarray                # (N, 2)
    color: Tuple[int, int, int]


@dataclass(frozen=True)
class Box:
    """An upright box: footprint centre (x, y), heading, size, colour, bottom height."""

    x: float
    y: float
    yaw: float
    length: float
    width: float
    height: float
    color: Tuple[int, int, int]
    bottom: float = 0.0


def _strip(left: np.ndarray, right: np.ndarray, color) -> List[GroundPolygon]:
    """Quads between two sampled polylines of equal length."""
    return [GroundPolygon(np.array([left[i], left[i + 1], right[i + 1], right[i]]), color)
            for i in range(len(left) - 1)]


def _resample(path: Path2D, s_values: np.ndarray) -> np.ndarray:
    return np.array([path.at(float(s))[:2] for s in s_values])


def _line_polygons(path: Path2D, lateral: float, width: float, color, dash: float,
                   gap: float, skip: Sequence[Tuple[float, float]]) -> List[GroundPolygon]:
    """Paint a line along ``path`` at ``lateral``; dashed when ``gap`` > 0."""
    polygons = []
    period = dash + gap if gap > 0 else dash
    for start in np.arange(0.0, path.length - 0.5, period):
        end = min(start + dash, path.length)
        if any(s0 < end and start < s1 for s0, s1 in skip):
            continue
        s_values = np.linspace(start, end, 3)
        left = _resample(path.offset(lateral + width / 2), s_values)
        right = _resample(path.offset(lateral - width / 2), s_values)
        polygons.extend(_strip(left, right, color))
    return polygons


def road_polygons(road: Road, step: float = 4.0) -> List[GroundPolygon]:
    """Asphalt quads of ``road`` (both lanes plus a 0.3 m shoulder)."""
    path = road.centerline
    s_values = np.append(np.arange(0.0, path.length, step), path.length)
    half = LANE_WIDTH_M + 0.3
    return _strip(_resample(path.offset(half), s_values),
                  _resample(path.offset(-half), s_values), ASPHALT)


def marking_polygons(road: Road) -> List[GroundPolygon]:
    """Edge lines and centre line of ``road`` (drawn after every road's asphalt)."""
    path, gaps = road.centerline, road.marking_gaps
    polygons = []
    for side in (1.0, -1.0):
        polygons += _line_polygons(path, side * LANE_WIDTH_M, 0.15, WHITE, 6.0, 0.0, gaps)
    if road.same_direction:
        polygons += _line_polygons(path, 0.0, 0.15, WHITE, 3.0, 6.0, gaps)
    else:
        polygons += _line_polygons(path, 0.0, 0.15, YELLOW, 6.0, 0.0, gaps)
    return polygons


def crosswalk_polygons(crosswalk: Crosswalk) -> List[GroundPolygon]:
    """Zebra stripes: 0.5 m wide, 0.5 m apart, across the road."""
    polygons = []
    cx, cy = crosswalk.center
    along = np.array([math.cos(crosswalk.yaw), math.sin(crosswalk.yaw)])
    for offset in np.arange(-crosswalk.length / 2 + 0.25, crosswalk.length / 2, 1.0):
        centre = np.array([cx, cy]) + offset * along
        polygons.append(GroundPolygon(
            box_corners(centre[0], centre[1], crosswalk.yaw, 0.5, crosswalk.depth), WHITE))
    return polygons


def stop_line_polygon(scenario: Scenario, light: TrafficLight) -> GroundPolygon:
    """Return a 0.4 m white bar across the ego lane at the light's stop line."""
    x, y, yaw, _ = scenario.route.at(light.stop_s)
    return GroundPolygon(box_corners(x, y, yaw, 0.4, LANE_WIDTH_M - 0.2), WHITE)


def scene_ground(scenario: Scenario) -> List[GroundPolygon]:
    """Every ground polygon of ``scenario`` in drawing order."""
    polygons = []
    for road in scenario.roads:
        polygons += road_polygons(road)
    for road in scenario.roads:
        polygons += marking_polygons(road)
    for crosswalk in scenario.crosswalks:
        polygons += crosswalk_polygons(crosswalk)
    polygons += [stop_line_polygon(scenario, light) for light in scenario.traffic_lights]
    return polygons


def scene_boxes(scenario: Scenario, t: float,
                agent_poses: Optional[Sequence[Tuple[float, float, float]]] = None) -> List[Box]:
    """Agents (at ``agent_poses`` or their scripted poses at ``t``) and traffic lights."""
    poses = agent_poses if agent_poses is not None else [a.pose(t) for a in scenario.agents]
    boxes = [Box(*pose, *agent.size, agent.bgr) for agent, pose in zip(scenario.agents, poses)]
    for light in scenario.traffic_lights:
        x, y = light.position
        boxes.append(Box(x, y, 0.0, 0.2, 0.2, 3.0, POLE))
        boxes.append(Box(x, y, 0.0, 0.5, 0.5, 0.9, RED_LIGHT if light.red(t) else GREEN_LIGHT,
                         bottom=3.0))
    return boxes


def _clip_near(points: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman clip of a camera-frame polygon against z >= NEAR_M."""
    out = []
    count = len(points)
    for i in range(count):
        current, following = points[i], points[(i + 1) % count]
        inside_now, inside_next = current[2] >= NEAR_M, following[2] >= NEAR_M
        if inside_now:
            out.append(current)
        if inside_now != inside_next:
            fraction = (NEAR_M - current[2]) / (following[2] - current[2])
            out.append(current + fraction * (following - current))
    return np.array(out)


class Renderer:
    """Renders world polygons and boxes into every camera of ``rig`` at one resolution."""

    def __init__(self, rig: CameraRig, width: int, height: int):
        self.rig = rig
        self.width, self.height = width, height
        self.intrinsics = {camera.name: camera.resized(width, height).intrinsics
                           for camera in rig.cameras}

    def render(self, ego_pose: Tuple[float, float, float], ground: Sequence[GroundPolygon],
               boxes: Sequence[Box], lighting: float = 1.0) -> Dict[str, np.ndarray]:
        """BGR image per camera name for the ego at world pose (x, y, yaw).

        ``lighting`` scales the brightness (time of day); 1.0 leaves the image untouched.
        """
        ex, ey, eyaw = ego_pose
        c, s = math.cos(eyaw), math.sin(eyaw)
        world_to_base = np.array([[c, s], [-s, c]])
        near = [g for g in ground
                if np.min(np.hypot(g.xy[:, 0] - ex, g.xy[:, 1] - ey)) < FAR_M]
        quads = np.array([g.xy for g in near]).reshape(-1, 4, 2)
        quads = np.concatenate([(quads - [ex, ey]) @ world_to_base.T,
                                np.zeros(quads.shape[:2] + (1,))], axis=2)
        colors = [g.color for g in near]
        box_faces = [self._box_faces(box, (ex, ey), world_to_base) for box in boxes]
        images = {camera.name: self._render_camera(camera, (quads, colors), box_faces)
                  for camera in self.rig.cameras}
        if lighting != 1.0:
            images = {name: cv2.convertScaleAbs(image, alpha=lighting)
                      for name, image in images.items()}
        return images

    @staticmethod
    def _box_faces(box: Box, ego_xy, world_to_base) -> List[Tuple[np.ndarray, np.ndarray, int]]:
        """Faces of ``box`` in base_link: (4x3 corners, outward normal, shade index)."""
        corners = box_corners(box.x, box.y, box.yaw, box.length, box.width)
        base = (corners - ego_xy) @ world_to_base.T
        bottom = np.column_stack([base, np.full(4, box.bottom)])
        top = np.column_stack([base, np.full(4, box.bottom + box.height)])
        centre = np.append(base.mean(axis=0), box.bottom + box.height / 2)
        faces = []
        for index, (a, b) in enumerate(((3, 0), (1, 2), (0, 1), (2, 3))):
            quad = np.array([bottom[a], bottom[b], top[b], top[a]])
            normal = quad.mean(axis=0) - centre
            normal[2] = 0.0
            faces.append((quad, normal, index))
        faces.append((top, np.array([0.0, 0.0, 1.0]), 4))
        return [(quad, normal, shade, box.color) for quad, normal, shade in faces]

    def _render_camera(self, camera: CameraSpec, ground, box_faces) -> np.ndarray:
        fx, fy, cx, cy = self.intrinsics[camera.name]
        image = np.empty((self.height, self.width, 3), np.uint8)
        image[:] = SKY
        rotation, origin = camera.rotation_matrix, np.asarray(camera.translation)
        scale = float(1 << SUBPIXEL_BITS)

        def draw(points_base: np.ndarray, color, outline=None) -> None:
            points = _clip_near((points_base - origin) @ rotation)
            if len(points) < 3:
                return
            uv = np.column_stack([fx * points[:, 0] / points[:, 2] + cx,
                                  fy * points[:, 1] / points[:, 2] + cy])
            if np.all(uv[:, 0] < 0) or np.all(uv[:, 0] >= self.width) or \
                    np.all(uv[:, 1] < 0) or np.all(uv[:, 1] >= self.height):
                return
            pixels = np.round(np.clip(uv, -1e6, 1e6) * scale).astype(np.int32)
            cv2.fillPoly(image, [pixels], color, cv2.LINE_AA, SUBPIXEL_BITS)
            if outline is not None:
                cv2.polylines(image, [pixels], True, outline, 1, cv2.LINE_AA, SUBPIXEL_BITS)

        horizon = 2.5 * FAR_M
        grass = np.array([[horizon, horizon, 0], [-horizon, horizon, 0],
                          [-horizon, -horizon, 0], [horizon, -horizon, 0]])
        draw(grass, GRASS)
        quads, colors = ground
        in_camera = (quads - origin) @ rotation
        depth = in_camera[..., 2]
        in_front = np.all(depth >= NEAR_M, axis=1)
        with np.errstate(divide='ignore', invalid='ignore'):
            uv = np.stack([fx * in_camera[..., 0] / depth + cx,
                           fy * in_camera[..., 1] / depth + cy], axis=2)
        visible = in_front & (uv[..., 0].max(axis=1) >= 0) \
            & (uv[..., 0].min(axis=1) < self.width) \
            & (uv[..., 1].max(axis=1) >= 0) & (uv[..., 1].min(axis=1) < self.height)
        pixels = np.round(np.nan_to_num(uv) * scale).astype(np.int64)
        for index in range(len(quads)):
            if visible[index]:
                cv2.fillPoly(image, [pixels[index].astype(np.int32)], colors[index], cv2.LINE_AA,
                             SUBPIXEL_BITS)
            elif not in_front[index] and np.any(depth[index] >= NEAR_M):
                draw(quads[index], colors[index])
        camera_position = origin
        ordered = sorted(box_faces, key=lambda faces: -np.linalg.norm(
            np.mean([quad.mean(axis=0) for quad, *_ in faces], axis=0) - camera_position))
        for faces in ordered:
            for quad, normal, shade, color in faces:
                if np.dot(normal, camera_position - quad.mean(axis=0)) <= 0.0:
                    continue
                shaded = tuple(int(min(255, v * FACE_SHADE[shade])) for v in color)
                draw(quad, shaded, tuple(int(v * EDGE_DARKEN) for v in color))
        return image
