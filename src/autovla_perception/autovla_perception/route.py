"""The route ahead in base_link and the driving command it implies."""

import math
from typing import Tuple

import numpy as np

# Values of autovla_msgs/DrivingCommand.command.
UNKNOWN, TURN_LEFT, KEEP_FORWARD, TURN_RIGHT = 0, 1, 2, 3


def to_base_link(points: np.ndarray, pose: Tuple[float, float, float]) -> np.ndarray:
    """Express (N, 2) points of the pose's frame in base_link at ``pose`` (x, y, yaw)."""
    x, y, yaw = pose
    cos, sin = math.cos(yaw), math.sin(yaw)
    shifted = np.asarray(points, dtype=float) - (x, y)
    return np.stack([cos * shifted[:, 0] + sin * shifted[:, 1],
                     -sin * shifted[:, 0] + cos * shifted[:, 1]], axis=1)


def _polyline(points: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Drop repeated points; return points and cumulative arc length."""
    keep = np.ones(len(points), dtype=bool)
    keep[1:] = np.linalg.norm(np.diff(points, axis=0), axis=1) > 1e-6
    points = points[keep]
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    return points, arc


def _closest_arc(points: np.ndarray, arc: np.ndarray) -> float:
    """Arc length of the point of the polyline closest to the origin."""
    starts, segments = points[:-1], np.diff(points, axis=0)
    lengths_sq = np.einsum('ij,ij->i', segments, segments)
    t = np.clip(np.einsum('ij,ij->i', -starts, segments) / lengths_sq, 0.0, 1.0)
    nearest = starts + t[:, None] * segments
    index = int(np.argmin(np.einsum('ij,ij->i', nearest, nearest)))
    return float(arc[index] + t[index] * math.sqrt(lengths_sq[index]))


def route_ahead(points_base_link: np.ndarray, lookahead_m: float,
                spacing_m: float) -> np.ndarray:
    """Resample the route every ``spacing_m`` from the closest point up to ``lookahead_m`` ahead.

    Input and output are (N, 2) in base_link; the output is nearest first and starts at the
    point of the route closest to the vehicle. Fewer than two distinct points: empty.
    """
    points, arc = _polyline(np.asarray(points_base_link, dtype=float))
    if len(points) < 2:
        return np.zeros((0, 2))
    start = _closest_arc(points, arc)
    stations = np.arange(start, min(start + lookahead_m, arc[-1]) + 1e-9, spacing_m)
    return np.stack([np.interp(stations, arc, points[:, 0]),
                     np.interp(stations, arc, points[:, 1])], axis=1)


def command_from_route(points_base_link: np.ndarray, lookahead_m: float,
                       threshold_rad: float) -> int:
    """TURN_LEFT / KEEP_FORWARD / TURN_RIGHT from the route's heading change ahead.

    The heading change is the route direction ``lookahead_m`` along the route past the
    point closest to the vehicle (or the last segment if the route ends first) minus the
    direction at that closest point. More than ``threshold_rad`` to the left: TURN_LEFT;
    to the right: TURN_RIGHT; otherwise KEEP_FORWARD. UNKNOWN without a usable route.
    """
    points, arc = _polyline(np.asarray(points_base_link, dtype=float))
    if len(points) < 2:
        return UNKNOWN
    start = _closest_arc(points, arc)
    headings = np.arctan2(np.diff(points[:, 1]), np.diff(points[:, 0]))

    def heading_at(station: float) -> float:
        index = int(np.searchsorted(arc, station, side='right')) - 1
        return float(headings[min(max(index, 0), len(headings) - 1)])

    change = heading_at(start + lookahead_m) - heading_at(start)
    change = math.atan2(math.sin(change), math.cos(change))
    if change > threshold_rad:
        return TURN_LEFT
    if change < -threshold_rad:
        return TURN_RIGHT
    return KEEP_FORWARD
