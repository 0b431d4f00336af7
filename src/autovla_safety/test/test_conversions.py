"""Message checks and conversions (expected values by hand)."""

import math

from autovla_safety.controller import Command
from autovla_safety.conversions import (
    command_msg,
    ego_from_odometry,
    plan_header_from_cdr,
    route_from_path,
    to_stamp,
)
from autovla_safety.supervisor import Mode
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path
import pytest
from rclpy.serialization import serialize_message

from autovla_msgs.msg import DriveCommand, PlannedTrajectory, TrajectoryPoint


def odometry(yaw, speed=3.0):
    msg = Odometry()
    msg.header.stamp = to_stamp(12.5)
    msg.pose.pose.position.x, msg.pose.pose.position.y = 4.0, -2.0
    msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
    msg.twist.twist.linear.x = speed
    return msg


def test_odometry_gives_pose_yaw_and_speed():
    ego = ego_from_odometry(odometry(2.0))
    assert (ego.stamp, ego.x, ego.y, ego.speed) == (12.5, 4.0, -2.0, 3.0)
    assert ego.yaw == pytest.approx(2.0)


def test_bad_odometry_is_refused_with_a_reason():
    with pytest.raises(ValueError, match='non-finite'):
        ego_from_odometry(odometry(0.0, speed=math.nan))
    msg = odometry(0.0)
    msg.pose.pose.orientation.w = 0.0  # all-zero quaternion
    with pytest.raises(ValueError, match='unit quaternion'):
        ego_from_odometry(msg)
    with pytest.raises(ValueError, match='out of range'):
        ego_from_odometry(odometry(0.0, speed=1e300))


def path(points):
    msg = Path()
    for x, y in points:
        pose = PoseStamped()
        pose.pose.position.x, pose.pose.position.y = x, y
        msg.poses.append(pose)
    return msg


def test_route_drops_repeated_points_and_needs_two():
    route = route_from_path(path([(0, 0), (0, 0), (1, 0), (2, 0), (2, 0)]))
    assert route.tolist() == [[0, 0], [1, 0], [2, 0]]
    with pytest.raises(ValueError, match='1 distinct'):
        route_from_path(path([(3, 3), (3, 3)]))
    with pytest.raises(ValueError, match='non-finite'):
        route_from_path(path([(0, 0), (math.inf, 0)]))
    with pytest.raises(ValueError, match='beyond'):
        route_from_path(path([(0, 0), (1e300, 0)]))


@pytest.mark.parametrize('mode,source,hazard', [
    (Mode.NOMINAL, DriveCommand.SOURCE_VLA, False),
    (Mode.DEGRADED, DriveCommand.SOURCE_VLA, False),
    (Mode.FALLBACK, DriveCommand.SOURCE_FALLBACK, False),
    (Mode.COMFORTABLE_STOP, DriveCommand.SOURCE_MRM, True),
    (Mode.EMERGENCY_STOP, DriveCommand.SOURCE_MRM, True),
])
def test_command_source_and_hazard_lights_follow_the_mode(mode, source, hazard):
    msg = command_msg(Command(0.1, 0.6, 2.0, -1.0, 1.0), 7.25, mode)
    assert (msg.source, msg.hazard_lights, msg.gear) == (source, hazard, DriveCommand.GEAR_DRIVE)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (7, 250_000_000)
    assert msg.header.frame_id == 'base_link'


@pytest.mark.parametrize('frame_id, points', [('base_link', 20000), ('', 3), ('odom_x', 0)])
def test_plan_stamp_and_point_count_are_read_from_the_serialized_bytes(frame_id, points):
    msg = PlannedTrajectory(explanation='keep lane')
    msg.header.stamp = to_stamp(1712.25)
    msg.header.frame_id = frame_id   # lengths 0..9 exercise the alignment after the string
    msg.points = [TrajectoryPoint(x=float(i)) for i in range(points)]
    stamp, count = plan_header_from_cdr(serialize_message(msg))
    assert (stamp, count) == (pytest.approx(1712.25), points)


@pytest.mark.parametrize('data', [b'', b'\x00\x01\x00\x00' + b'\x00' * 8,
                                  b'\x07\x07' + b'\x00' * 30,
                                  # frame_id length far past the end of the data
                                  b'\x00\x01\x00\x00' + b'\x00' * 8 + b'\xff\xff\x00\x00'
                                  + b'\x00' * 8])
def test_unreadable_plan_bytes_raise_value_error(data):
    with pytest.raises(ValueError):
        plan_header_from_cdr(data)
