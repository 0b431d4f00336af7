"""Messages <-> the core's plain types. No node here: the benchmark builds messages too."""

from typing import Dict, Optional, Sequence

from autovla_common.frames import FrameTransform
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Pose, TransformStamped
from nav_msgs.msg import Odometry, Path
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from tf2_msgs.msg import TFMessage

from autovla_msgs.msg import CameraHistory, DrivingCommand, DrivingObservation, EgoState
from autovla_perception.core import Calibration, CameraObservation, EncodedFrame, Observation
from autovla_perception.ego import OdometrySample, yaw_from_quaternion


def to_ns(stamp: Time) -> int:
    """Nanoseconds of a builtin_interfaces/Time."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def to_time(stamp_ns: int) -> Time:
    """builtin_interfaces/Time of nanoseconds."""
    return Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)


def tf_message(transforms: Sequence[FrameTransform]) -> TFMessage:
    """tf2_msgs/TFMessage carrying ``transforms``."""
    message = TFMessage()
    for transform in transforms:
        stamped = TransformStamped()
        stamped.header.stamp = to_time(transform.stamp_ns)
        stamped.header.frame_id = transform.parent
        stamped.child_frame_id = transform.child
        t, q = stamped.transform.translation, stamped.transform.rotation
        t.x, t.y, t.z = transform.translation
        q.x, q.y, q.z, q.w = transform.rotation_xyzw
        message.transforms.append(stamped)
    return message


def encoded_frame(msg) -> EncodedFrame:
    """Wrap a CompressedImage or Image payload without copying it."""
    if isinstance(msg, CompressedImage):
        return EncodedFrame(True, msg.data, msg.format, msg.header.frame_id)
    return EncodedFrame(False, msg.data, msg.encoding, msg.header.frame_id, msg.width,
                        msg.height, msg.step, bool(msg.is_bigendian))


def calibration(msg: CameraInfo) -> Calibration:
    """Intrinsics (from K) and distortion of a CameraInfo."""
    k = msg.k
    return Calibration(msg.width, msg.height, (k[0], k[4], k[2], k[5]),
                       msg.distortion_model or 'plumb_bob', tuple(msg.d))


def odometry_sample(msg: Odometry) -> OdometrySample:
    """Pose (x, y, yaw) and body twist of an Odometry."""
    position, orientation = msg.pose.pose.position, msg.pose.pose.orientation
    twist = msg.twist.twist
    return OdometrySample(
        to_ns(msg.header.stamp), position.x, position.y,
        yaw_from_quaternion(orientation.x, orientation.y, orientation.z, orientation.w),
        twist.linear.x, twist.linear.y, twist.angular.z)


def route_points(msg: Path) -> np.ndarray:
    """(N, 2) x, y of a Path's poses."""
    return np.array([(pose.pose.position.x, pose.pose.position.y) for pose in msg.poses],
                    dtype=float).reshape(-1, 2)


def _camera_history(camera: CameraObservation) -> CameraHistory:
    spec, scaled = camera.spec, camera.calibration
    fx, fy, cx, cy = scaled.intrinsics
    info = CameraInfo(width=scaled.width, height=scaled.height,
                      distortion_model=scaled.distortion_model, d=list(scaled.distortion),
                      k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0])
    info.header.frame_id = camera.frame_id
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = spec.translation
    (pose.orientation.x, pose.orientation.y, pose.orientation.z,
     pose.orientation.w) = spec.rotation_xyzw
    history = CameraHistory(name=spec.name, missing=camera.missing, info=info, extrinsics=pose)
    for frame in camera.frames:
        image = Image(height=frame.image.height, width=frame.image.width, encoding='rgb8',
                      is_bigendian=0, step=frame.image.width * 3)
        image.header.stamp = to_time(frame.stamp_ns)
        image.header.frame_id = frame.frame_id
        image.data = frame.image.data  # array('B'): taken as is, no copy
        history.frames.append(image)
    return history


def observation_msg(observation: Observation, base_frame: str) -> DrivingObservation:
    """Build the DrivingObservation of an Observation."""
    msg = DrivingObservation(history_rate_hz=float(observation.history_rate_hz))
    msg.header.stamp = to_time(observation.stamp_ns)
    msg.header.frame_id = base_frame
    msg.cameras = [_camera_history(camera) for camera in observation.cameras]
    ego = observation.ego
    msg.ego = EgoState(stamp=to_time(ego.stamp_ns), speed=ego.speed, velocity_x=ego.velocity_x,
                       velocity_y=ego.velocity_y, acceleration=ego.acceleration,
                       acceleration_x=ego.acceleration_x, yaw_rate=ego.yaw_rate)
    msg.command = DrivingCommand(command=observation.command,
                                 source=observation.command_source,
                                 text=observation.command_text)
    msg.command.header.stamp = to_time(observation.command_stamp_ns)
    msg.command.header.frame_id = base_frame
    msg.route_points = [Point(x=float(x), y=float(y), z=0.0)
                        for x, y in observation.route_points]
    return msg


def diagnostics_msg(stamp: Time, name: str, counters: Dict[str, int], new: Dict[str, int],
                    extra: Sequence[KeyValue] = (), idle_reason: Optional[str] = None
                    ) -> DiagnosticArray:
    """One DiagnosticStatus: WARN while new problems keep arriving or nothing is published yet.

    ``idle_reason``: why no observation has been published so far (None once one has).
    """
    level = DiagnosticStatus.WARN if new or idle_reason else DiagnosticStatus.OK
    text = ('rejected input since last report: ' + ', '.join(
        f'{reason} x{count}' for reason, count in sorted(new.items()))) if new else 'ok'
    if idle_reason:
        text = f'no observation yet: {idle_reason}' + ('' if text == 'ok' else f'; {text}')
    status = DiagnosticStatus(level=level, name=name, message=text, hardware_id='perception')
    status.values = [KeyValue(key=reason, value=str(count))
                     for reason, count in sorted(counters.items())] + list(extra)
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array
