"""Message checks and conversions (expected values by hand)."""

import math

from autovla_safety.controller import Command
from autovla_safety.conversions import command_msg, ego_from_odometry, route_from_path, to_stamp
from autovla_safety.supervisor import Mode
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path
import pytest

from autovla_msgs.msg import DriveCommand


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
