"""Obstacle velocities from consecutive clouds (ROS-free): cluster, associate, difference.

The AEB needs to know where an obstacle will be, not only where it is: a car crossing in
front of the ego will be gone when the ego gets there, a pedestrian stepping towards the
lane will be in it. Each cloud (odometry frame, so the ego's own motion is removed) is cut
into clusters (points in neighbouring cells of ``cluster_distance``); each cluster is
matched with the nearest cluster of the previous cloud, moved by its velocity, and its
velocity is the displacement of its centre (the middle of its extent) over the time
between the clouds. The yaw rate is the slope of a line fitted to the headings of the
last half second of those measurements (a car following a curve keeps turning).

The centre only moves with the obstacle while the sensor sees the same part of it: when
the cluster's point count or extent changes between the two clouds (a face coming into
view as the ego passes a parked car), the displacement says nothing and the previous
estimate is kept. The middle of the extent, not the mean of the points: samples
appearing inside the extent (the first column of a face turning into view) move a mean
sideways, and a straight car read as turning is predicted seconds later into the next
lane. Two tracked obstacles that come within a cell of each other (an oncoming car
passing a crossing one) form one cluster: it is cut apart again along the tracks'
predicted boxes, and each part keeps its track's estimate. A cluster seen for the first
time, or never with a consistent shape, has no velocity: the AEB treats it as standing.
"""

from dataclasses import dataclass, replace
import math
from typing import List, Optional, Tuple

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# A cluster keeps its shape between clouds when its extent changes by at most this much
# (m, along each odometry axis) and its point count by at most this share.
EXTENT_TOLERANCE = 0.3
COUNT_TOLERANCE = 0.2
# Weight of a new velocity measurement against the previous estimate: one cloud of lag
# (0.1 s at 10 Hz) damps the noise of a real sensor's centre.
VELOCITY_GAIN = 0.5
# Below this speed (m/s) the direction of motion is noise: no yaw rate is measured.
MIN_TURNING_SPEED = 1.0
# The yaw rate is the slope of a line fitted to the headings measured over this long (s),
# from at least YAW_MIN_MEASUREMENTS of them. Differencing two successive headings
# instead turns a 3 cm jump of the centre (a face's edge column coming into view) at
# 10 m/s into a 0.35 rad/s error, which bends a prediction 1.5 s ahead by metres.
YAW_WINDOW = 0.55
YAW_MIN_MEASUREMENTS = 3


def cluster_labels(xy: np.ndarray, distance: float) -> np.ndarray:
    """Label (N,) of each point: points in the same or neighbouring grid cells share one."""
    if not len(xy):
        return np.zeros(0, dtype=int)
    cells = np.floor(xy / distance).astype(np.int64)
    cells -= cells.min(axis=0) - 1            # one empty cell of border on each side
    width = int(cells[:, 1].max()) + 2
    keys = cells[:, 0] * width + cells[:, 1]
    occupied, inverse = np.unique(keys, return_inverse=True)
    rows, columns = [], []
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            neighbour = occupied + di * width + dj
            position = np.minimum(np.searchsorted(occupied, neighbour), len(occupied) - 1)
            found = occupied[position] == neighbour
            rows.append(np.flatnonzero(found))
            columns.append(position[found])
    rows, columns = np.concatenate(rows), np.concatenate(columns)
    graph = coo_matrix((np.ones(len(rows)), (rows, columns)),
                       shape=(len(occupied), len(occupied)))
    _, cell_labels = connected_components(graph, directed=False)
    return cell_labels[inverse.reshape(-1)]


@dataclass(frozen=True)
class Cluster:
    """One obstacle as the sensor saw it, with its velocity (odom, m/s) if known."""

    centre: np.ndarray          # middle of the extent (odom)
    extent: np.ndarray          # max - min of its points along the odometry axes
    count: int
    velocity: Optional[np.ndarray] = None
    yaw_rate: Optional[float] = None
    headings: Tuple[Tuple[float, float], ...] = ()   # (stamp, unwrapped heading) measured
    cut: bool = False           # cut from a cluster two obstacles formed (see _split_merged)

    def same_shape(self, other: 'Cluster') -> bool:
        """Whether the sensor saw the same part of the obstacle in both clouds."""
        return (bool(np.all(np.abs(self.extent - other.extent) <= EXTENT_TOLERANCE))
                and abs(self.count - other.count) <= COUNT_TOLERANCE * max(self.count,
                                                                           other.count))


class ObstacleTracker:
    """Velocity of every point of the newest cloud, from its cluster's track."""

    def __init__(self, cluster_distance: float, max_speed: float):
        self.cluster_distance = cluster_distance
        self.max_speed = max_speed
        self._clusters: List[Cluster] = []
        self._stamp: Optional[float] = None

    def update(self, stamp: float, xy: np.ndarray) -> np.ndarray:
        """Take a cloud (N, 2) in the odometry frame; return each point's motion (N, 3).

        Columns: velocity x, y (odom, m/s) and yaw rate (rad/s) of the point's cluster;
        zeros (standing) for a cluster without a known velocity.
        """
        labels = cluster_labels(xy, self.cluster_distance)
        cut = np.zeros(labels.max() + 1 if len(xy) else 0, dtype=bool)
        dt = None if self._stamp is None else stamp - self._stamp
        tracking = dt is not None and dt > 0.0 and bool(self._clusters)
        if tracking and len(xy):
            labels, cut = self._split_merged(xy, labels, dt)
        clusters = [self._cluster(xy[labels == label], bool(cut[label]))
                    for label in range(len(cut))]
        if tracking:
            clusters = self._associate(clusters, stamp, dt)
        self._clusters, self._stamp = clusters, stamp
        motion = np.zeros((len(xy), 3))
        for label, cluster in enumerate(clusters):
            if cluster.velocity is not None:
                motion[labels == label] = (*cluster.velocity, cluster.yaw_rate or 0.0)
        return motion

    @staticmethod
    def _cluster(points: np.ndarray, cut: bool) -> Cluster:
        low, high = points.min(axis=0), points.max(axis=0)
        return Cluster((low + high) / 2.0, high - low, len(points), cut=cut)

    def _split_merged(self, xy: np.ndarray, labels: np.ndarray,
                      dt: float) -> Tuple[np.ndarray, np.ndarray]:
        """Labels with every cluster that holds two or more predicted old ones cut apart.

        Two obstacles that come within a cell of each other form one cluster; tracked as
        one, both would get one velocity (a crossing car the oncoming car's). Each point
        goes to the old cluster whose box, moved by its velocity, is nearest. Returns the
        labels and, per label, whether it is such a cut part.
        """
        centres = np.array([c.centre + _velocity(c) * dt for c in self._clusters])
        half_extents = np.array([c.extent / 2.0 for c in self._clusters])
        low, high = centres - half_extents, centres + half_extents
        split, cut, near = labels.copy(), set(), self.cluster_distance
        for label in range(labels.max() + 1):
            members = np.flatnonzero(labels == label)
            points = xy[members]
            inside = np.flatnonzero(np.all((centres >= points.min(axis=0) - near)
                                           & (centres <= points.max(axis=0) + near), axis=1))
            if len(inside) < 2:
                continue
            outside = np.maximum(np.maximum(low[inside] - points[:, None, :],
                                            points[:, None, :] - high[inside]), 0.0)
            owner = np.argmin(np.linalg.norm(outside, axis=2), axis=1)
            first = split.max() + 1     # owner 0 keeps the label; the others get new ones
            split[members[owner > 0]] = first + owner[owner > 0] - 1
            cut |= {label, *range(first, first + len(inside) - 1)}
        kept, compact = np.unique(split, return_inverse=True)
        return compact.reshape(-1), np.isin(kept, list(cut))

    def _associate(self, clusters: List[Cluster], stamp: float, dt: float) -> List[Cluster]:
        """Match each cluster to the nearest unmatched previous one (nearest pairs first)."""
        if not clusters or not self._clusters:
            return clusters
        predicted = np.array([c.centre + _velocity(c) * dt for c in self._clusters])
        current = np.array([c.centre for c in clusters])
        distances = np.linalg.norm(current[:, None, :] - predicted[None, :, :], axis=2)
        gate = self.max_speed * dt
        matched_new, matched_old = set(), set()
        result = list(clusters)
        for flat in np.argsort(distances, axis=None):
            new, old = np.unravel_index(flat, distances.shape)
            if distances[new, old] > gate:
                break
            if new in matched_new or old in matched_old:
                continue
            matched_new.add(new)
            matched_old.add(old)
            result[new] = self._follow(clusters[new], self._clusters[old], stamp, dt)
        return result

    def _follow(self, cluster: Cluster, previous: Cluster, stamp: float, dt: float) -> Cluster:
        """``cluster`` with the motion its match with ``previous`` shows (or the old one).

        The yaw rate is fitted to the headings measured over the last ``YAW_WINDOW``
        seconds (a shape change between two clouds skips a measurement, and a car rounding
        a curve keeps turning meanwhile).
        """
        measured = (cluster.centre - previous.centre) / dt
        # Where two obstacles touch, which point is whose is a guess: no measurement.
        if cluster.cut or previous.cut or not cluster.same_shape(previous) \
                or np.linalg.norm(measured) > self.max_speed:
            return replace(cluster, velocity=previous.velocity, yaw_rate=previous.yaw_rate,
                           headings=previous.headings)
        velocity = measured if previous.velocity is None else \
            previous.velocity + VELOCITY_GAIN * (measured - previous.velocity)
        headings = tuple(h for h in previous.headings if stamp - h[0] <= YAW_WINDOW)
        if np.linalg.norm(measured) >= MIN_TURNING_SPEED:
            heading = math.atan2(measured[1], measured[0])
            if headings:   # unwrapped: continuous with the last one
                last = headings[-1][1]
                heading = last + math.remainder(heading - last, math.tau)
            headings += ((stamp, heading),)
        yaw_rate = previous.yaw_rate
        if len(headings) >= YAW_MIN_MEASUREMENTS:
            yaw_rate = float(np.polyfit(*np.array(headings).T, 1)[0])
        return replace(cluster, velocity=velocity, yaw_rate=yaw_rate, headings=headings)


def _velocity(cluster: Cluster) -> np.ndarray:
    """Return the cluster's velocity estimate (standing when it has none)."""
    return cluster.velocity if cluster.velocity is not None else np.zeros(2)
