"""Builders of the rosbags message objects the scenario bags contain (no rclpy needed)."""

import math
from typing import Sequence, Tuple

from autovla_common.frames import FrameTransform, odometry_transform
import numpy as np

from autovla_scenarios.typestore import msg_class

NS_PER_S = 1_000_000_000


def time_msg(stamp_ns: int):
    """builtin_interfaces/Time of an integer nanosecond stamp."""
    return msg_class('builtin_interfaces/msg/Time')(sec=int(stamp_ns // NS_PER_S),
                                                    nanosec=int(stamp_ns % NS_PER_S))


def stamp_ns(time) -> int:
    """Integer nanoseconds of a builtin_interfaces/Time (rosbags or rclpy object)."""
    return int(time.sec) * NS_PER_S + int(time.nanosec)


def header(stamp: int, frame_id: str):
    """std_msgs/Header."""
    return msg_class('std_msgs/msg/Header')(stamp=time_msg(stamp), frame_id=frame_id)


def yaw_quaternion(yaw: float):
    """geometry_msgs/Quaternion of a rotation about z."""
    return msg_class('geometry_msgs/msg/Quaternion')(x=0.0, y=0.0, z=math.sin(yaw / 2),
                                                     w=math.cos(yaw / 2))


def quaternion_yaw(q) -> float:
    """Heading (rad) of a geometry_msgs/Quaternion."""
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def pose(x: float, y: float, yaw: float, z: float = 0.0):
    """geometry_msgs/Pose on the ground plane."""
    return msg_class('geometry_msgs/msg/Pose')(
        position=msg_class('geometry_msgs/msg/Point')(x=float(x), y=float(y), z=float(z)),
        orientation=yaw_quaternion(yaw))


def path(stamp: int, frame_id: str, poses: Sequence[Tuple[int, float, float, float]]):
    """nav_msgs/Path from (stamp_ns, x, y, yaw) tuples."""
    pose_stamped = msg_class('geometry_msgs/msg/PoseStamped')
    return msg_class('nav_msgs/msg/Path')(
        header=header(stamp, frame_id),
        poses=[pose_stamped(header=header(t, frame_id), pose=pose(x, y, yaw))
               for t, x, y, yaw in poses])


def compressed_image(stamp: int, frame_id: str, jpeg: bytes):
    """sensor_msgs/CompressedImage with JPEG data."""
    return msg_class('sensor_msgs/msg/CompressedImage')(
        header=header(stamp, frame_id), format='jpeg',
        data=np.frombuffer(jpeg, dtype=np.uint8))


def camera_info(stamp: int, frame_id: str, width: int, height: int,
                intrinsics: Tuple[float, float, float, float]):
    """sensor_msgs/CameraInfo of an undistorted pinhole camera."""
    fx, fy, cx, cy = intrinsics
    return msg_class('sensor_msgs/msg/CameraInfo')(
        header=header(stamp, frame_id), height=height, width=width,
        distortion_model='plumb_bob', d=np.zeros(5),
        k=np.array([fx, 0, cx, 0, fy, cy, 0, 0, 1], dtype=float),
        r=np.eye(3).ravel(),
        p=np.array([fx, 0, cx, 0, 0, fy, cy, 0, 0, 0, 1, 0], dtype=float),
        binning_x=0, binning_y=0,
        roi=msg_class('sensor_msgs/msg/RegionOfInterest')(
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))


def odometry(stamp: int, x: float, y: float, yaw: float, speed: float, yaw_rate: float):
    """nav_msgs/Odometry: pose in odom, twist in base_link."""
    vector3 = msg_class('geometry_msgs/msg/Vector3')
    return msg_class('nav_msgs/msg/Odometry')(
        header=header(stamp, 'odom'), child_frame_id='base_link',
        pose=msg_class('geometry_msgs/msg/PoseWithCovariance')(
            pose=pose(x, y, yaw), covariance=np.zeros(36)),
        twist=msg_class('geometry_msgs/msg/TwistWithCovariance')(
            twist=msg_class('geometry_msgs/msg/Twist')(
                linear=vector3(x=float(speed), y=0.0, z=0.0),
                angular=vector3(x=0.0, y=0.0, z=float(yaw_rate))),
            covariance=np.zeros(36)))


def tf_message(transforms: Sequence[FrameTransform]):
    """tf2_msgs/TFMessage carrying ``transforms``."""
    vector3 = msg_class('geometry_msgs/msg/Vector3')
    quaternion = msg_class('geometry_msgs/msg/Quaternion')
    return msg_class('tf2_msgs/msg/TFMessage')(transforms=[
        msg_class('geometry_msgs/msg/TransformStamped')(
            header=header(t.stamp_ns, t.parent), child_frame_id=t.child,
            transform=msg_class('geometry_msgs/msg/Transform')(
                translation=vector3(*map(float, t.translation)),
                rotation=quaternion(*map(float, t.rotation_xyzw))))
        for t in transforms])


def odometry_tf(odometry):
    """tf2_msgs/TFMessage: the odometry frame -> base_link at the pose of ``odometry``."""
    pose = odometry.pose.pose
    return tf_message([odometry_transform(
        stamp_ns(odometry.header.stamp), odometry.header.frame_id, odometry.child_frame_id,
        (pose.position.x, pose.position.y, pose.position.z),
        (pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w))])


def driving_command(stamp: int, command: int, source: int):
    """autovla_msgs/DrivingCommand."""
    return msg_class('autovla_msgs/msg/DrivingCommand')(
        header=header(stamp, 'base_link'), command=command, source=source, text='')


def cube_marker(stamp: int, ns: str, marker_id: int, box: Tuple[float, ...],
                rgba: Tuple[float, float, float, float]):
    """visualization_msgs/Marker CUBE in odom; box = (x, y, yaw, length, width, height)."""
    x, y, yaw, length, width, height = box
    marker = msg_class('visualization_msgs/msg/Marker')
    return marker(
        header=header(stamp, 'odom'), ns=ns, id=marker_id, type=marker.CUBE,
        action=marker.ADD, pose=pose(x, y, yaw, height / 2),
        scale=msg_class('geometry_msgs/msg/Vector3')(x=length, y=width, z=height),
        color=msg_class('std_msgs/msg/ColorRGBA')(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3]),
        lifetime=msg_class('builtin_interfaces/msg/Duration')(sec=0, nanosec=0),
        frame_locked=False, points=[], colors=[], texture_resource='',
        texture=compressed_image(0, '', b''), uv_coordinates=[], text='', mesh_resource='',
        mesh_file=msg_class('visualization_msgs/msg/MeshFile')(
            filename='', data=np.zeros(0, dtype=np.uint8)),
        mesh_use_embedded_materials=False)


def marker_array(markers):
    """visualization_msgs/MarkerArray."""
    return msg_class('visualization_msgs/msg/MarkerArray')(markers=list(markers))
