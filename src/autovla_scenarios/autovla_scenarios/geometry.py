"""Plane geometry for roads, routes and boxes: sampled paths, offsets, oriented rectangles."""

from dataclasses import dataclass
import math
from typing import Sequence, Tuple

import numpy as np

PATH_STEP_M = 0.25


@dataclass(frozen=True)
class Path2D:
    """A densely sampled planar path: positions, heading, arc length and curvature per sample."""

    xy: np.ndarray         # (N, 2) m
    yaw: np.ndarray        # (N,) rad
    s: np.ndarray          # (N,) m, arc length from the first sample
    curvature: np.ndarray  # (N,) 1/m, positive turning left

    @property
    def length(self) -> float:
        """Arc length of the whole path (m)."""
        return float(self.s[-1])

    def at(self, s: float) -> Tuple[float, float, float, float]:
        """Interpolate (x, y, yaw, curvature) at arc length ``s``, extrapolating straight ends."""
        if s <= 0.0 or s >= self.length:
            index = 0 if s <= 0.0 else -1
            yaw = float(self.yaw[index])
            beyond = s - float(self.s[index])
            return (float(self.xy[index, 0]) + beyond * math.cos(yaw),
                    float(self.xy[index, 1]) + beyond * math.sin(yaw), yaw, 0.0)
        x = float(np.interp(s, self.s, self.xy[:, 0]))
        y = float(np.interp(s, self.s, self.xy[:, 1]))
        yaw = float(np.interp(s, self.s, self.yaw))   # continuous: built by accumulation
        return x, y, yaw, float(np.interp(s, self.s, self.curvature))

    def offset(self, lateral: float) -> 'Path2D':
        """Return the parallel path ``lateral`` m to the left (negative = right)."""
        normal = np.stack([-np.sin(self.yaw), np.cos(self.yaw)], axis=1)
        xy = self.xy + lateral * normal
        steps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
        with np.errstate(divide='ignore', invalid='ignore'):
            curvature = np.where(np.abs(1.0 - lateral * self.curvature) > 1e-9,
                                 self.curvature / (1.0 - lateral * self.curvature), 0.0)
        return Path2D(xy, self.yaw.copy(), np.concatenate([[0.0], np.cumsum(steps)]), curvature)

    def reversed(self) -> 'Path2D':
        """Return the same curve driven the other way."""
        xy = self.xy[::-1].copy()
        steps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
        return Path2D(xy, self.yaw[::-1] + math.pi, np.concatenate([[0.0], np.cumsum(steps)]),
                      -self.curvature[::-1])

    def project(self, point: Sequence[float]) -> Tuple[float, float]:
        """Arc length of the nearest sample and signed lateral offset (left positive)."""
        delta = self.xy - np.asarray(point, dtype=float)[:2]
        index = int(np.argmin(np.einsum('ij,ij->i', delta, delta)))
        yaw = self.yaw[index]
        dx, dy = -delta[index]
        along = dx * math.cos(yaw) + dy * math.sin(yaw)
        lateral = -dx * math.sin(yaw) + dy * math.cos(yaw)
        return float(self.s[index] + along), float(lateral)


def build_path(start: Tuple[float, float], yaw: float,
               segments: Sequence[Tuple], step: float = PATH_STEP_M) -> Path2D:
    """Chain segments ('straight', length) and ('arc', radius, signed angle in degrees)."""
    x, y = start
    points, yaws, curvatures = [(x, y)], [yaw], [0.0]
    for segment in segments:
        if segment[0] == 'straight':
            length, curvature = float(segment[1]), 0.0
        elif segment[0] == 'arc':
            radius, angle = float(segment[1]), math.radians(float(segment[2]))
            length, curvature = radius * abs(angle), math.copysign(1.0 / radius, angle)
        else:
            raise ValueError(f'unknown path segment {segment!r}')
        count = max(1, int(math.ceil(length / step)))
        ds = length / count
        for _ in range(count):
            if curvature == 0.0:
                x += ds * math.cos(yaw)
                y += ds * math.sin(yaw)
            else:
                new_yaw = yaw + curvature * ds
                x += (math.sin(new_yaw) - math.sin(yaw)) / curvature
                y -= (math.cos(new_yaw) - math.cos(yaw)) / curvature
                yaw = new_yaw
            points.append((x, y))
            yaws.append(yaw)
            curvatures.append(curvature)
    xy = np.array(points)
    steps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    return Path2D(xy, np.array(yaws), np.concatenate([[0.0], np.cumsum(steps)]),
                  np.array(curvatures))


def lane_change_path(base: Path2D, start_s: float, length: float, shift: float) -> Path2D:
    """Move ``base`` ``shift`` m to the left over ``length`` m from ``start_s`` (smooth S)."""
    progress = np.clip((base.s - start_s) / length, 0.0, 1.0)
    lateral = shift * progress * progress * (3.0 - 2.0 * progress)
    normal = np.stack([-np.sin(base.yaw), np.cos(base.yaw)], axis=1)
    xy = base.xy + lateral[:, None] * normal
    delta = np.diff(xy, axis=0)
    yaw = np.unwrap(np.arctan2(delta[:, 1], delta[:, 0]))
    yaw = np.append(yaw, yaw[-1])
    steps = np.linalg.norm(delta, axis=1)
    s = np.concatenate([[0.0], np.cumsum(steps)])
    curvature = np.gradient(yaw, s)
    return Path2D(xy, yaw, s, curvature)


def box_corners(x: float, y: float, yaw: float, length: float, width: float) -> np.ndarray:
    """(4, 2) corners of an oriented rectangle centred on (x, y), counter-clockwise."""
    c, s = math.cos(yaw), math.sin(yaw)
    half = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]]) * [length / 2, width / 2]
    return half @ np.array([[c, s], [-s, c]]) + [x, y]


def rectangles_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Separating-axis test of two convex quadrilaterals given as (4, 2) corners."""
    for corners in (a, b):
        edges = np.roll(corners, -1, axis=0) - corners
        for edge in edges:
            axis = np.array([-edge[1], edge[0]])
            pa, pb = a @ axis, b @ axis
            if pa.max() < pb.min() or pb.max() < pa.min():
                return False
    return True


def to_frame(points_xy: np.ndarray, origin: Tuple[float, float, float]) -> np.ndarray:
    """Express world points (N, 2) in the frame at pose (x, y, yaw)."""
    x, y, yaw = origin
    c, s = math.cos(yaw), math.sin(yaw)
    delta = np.asarray(points_xy, dtype=float) - [x, y]
    return np.stack([delta[:, 0] * c + delta[:, 1] * s, -delta[:, 0] * s + delta[:, 1] * c],
                    axis=1)


def wrap_angle(angle: float) -> float:
    """Wrap to (-pi, pi]."""
    return math.atan2(math.sin(angle), math.cos(angle))
