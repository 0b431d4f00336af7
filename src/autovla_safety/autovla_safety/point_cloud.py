"""sensor_msgs/PointCloud2 -> (N, 3) float array, with every layout field checked first.

ROS-free: the message is read through its attributes only (rclpy and rosbags messages
alike). A driver's cloud is untrusted input: the field layout, the sizes and the data
length are checked against each other before a single byte is interpreted, so a wrong
``point_step`` cannot make numpy read past the buffer or mix fields. Non-finite points
(a lidar's "no return") are dropped and counted. sensor_msgs_py reads the points where a
ROS install provides it; the numpy view below is the same read without it.
"""

from dataclasses import dataclass
from typing import Tuple

import numpy as np

try:  # present on a ROS install, absent from the wheels this project builds on
    from sensor_msgs_py.point_cloud2 import read_points_numpy
except ImportError:
    read_points_numpy = None

FLOAT32 = 7   # sensor_msgs/PointField.FLOAT32
XYZ = ('x', 'y', 'z')


@dataclass(frozen=True)
class CloudPoints:
    """Finite points of one cloud and how many non-finite ones were dropped."""

    xyz: np.ndarray    # (N, 3) float64, in the cloud's frame
    dropped: int


def _xyz_offsets(msg) -> Tuple[int, int, int]:
    by_name = {field.name: field for field in msg.fields}
    offsets = []
    for name in XYZ:
        field = by_name.get(name)
        if field is None:
            raise ValueError(f'no {name!r} field (fields: {sorted(by_name)})')
        if field.datatype != FLOAT32 or field.count != 1:
            raise ValueError(f'field {name!r} is datatype {field.datatype} x{field.count}, '
                             f'expected FLOAT32 ({FLOAT32}) x1')
        if not 0 <= field.offset <= msg.point_step - 4:
            raise ValueError(f'field {name!r} at offset {field.offset} does not fit in '
                             f'point_step {msg.point_step}')
        offsets.append(int(field.offset))
    return tuple(offsets)


def points_from_cloud(msg, max_points: int) -> CloudPoints:
    """Validate ``msg`` and return its finite x, y, z; ValueError says what is wrong."""
    offsets = _xyz_offsets(msg)
    count = int(msg.width) * int(msg.height)
    if count > max_points:
        raise ValueError(f'{count} points, allowed at most {max_points}')
    if msg.row_step != msg.point_step * msg.width:
        raise ValueError(f'row_step {msg.row_step} != point_step {msg.point_step} x width '
                         f'{msg.width}')
    if len(msg.data) != msg.row_step * msg.height:
        raise ValueError(f'{len(msg.data)} data bytes, expected row_step {msg.row_step} x '
                         f'height {msg.height}')
    if read_points_numpy is not None:
        xyz = read_points_numpy(msg, field_names=XYZ, skip_nans=False).reshape(-1, 3)
    else:
        dtype = np.dtype({'names': list(XYZ), 'offsets': list(offsets),
                          'formats': ['>f4' if msg.is_bigendian else '<f4'] * 3,
                          'itemsize': int(msg.point_step)})
        records = np.frombuffer(bytes(msg.data), dtype=dtype, count=count)
        xyz = np.column_stack([records[name] for name in XYZ])
    xyz = xyz.astype(np.float64)
    finite = np.isfinite(xyz).all(axis=1)
    return CloudPoints(xyz[finite], int(count - finite.sum()))
