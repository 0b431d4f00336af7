"""The TF frames the stack publishes, as plain data (REP 105: odom -> base_link -> sensors).

- odom -> base_link: the odometry pose, one transform per odometry message.
- base_link -> ``<CAMERA>_optical``: each camera's extrinsics from the rig (static).

The perception node publishes them as tf2_msgs/TFMessage on /tf and /tf_static; the scenario
generator writes the same into its bags.
"""

from dataclasses import dataclass
import math
from typing import List, Sequence, Tuple

from autovla_common.rig import CameraRig

# tf2_ros's broadcaster QoS: /tf keeps 100 messages, /tf_static latches its last one.
TF_TOPIC = '/tf'
TF_STATIC_TOPIC = '/tf_static'
TF_DEPTH = 100


@dataclass(frozen=True)
class FrameTransform:
    """Pose of ``child`` in ``parent`` at ``stamp_ns`` (translation m, unit quaternion)."""

    stamp_ns: int
    parent: str
    child: str
    translation: Tuple[float, float, float]
    rotation_xyzw: Tuple[float, float, float, float]


def camera_frame(camera_name: str) -> str:
    """Frame id of a camera's optical frame (z forward, x right, y down), as images carry it."""
    return f'{camera_name}_optical'


def camera_transforms(rig: CameraRig, base_frame: str, stamp_ns: int = 0) -> List[FrameTransform]:
    """Return the static base_frame -> optical frame transform of every camera of ``rig``."""
    return [FrameTransform(stamp_ns, base_frame, camera_frame(camera.name),
                           tuple(map(float, camera.translation)),
                           tuple(map(float, camera.rotation_xyzw)))
            for camera in rig.cameras]


def odometry_transform(stamp_ns: int, parent: str, child: str, position: Sequence[float],
                       orientation_xyzw: Sequence[float]) -> FrameTransform:
    """Parent -> child from an odometry pose; ValueError names what makes it unusable."""
    if not parent or not child or parent == child:
        raise ValueError(f'odometry frames {parent!r} -> {child!r} cannot form a transform')
    values = [float(v) for v in list(position) + list(orientation_xyzw)]
    if len(values) != 7 or not all(math.isfinite(v) for v in values):
        raise ValueError('odometry pose is not finite')
    norm = math.sqrt(sum(v * v for v in values[3:]))
    if abs(norm - 1.0) > 1e-3:
        raise ValueError(f'odometry orientation is not a unit quaternion (norm {norm:.4f})')
    return FrameTransform(stamp_ns, parent, child, tuple(values[:3]),
                          tuple(v / norm for v in values[3:]))
