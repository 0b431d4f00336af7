"""Conversions between autovla_msgs / ROS messages and the planner's plain data (no rclpy)."""

import math

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, PoseStamped
from nav_msgs.msg import Path
import numpy as np
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from autovla_msgs.msg import PlannedTrajectory, PlanUncertainty, StageLatency, TrajectoryPoint
from autovla_planner.action_codebook import SEGMENT_SECONDS
from autovla_planner.explanation import marker_text
from autovla_planner.observation import CameraVideo, COMMANDS, Observation
from autovla_planner.reasoning_policy import SLOW
from autovla_planner.runtime import InvalidObservationError, Plan
from autovla_planner.trajectory import kinematics

FRAME_ID = 'base_link'
MODE_COLORS = {'fast': (0.1, 0.8, 0.2), 'slow': (1.0, 0.55, 0.0)}   # green / orange


def image_to_array(image) -> np.ndarray:
    """sensor_msgs/Image (rgb8 or bgr8) to an (H, W, 3) uint8 RGB array; ValueError if bad."""
    if image.encoding not in ('rgb8', 'bgr8'):
        raise ValueError(f'image encoding {image.encoding!r} is not rgb8/bgr8')
    height, width, step = image.height, image.width, image.step
    if height < 1 or width < 1 or step < 3 * width or len(image.data) != step * height:
        raise ValueError(f'image {width}x{height} step {step} does not match '
                         f'{len(image.data)} data bytes')
    rows = np.frombuffer(bytes(image.data), dtype=np.uint8).reshape(height, step)
    pixels = rows[:, :3 * width].reshape(height, width, 3)
    return pixels[:, :, ::-1] if image.encoding == 'bgr8' else pixels


def observation_from_msg(msg) -> Observation:
    """Convert a DrivingObservation; InvalidObservationError names the first bad field."""
    try:
        return _observation(msg)
    except ValueError as error:
        raise InvalidObservationError(str(error)) from None


def _observation(msg) -> Observation:
    cameras = []
    for camera in msg.cameras:
        if camera.missing or not camera.frames:
            continue
        frames = [image_to_array(frame) for frame in camera.frames]
        if len({frame.shape for frame in frames}) != 1:
            raise ValueError(f'camera {camera.name}: frames of different sizes')
        cameras.append(CameraVideo(camera.name, np.stack(frames)))
    if msg.command.command >= len(COMMANDS):
        raise ValueError(f'driving command {msg.command.command} out of range')
    speed, acceleration = float(msg.ego.speed), float(msg.ego.acceleration)
    if not (math.isfinite(speed) and math.isfinite(acceleration)):
        raise ValueError('ego speed or acceleration is not finite')
    return Observation(tuple(cameras), speed, acceleration, COMMANDS[msg.command.command])


def _duration(seconds: float) -> Duration:
    whole = int(seconds)
    return Duration(sec=whole, nanosec=int(round((seconds - whole) * 1e9)))


def trajectory_msg(plan: Plan, header: Header, current_speed: float,
                   model_id: str) -> PlannedTrajectory:
    """PlannedTrajectory with kinematics derived from the decoded poses."""
    motion = kinematics(plan.poses, current_speed)
    points = [TrajectoryPoint(time_from_start=_duration((i + 1) * SEGMENT_SECONDS),
                              x=float(x), y=float(y), yaw=float(yaw),
                              velocity=float(motion.velocity[i]),
                              acceleration=float(motion.acceleration[i]),
                              curvature=float(motion.curvature[i]))
              for i, (x, y, yaw) in enumerate(plan.poses)]
    u = plan.uncertainty
    return PlannedTrajectory(
        header=header, points=points,
        reasoning_mode=(PlannedTrajectory.MODE_SLOW if plan.mode == SLOW
                        else PlannedTrajectory.MODE_FAST),
        mode_reason=plan.mode_reason, explanation=plan.explanation,
        confidence=float(plan.confidence),
        uncertainty=PlanUncertainty(mean_log_prob=u.mean_log_prob, min_log_prob=u.min_log_prob,
                                    mean_entropy=u.mean_entropy, num_samples=u.num_samples,
                                    sample_spread_m=u.sample_spread_m),
        action_token_ids=[int(i) for i in plan.action_indices], model_id=model_id,
        latencies=[StageLatency(stage=stage, milliseconds=float(ms))
                   for stage, ms in plan.latencies_ms.items()])


def path_msg(plan: Plan, header: Header) -> Path:
    """nav_msgs/Path of the planned poses (base_link at the observation stamp)."""
    poses = []
    for x, y, yaw in plan.poses:
        pose = PoseStamped(header=header)
        pose.pose.position.x, pose.pose.position.y = float(x), float(y)
        pose.pose.orientation.z, pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
        poses.append(pose)
    return Path(header=header, poses=poses)


def markers_msg(plan: Plan, header: Header) -> MarkerArray:
    """RViz markers: the trajectory line coloured by mode and the explanation as text."""
    red, green, blue = MODE_COLORS[plan.mode]
    line = Marker(header=header, ns='planned_trajectory', id=0, type=Marker.LINE_STRIP,
                  action=Marker.ADD)
    line.scale.x = 0.3
    line.color = ColorRGBA(r=red, g=green, b=blue, a=1.0)
    line.pose.orientation.w = 1.0
    line.points = [Point()] + [Point(x=float(x), y=float(y)) for x, y, _ in plan.poses]
    text = Marker(header=header, ns='explanation', id=1, type=Marker.TEXT_VIEW_FACING,
                  action=Marker.ADD)
    text.pose.position.z = 3.0
    text.pose.orientation.w = 1.0
    text.scale.z = 0.6
    text.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
    text.text = marker_text(plan.mode, plan.explanation)
    return MarkerArray(markers=[line, text])
