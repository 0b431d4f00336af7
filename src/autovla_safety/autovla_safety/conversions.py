"""Messages to and from the plain types of the core (no node, no rclpy executor).

Every field the core relies on is checked here or in the validator: input messages that
cannot be used raise ``ValueError`` with the reason, which the node logs and counts.
"""

import math
import struct
from typing import Iterable, Optional, Sequence, Tuple

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path
import numpy as np

from autovla_msgs.msg import DriveCommand, PlannedTrajectory, SafetyFault, SafetyStatus
from autovla_safety.controller import Command
from autovla_safety.supervisor import Mode
from autovla_safety.trajectory import EgoState, Plan, Trajectory
from autovla_safety.validator import Fault

# A unit quaternion's norm, allowing for float32 round trips; farther off means corruption.
QUATERNION_NORM_TOLERANCE = 0.05
# Beyond these a value is corrupt, not a place or a speed a car can have (m, m/s).
MAX_COORDINATE = 1e7
MAX_SPEED = 100.0


def seconds(stamp) -> float:
    """builtin_interfaces Time or Duration as float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def to_stamp(value: float) -> Time:
    """Float seconds as a builtin_interfaces Time (non-negative)."""
    nanoseconds = max(int(round(value * 1e9)), 0)
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def plan_header_from_cdr(data: bytes) -> Tuple[float, int]:
    """Input stamp (s) and point count of a serialized PlannedTrajectory, read in place.

    Reads only the CDR prefix (encapsulation, header.stamp, header.frame_id, the length of
    ``points``), so an oversized plan is judged without deserializing it. ValueError if the
    bytes are not a plausible PlannedTrajectory prefix.
    """
    if len(data) < 20:
        raise ValueError(f'{len(data)} bytes, too short for a PlannedTrajectory')
    # Encapsulation: 2 bytes representation id (0x0000 CDR big, 0x0001 CDR little endian).
    if data[0] != 0 or data[1] not in (0, 1):
        raise ValueError(f'unknown CDR encapsulation 0x{data[0]:02x}{data[1]:02x}')
    order = '<' if data[1] == 1 else '>'
    body = memoryview(data)[4:]   # CDR alignment counts from here
    sec, nanosec, frame_length = struct.unpack_from(order + 'iII', body, 0)
    points_at = 12 + frame_length
    points_at += -points_at % 4
    if nanosec >= 1_000_000_000 or points_at + 4 > len(body):
        raise ValueError('corrupt header (nanoseconds out of range or frame_id past the end)')
    (count,) = struct.unpack_from(order + 'I', body, points_at)
    return sec + nanosec * 1e-9, count


def plan_from_msg(msg: PlannedTrajectory) -> Plan:
    """PlannedTrajectory as a Plan; its contents are judged by the validator, not here."""
    points = msg.points

    def column(values: Iterable[float]) -> np.ndarray:
        return np.fromiter(values, dtype=float, count=len(points))

    return Plan(
        stamp=seconds(msg.header.stamp), frame_id=msg.header.frame_id,
        t=column(seconds(p.time_from_start) for p in points),
        x=column(p.x for p in points), y=column(p.y for p in points),
        yaw=column(p.yaw for p in points), velocity=column(p.velocity for p in points),
        acceleration=column(p.acceleration for p in points),
        curvature=column(p.curvature for p in points), confidence=float(msg.confidence))


def ego_from_odometry(msg: Odometry) -> EgoState:
    """Pose (odometry frame) and longitudinal speed (base_link twist) of an Odometry."""
    position, q = msg.pose.pose.position, msg.pose.pose.orientation
    speed = msg.twist.twist.linear.x
    values = (position.x, position.y, q.x, q.y, q.z, q.w, speed)
    if not all(math.isfinite(value) for value in values):
        raise ValueError('odometry has non-finite pose or twist')
    if max(abs(position.x), abs(position.y)) > MAX_COORDINATE or abs(speed) > MAX_SPEED:
        raise ValueError(f'odometry out of range: position ({position.x:.3g}, '
                         f'{position.y:.3g}) m, speed {speed:.3g} m/s')
    norm = math.sqrt(q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w)
    if abs(norm - 1.0) > QUATERNION_NORM_TOLERANCE:
        raise ValueError(f'odometry orientation is not a unit quaternion (norm {norm:.3f})')
    yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
    return EgoState(seconds(msg.header.stamp), position.x, position.y, yaw, speed)


def route_from_path(msg: Path) -> np.ndarray:
    """Route points as an (N, 2) array, consecutive duplicates removed; N >= 2."""
    points = np.array([[p.pose.position.x, p.pose.position.y] for p in msg.poses],
                      dtype=float).reshape(-1, 2)
    if not np.all(np.isfinite(points)):
        raise ValueError('route has non-finite points')
    if len(points) and np.abs(points).max() > MAX_COORDINATE:
        raise ValueError(f'route has points beyond {MAX_COORDINATE:g} m')
    if len(points):
        keep = np.concatenate(([True], np.any(np.diff(points, axis=0) != 0.0, axis=1)))
        points = points[keep]
    if len(points) < 2:
        raise ValueError(f'route has {len(points)} distinct point(s), needs 2')
    return points


def command_msg(command: Command, now: float, mode: Mode) -> DriveCommand:
    """DriveCommand for ``mode``: source, hazard lights and gear follow the mode."""
    stopping = mode in (Mode.COMFORTABLE_STOP, Mode.EMERGENCY_STOP)
    msg = DriveCommand(
        steering_angle=command.steering_angle, steering_rate=command.steering_rate,
        speed=max(command.speed, 0.0), acceleration=command.acceleration, jerk=command.jerk,
        # DRIVE in every mode, brake held at standstill: PARK is left to the drive-by-wire
        # side, because without odometry this node cannot confirm the car has stopped.
        gear=DriveCommand.GEAR_DRIVE, hazard_lights=stopping,
        source=(DriveCommand.SOURCE_MRM if stopping else DriveCommand.SOURCE_FALLBACK
                if mode == Mode.FALLBACK else DriveCommand.SOURCE_VLA))
    msg.header.stamp = to_stamp(now)
    msg.header.frame_id = 'base_link'
    return msg


def status_msg(now: float, mode: Mode, faults: Sequence[Fault], planner_age: float,
               time_in_mode: float, reason: str) -> SafetyStatus:
    """SafetyStatus of the supervisor's state."""
    msg = SafetyStatus(
        mode=int(mode), mode_name=mode.name,
        active_faults=[SafetyFault(name=f.name, reason=f.reason) for f in faults],
        planner_age=planner_age, time_in_mode=time_in_mode, last_transition_reason=reason)
    msg.header.stamp = to_stamp(now)
    return msg


def path_msg(trajectory: Optional[Trajectory], frame_id: str) -> Path:
    """nav_msgs/Path of a trajectory in the odometry frame, stamped with its input stamp."""
    msg = Path()
    msg.header.frame_id = frame_id
    if trajectory is None:
        return msg
    msg.header.stamp = to_stamp(trajectory.stamp)
    for t, x, y, yaw in zip(trajectory.t, trajectory.x, trajectory.y, trajectory.yaw):
        pose = PoseStamped()
        pose.header.frame_id = frame_id
        pose.header.stamp = to_stamp(t)
        pose.pose.position.x, pose.pose.position.y = float(x), float(y)
        pose.pose.orientation.z, pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
        msg.poses.append(pose)
    return msg


DIAGNOSTIC_LEVELS = {
    Mode.NOMINAL: DiagnosticStatus.OK,
    Mode.DEGRADED: DiagnosticStatus.WARN,
    Mode.FALLBACK: DiagnosticStatus.WARN,
    Mode.COMFORTABLE_STOP: DiagnosticStatus.ERROR,
    Mode.EMERGENCY_STOP: DiagnosticStatus.ERROR,
}


def diagnostic_status(name: str, mode: Mode, reason: str, faults: Sequence[Fault],
                      counters: dict) -> DiagnosticStatus:
    """One DiagnosticStatus: level from the mode, faults and counters as key/values."""
    values = [KeyValue(key='mode', value=mode.name)]
    values += [KeyValue(key=f'fault.{f.name}', value=f.reason) for f in faults]
    values += [KeyValue(key=key, value=str(value)) for key, value in sorted(counters.items())]
    return DiagnosticStatus(level=DIAGNOSTIC_LEVELS[mode], name=name,
                            message=f'{mode.name}: {reason}', hardware_id='', values=values)
