"""PointCloud2 parsing: layouts a driver may send, and every malformed one rejected."""

import math

from autovla_safety.point_cloud import points_from_cloud
import numpy as np
import pytest
from sensor_msgs.msg import PointCloud2, PointField


def cloud(points, extra_intensity=False, big_endian=False):
    """A real sensor_msgs/PointCloud2 built field by field (x, y, z [, intensity])."""
    points = np.asarray(points, dtype=float).reshape(-1, 3)
    names = ['x', 'y', 'z'] + (['intensity'] if extra_intensity else [])
    order = '>' if big_endian else '<'
    dtype = np.dtype({'names': names, 'formats': [order + 'f4'] * len(names),
                      'offsets': [4 * i for i in range(len(names))],
                      'itemsize': 4 * len(names)})
    records = np.zeros(len(points), dtype=dtype)
    for i, name in enumerate('xyz'):
        records[name] = points[:, i]
    msg = PointCloud2()
    msg.header.frame_id = 'base_link'
    msg.height, msg.width = 1, len(points)
    msg.fields = [PointField(name=name, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, name in enumerate(names)]
    msg.is_bigendian = big_endian
    msg.point_step = dtype.itemsize
    msg.row_step = dtype.itemsize * len(points)
    msg.data = records.tobytes()
    msg.is_dense = True
    return msg


POINTS = [[10.0, 0.5, 0.8], [12.0, -1.0, 1.2], [-3.0, 4.0, 0.3]]


@pytest.mark.parametrize('extra, big_endian', [(False, False), (True, False), (False, True)])
def test_layouts_read_back_the_points(extra, big_endian):
    parsed = points_from_cloud(cloud(POINTS, extra, big_endian), max_points=100)
    np.testing.assert_allclose(parsed.xyz, POINTS, atol=1e-6)
    assert parsed.dropped == 0


def test_non_finite_points_are_dropped_and_counted():
    parsed = points_from_cloud(cloud(POINTS + [[math.nan, 0, 0], [1, math.inf, 0]]), 100)
    assert len(parsed.xyz) == 3 and parsed.dropped == 2


def test_empty_cloud_is_valid_and_empty():
    parsed = points_from_cloud(cloud([]), 100)
    assert parsed.xyz.shape == (0, 3)


def _broken(change):
    msg = cloud(POINTS)
    change(msg)
    return msg


@pytest.mark.parametrize('change, message', [
    (lambda m: setattr(m, 'fields', m.fields[:2]), "no 'z' field"),
    (lambda m: setattr(m.fields[0], 'datatype', PointField.FLOAT64), "field 'x' is datatype 8"),
    (lambda m: setattr(m.fields[2], 'offset', 10), 'does not fit in point_step 12'),
    (lambda m: setattr(m, 'row_step', 30), 'row_step 30'),
    (lambda m: setattr(m, 'data', bytes(m.data)[:-1]), '35 data bytes'),
    (lambda m: setattr(m, 'width', 4), 'row_step 36'),
])
def test_malformed_layouts_are_rejected(change, message):
    with pytest.raises(ValueError, match=message):
        points_from_cloud(_broken(change), max_points=100)


def test_oversized_cloud_is_rejected_before_reading():
    with pytest.raises(ValueError, match='3 points, allowed at most 2'):
        points_from_cloud(cloud(POINTS), max_points=2)
