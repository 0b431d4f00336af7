"""perception_node: ROS I/O around PerceptionCore (cameras + odometry + route -> observation)."""

from pathlib import Path
import time

from ament_index_python.packages import get_package_share_directory
from autovla_common.frames import (
    camera_transforms,
    odometry_transform,
    TF_STATIC_TOPIC,
    TF_TOPIC,
)
from autovla_common.params import ParamSpec
from autovla_common.qos import (
    create_latched_subscriptions,
    RELIABLE_QOS,
    SENSOR_QOS,
    TF_QOS,
    TF_STATIC_QOS,
)
from autovla_common.rig import load_rig
from autovla_common.ros_params import declare_parameters
from autovla_common.runner import run_node
from autovla_common.topic_map import DEFAULT_COMMAND, DEFAULT_ROUTE, load_topic_map, TopicMap
from diagnostic_msgs.msg import DiagnosticArray, KeyValue
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from tf2_msgs.msg import TFMessage

from autovla_msgs.msg import DrivingCommand, DrivingObservation
from autovla_perception import conversions
from autovla_perception.core import PerceptionConfig, PerceptionCore
from autovla_perception.ego import yaw_from_quaternion
from autovla_perception.health import InputHealth
from autovla_perception.preprocess import MONO16_POLICIES
from autovla_perception.sync import POLICIES

try:  # tf2 is absent from the wheels set-up; with it, a route in map is placed through tf
    from tf2_ros import Buffer as TfBuffer
    from tf2_ros import TransformListener
except ImportError:
    TfBuffer = TransformListener = None

PARAMS = (
    ParamSpec('planning_rate_hz', 'double', 'Largest observation rate (Hz): consecutive '
              'observations are at least 1/rate apart in anchor stamp time.', min=0.1, max=20.0),
    ParamSpec('anchor_camera', 'string', 'Camera whose frame stamp anchors each observation.'),
    ParamSpec('rig_file', 'string', 'Camera rig YAML; empty = installed rigs/nuscenes.yaml.'),
    ParamSpec('topic_map', 'string', 'Topic map YAML naming every input topic (cameras, '
              'odometry, route, command); empty = the rig topics and the default names.'),
    ParamSpec('base_frame', 'string', 'Frame of the observation (route points, extrinsics).'),
    ParamSpec('sync_tolerance_s', 'double', 'Largest stamp offset of a frame from its history '
              'slot (anchor stamp - k / history_rate_hz) (s).', min=0.001, max=0.5),
    ParamSpec('max_wait_s', 'double', 'How long to wait for a late camera or odometry after '
              'the anchor frame arrived (s, node clock).', min=0.0, max=2.0),
    ParamSpec('late_camera_policy', 'string', 'After max_wait_s: skip the observation or '
              'publish it with the camera marked missing.', choices=POLICIES),
    ParamSpec('history_length', 'int', 'Frames per camera in each observation.', min=1, max=16),
    ParamSpec('history_rate_hz', 'double', 'Spacing of the history frames (Hz).',
              min=0.1, max=30.0),
    ParamSpec('allow_recorded_spacing', 'bool', 'When the anchor camera is recorded too '
              'sparsely for history_rate_hz (keyframes), build the history from the recorded '
              'frames (flagged) instead of publishing nothing.'),
    ParamSpec('min_pixels', 'int', 'Smallest pixel count of a preprocessed frame.',
              min=784, max=16777216),
    ParamSpec('max_pixels', 'int', 'Largest pixel count of a preprocessed frame.',
              min=784, max=16777216),
    ParamSpec('max_decode_upscale', 'double', 'A JPEG may be decoded at 1/2, 1/4, 1/8 scale '
              'when that is at most this factor below the target size (1.0 = never upscale).',
              min=1.0, max=1.5),
    ParamSpec('mono16_policy', 'string', '16-bit mono frames: reject, or convert (high byte).',
              choices=MONO16_POLICIES),
    ParamSpec('odometry_tolerance_s', 'double', 'Largest offset between the odometry stamp '
              'and the anchor stamp (s).', min=0.01, max=5.0),
    ParamSpec('acceleration_time_constant_s', 'double', 'Low-pass time constant of the '
              'velocity before differencing it into acceleration (s).', min=0.0, max=5.0),
    ParamSpec('route_lookahead_m', 'double', 'Route length put into the observation (m).',
              min=1.0, max=1000.0),
    ParamSpec('route_spacing_m', 'double', 'Spacing of the resampled route points (m).',
              min=0.1, max=50.0),
    ParamSpec('command_lookahead_m', 'double', 'Route distance ahead whose heading change '
              'gives the driving command (m).', min=1.0, max=500.0),
    ParamSpec('command_threshold_rad', 'double', 'Heading change beyond which the command is '
              'a turn (rad).', min=0.01, max=3.0),
    ParamSpec('command_timeout_s', 'double', 'An explicit driving command is used for this '
              'long after it arrived (s).', min=0.0, max=600.0),
    ParamSpec('publish_odom_tf', 'bool', 'Publish odometry frame -> base_frame on /tf from each '
              "accepted odometry message; false when the car's localization already does."),
    ParamSpec('publish_camera_frames', 'bool', 'Publish base_frame -> <CAMERA>_optical on '
              '/tf_static from the rig extrinsics; false when a robot_state_publisher does.'),
)

RETRY_PERIOD_S = 0.02      # re-check for a late camera this often while waiting
DIAGNOSTICS_PERIOD_S = 1.0
OBSERVATION_QOS = QoSProfile(depth=2, reliability=RELIABLE_QOS.reliability,
                             durability=RELIABLE_QOS.durability, history=RELIABLE_QOS.history)


def _rig_path(rig_file: str) -> Path:
    if rig_file:
        return Path(rig_file)
    share = Path(get_package_share_directory('autovla_perception'))
    return share / 'config' / 'rigs' / 'nuscenes.yaml'


class PerceptionNode(Node):
    """Subscribes to the rig's cameras, odometry, route and command; publishes observations."""

    def __init__(self):
        super().__init__('perception_node')
        p = self.params = declare_parameters(self, PARAMS, 'autovla_perception',
                                             'perception.yaml')
        self.get_logger().info(f'configuration: {self.params}')
        if p['min_pixels'] > p['max_pixels']:
            raise ValueError('min_pixels must not exceed max_pixels')
        rig = load_rig(_rig_path(p['rig_file']))
        if p['topic_map']:
            topics = load_topic_map(Path(p['topic_map']))
            rig = topics.apply_to_rig(rig, p['topic_map'])
        else:
            topics = TopicMap((), route=DEFAULT_ROUTE, command=DEFAULT_COMMAND)
        config = PerceptionConfig.from_params(p, rig.cameras)
        self.core = PerceptionCore(config, InputHealth(5.0, time.monotonic),
                                   warn=self.get_logger().warning)
        for camera in rig.cameras:
            msg_type = CompressedImage if camera.transport == 'compressed' else Image
            self.create_subscription(msg_type, camera.topic,
                                     lambda msg, name=camera.name: self._on_image(name, msg),
                                     SENSOR_QOS)
            if camera.camera_info_topic:
                self.create_subscription(
                    CameraInfo, camera.camera_info_topic,
                    lambda msg, name=camera.name: self.core.set_calibration(
                        name, conversions.calibration(msg)), SENSOR_QOS)
        self.create_subscription(Odometry, topics.odometry, self._on_odometry, SENSOR_QOS)
        if topics.route:
            create_latched_subscriptions(self, PathMsg, topics.route, self._on_route)
        if topics.command:
            self.create_subscription(DrivingCommand, topics.command, self._on_command,
                                     RELIABLE_QOS)
        self.publisher = self.create_publisher(DrivingObservation, 'observation',
                                               OBSERVATION_QOS)
        self.diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', RELIABLE_QOS)
        self.tf_publisher = (self.create_publisher(TFMessage, TF_TOPIC, TF_QOS)
                             if p['publish_odom_tf'] else None)
        if p['publish_camera_frames']:
            self._tf_static = self.create_publisher(TFMessage, TF_STATIC_TOPIC, TF_STATIC_QOS)
            self._tf_static.publish(conversions.tf_message(
                camera_transforms(rig, p['base_frame'], self._now_ns())))
        self.tf_buffer = None
        if TfBuffer is not None:
            self.tf_buffer = TfBuffer()
            self._tf_listener = TransformListener(self.tf_buffer, self)
        self.published = 0
        self._said_warming_up = False
        self._waiting = False
        # Assembly is driven by arriving frames (so a replay's simulated clock standing still
        # can never stall it); this timer only ends the wait for a late camera or odometry.
        # It is never cancelled: in a multi-threaded executor (autovla_bringup
        # --single-process) a frame's callback cancelling it after the executor found it
        # ready made rclpy raise 'timer is canceled' and took the whole stack down.
        self.create_timer(RETRY_PERIOD_S, self._retry_if_waiting)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)
        self.get_logger().info(
            f'listening to {len(rig.cameras)} cameras of rig {rig.name!r} '
            f'({", ".join(rig.names)}), anchor {p["anchor_camera"]}')

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _on_image(self, camera: str, msg) -> None:
        self.core.on_image(camera, conversions.to_ns(msg.header.stamp), self._now_ns(),
                           conversions.encoded_frame(msg))
        self._attempt()

    def _on_odometry(self, msg: Odometry) -> None:
        accepted = self.core.on_odometry(conversions.odometry_sample(msg), msg.header.frame_id)
        if accepted and self.tf_publisher is not None:
            self._publish_odom_tf(msg)
        if self._waiting:
            self._attempt()

    def _publish_odom_tf(self, msg: Odometry) -> None:
        pose = msg.pose.pose
        try:
            transform = odometry_transform(
                conversions.to_ns(msg.header.stamp), msg.header.frame_id,
                msg.child_frame_id or self.params['base_frame'],
                (pose.position.x, pose.position.y, pose.position.z),
                (pose.orientation.x, pose.orientation.y, pose.orientation.z,
                 pose.orientation.w))
        except ValueError as error:
            self.core.reject('bad_odometry_tf', f'no odom TF from this odometry: {error}')
            return
        self.tf_publisher.publish(conversions.tf_message([transform]))

    def _on_route(self, msg: PathMsg) -> None:
        self.core.on_route(conversions.route_points(msg), msg.header.frame_id)

    def _on_command(self, msg: DrivingCommand) -> None:
        self.core.on_command(msg.command, msg.text, conversions.to_ns(msg.header.stamp),
                             self._now_ns())

    def _route_pose(self, frame: str):
        """base_link (x, y, yaw) in ``frame`` from tf2, or None without tf2 or a transform."""
        if self.tf_buffer is None:
            return None
        try:
            transform = self.tf_buffer.lookup_transform(
                frame, self.params['base_frame'], Time()).transform  # Time() = latest
        except Exception:  # noqa: BLE001 - tf2 raises several lookup errors; fall back
            return None
        q = transform.rotation
        return (transform.translation.x, transform.translation.y,
                yaw_from_quaternion(q.x, q.y, q.z, q.w))

    def _retry_if_waiting(self) -> None:
        if self._waiting:
            self._attempt()

    def _attempt(self) -> None:
        result = self.core.step(self._now_ns(), self._route_pose)
        self._waiting = result.status == 'waiting'
        if self._waiting:
            return
        if result.status == 'warming_up' and not self._said_warming_up and not self.published:
            self._said_warming_up = True
            span = (self.params['history_length'] - 1) / self.params['history_rate_hz']
            self.get_logger().info(f'warming up: collecting {span:.1f} s of frame history '
                                   f'from {self.params["anchor_camera"]}')
        if result.observation is None:
            return
        self.publisher.publish(
            conversions.observation_msg(result.observation, self.params['base_frame']))
        self.published += 1
        if self.published == 1:
            self.get_logger().info('history complete: publishing observations')

    def _publish_diagnostics(self) -> None:
        health = self.core.health
        self.diagnostics.publish(conversions.diagnostics_msg(
            self.get_clock().now().to_msg(), f'{self.get_name()}: input', health.counters,
            health.new_since_last_report(),
            [KeyValue(key='observations_published', value=str(self.published)),
             KeyValue(key='history', value=self.core.history_note),
             KeyValue(key='history_spacing_s', value=f'{self.core.history_spacing_s:.3f}')],
            None if self.published else self.core.history_note))


def main(args=None):
    """Entry point of ``ros2 run autovla_perception perception_node``."""
    raise SystemExit(run_node(PerceptionNode, args))
