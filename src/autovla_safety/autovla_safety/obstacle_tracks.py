"""Obstacle velocities from consecutive clouds (ROS-free): cluster, associate, difference.

The AEB needs to know where an obstacle will be, not only where it is: a car crossing in
front of the ego will be gone when the ego gets there, a pedestrian stepping towards the
lane will be in it. Each cloud (odometry frame, so the ego's own motion is removed) is cut
into clusters (points in neighbouring cells of ``cluster_distance``); each cluster is
matched with the nearest cluster of the previous cloud, moved by its velocity, and its
velocity is the centroid's displacement over the time between the clouds; the turn of
that velocity from one cloud to the next is its yaw rate (a car following a curve keeps
turning: predicted straight on, an oncoming car on a curve would cut into the ego's lane).

A centroid only moves with the obstacle while the sensor sees the same part of it: when
the cluster's point count or extent changes between the two clouds (a face coming into
view as the ego passes a parked car, two obstacles merging), the displacement says
nothing and the previous estimate is kept. A cluster seen for the first time, or never
with a consistent shape, has no velocity: the AEB treats it as standing, as before.
"""

from dataclasses import dataclass
import math
from typing import List, Optional

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# A cluster keeps its shape between clouds when its extent changes by at most this much
# (m, along each odometry axis) and its point count by at most this share.
EXTENT_TOLERANCE = 0.3
COUNT_TOLERANCE = 0.2
# Weight of a new velocity measurement against the previous estimate: one cloud of lag
# (0.1 s at 10 Hz) damps the noise of a real sensor's centroid.
VELOCITY_GAIN = 0.5
# Below this speed (m/s) the direction of motion is noise: no yaw rate is measured.
MIN_TURNING_SPEED = 1.0


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

    centroid: np.ndarray
    extent: np.ndarray          # max - min of its points along the odometry axes
    count: int
    velocity: Optional[np.ndarray] = None
    yaw_rate: Optional[float] = None

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
        clusters = [self._cluster(xy[labels == label]) for label in range(labels.max() + 1)] \
            if len(xy) else []
        dt = None if self._stamp is None else stamp - self._stamp
        if dt is not None and dt > 0.0:
            clusters = self._associate(clusters, dt)
        self._clusters, self._stamp = clusters, stamp
        motion = np.zeros((len(xy), 3))
        for label, cluster in enumerate(clusters):
            if cluster.velocity is not None:
                motion[labels == label] = (*cluster.velocity, cluster.yaw_rate or 0.0)
        return motion

    @staticmethod
    def _cluster(points: np.ndarray) -> Cluster:
        return Cluster(points.mean(axis=0), points.max(axis=0) - points.min(axis=0),
                       len(points))

    def _associate(self, clusters: List[Cluster], dt: float) -> List[Cluster]:
        """Match each cluster to the nearest unmatched previous one (nearest pairs first)."""
        if not clusters or not self._clusters:
            return clusters
        predicted = np.array([c.centroid + (c.velocity if c.velocity is not None else 0.0) * dt
                              for c in self._clusters])
        current = np.array([c.centroid for c in clusters])
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
            result[new] = self._follow(clusters[new], self._clusters[old], dt)
        return result

    def _follow(self, cluster: Cluster, previous: Cluster, dt: float) -> Cluster:
        """``cluster`` with the motion its match with ``previous`` shows (or the old one).

        The yaw rate is the turn from the previous velocity estimate to the new measurement:
        it is measured whenever the velocity is (a shape change between two clouds skips a
        measurement, and a car rounding a curve keeps turning meanwhile).
        """
        velocity, yaw_rate = previous.velocity, previous.yaw_rate
        measured = (cluster.centroid - previous.centroid) / dt
        if cluster.same_shape(previous) and np.linalg.norm(measured) <= self.max_speed:
            if velocity is not None and min(np.linalg.norm(velocity),
                                            np.linalg.norm(measured)) >= MIN_TURNING_SPEED:
                turn = math.atan2(velocity[0] * measured[1] - velocity[1] * measured[0],
                                  float(velocity @ measured)) / dt
                yaw_rate = turn if yaw_rate is None else \
                    yaw_rate + VELOCITY_GAIN * (turn - yaw_rate)
            velocity = measured if velocity is None else \
                velocity + VELOCITY_GAIN * (measured - velocity)
        return Cluster(cluster.centroid, cluster.extent, cluster.count, velocity, yaw_rate)
