"""The simulator's ROS side: publish the car's world to the stack, take its commands back.

Publishes (relative names, in the node's namespace, as the scenario bags name them):
``cameras/<CAM>/image/compressed`` + ``camera_info`` (JPEG, rendered at the car's pose),
``odometry``, ``route`` (latched), ``driving_command``, ``obstacles/points`` (PointCloud2
in base_link from the world's boxes), ``/clock``, ``/tf`` (odom -> base_link with every
odometry) and ``/tf_static`` (base_link -> each camera's optical frame, from the rig).
Subscribes ``drive_command`` (DriveCommand of the safety node: the full stack),
``planned_trajectory`` (the planner's answers; tracked in process for the model-alone
baseline) and ``safety_status``. Messages are built with the bag generator's builders and
published as CDR bytes, so the live stream and the bags are the same messages.
"""

from dataclasses import replace
import math
import threading
import time
from typing import Dict, List, Optional

from autovla_common.frames import camera_transforms, TF_STATIC_TOPIC, TF_TOPIC
from autovla_common.qos import LATCHED_QOS, RELIABLE_QOS, TF_QOS, TF_STATIC_QOS
from autovla_common.rig import CameraRig
from autovla_safety.controller import Command
from autovla_safety.conversions import plan_from_msg
from autovla_scenarios.generator import (
    image_topic,
    info_topic,
    START_STAMP_NS,
    TOPIC_COMMAND,
    TOPIC_OBSTACLES,
    TOPIC_ODOMETRY,
    TOPIC_ROUTE,
)
from autovla_scenarios.typestore import typestore
import cv2
from nav_msgs.msg import Odometry, Path
import numpy as np
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, CompressedImage, PointCloud2
from tf2_msgs.msg import TFMessage

from autovla_msgs.msg import DriveCommand, DrivingCommand, PlannedTrajectory, SafetyStatus
from autovla_scenarios import messages, obstacles
from autovla_sim.drivers import PlanFollower
from autovla_sim.loop import ControlInput
from autovla_sim.simulator import ClosedLoopSim
from autovla_sim.vehicle import VehicleState

# Publishers are RELIABLE with room for one frame: they match BEST_EFFORT readers too.
PUBLISH_QOS = QoSProfile(depth=20, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE)
SOURCES = {DriveCommand.SOURCE_VLA: 'vla', DriveCommand.SOURCE_FALLBACK: 'fallback',
           DriveCommand.SOURCE_MRM: 'mrm'}
# Wall seconds for messages just published to reach the stack's callbacks before the clock
# tick that uses them (the replay's context settle): odometry before each control tick, the
# context cameras before the anchor, an answer before the tick that tracks it.
STATE_SETTLE_S = 0.002
FRAME_SETTLE_S = 0.05
COMMAND_LOOKAHEAD_S = 3.0
COMMAND_LATERAL_M = 2.0
STACK_INPUTS = (TOPIC_ODOMETRY, TOPIC_ROUTE)
# Wall seconds the first odometry is repeated before the clock starts, and how often: its
# readers are BEST_EFFORT, so nothing acknowledges it (start_clock).
ODOMETRY_FIRST_S = 1.0
ODOMETRY_REPEAT_S = 0.05
CONTROL_STACK, CONTROL_MODEL = 'stack', 'model'


def _cdr(message) -> bytes:
    return bytes(typestore().serialize_cdr(message, message.__msgtype__))


def _seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class RosLink:
    """The ``loop.Link`` over DDS for one run; ``node`` must be spinning in another thread."""

    def __init__(self, node: Node, sim: ClosedLoopSim, rig: CameraRig, control: str,
                 follower: Optional[PlanFollower] = None, anchor: str = 'CAM_FRONT',
                 jpeg_quality: int = 85, command_timeout: float = 10.0):
        if control not in (CONTROL_STACK, CONTROL_MODEL):
            raise ValueError(f'control must be {CONTROL_STACK} or {CONTROL_MODEL}')
        if control == CONTROL_MODEL and follower is None:
            raise ValueError('the model-alone control needs a PlanFollower')
        self.node, self.sim, self.rig, self.control_kind = node, sim, rig, control
        self.follower, self.anchor = follower, anchor
        self.jpeg_quality, self.command_timeout = jpeg_quality, command_timeout
        self.start_ns = START_STAMP_NS
        self.command_wait_s = 0.0     # wall s spent waiting for the stack's commands
        self._lock = threading.Condition()
        self._answered = -1.0          # newest plan stamp (s of simulated time)
        self._command: Optional[DriveCommand] = None
        self._mode = ''
        self._plans: List[PlannedTrajectory] = []
        self._new_answers: List[float] = []
        self._poses: Dict[int, VehicleState] = {}     # frame step -> car state then
        self.plans: List[PlannedTrajectory] = []       # every answer, for the report
        self.clock = node.create_publisher(Clock, '/clock', 10)
        self.route = node.create_publisher(Path, TOPIC_ROUTE, LATCHED_QOS)
        self.odometry = node.create_publisher(Odometry, TOPIC_ODOMETRY, PUBLISH_QOS)
        self.command = node.create_publisher(DrivingCommand, TOPIC_COMMAND, PUBLISH_QOS)
        self.cloud = node.create_publisher(PointCloud2, TOPIC_OBSTACLES, PUBLISH_QOS)
        # The simulator is the car's localization and its rig: it publishes the TF tree
        # (the stack's perception node is told not to: cli.start_stack).
        self.tf = node.create_publisher(TFMessage, TF_TOPIC, TF_QOS)
        self.tf_static = node.create_publisher(TFMessage, TF_STATIC_TOPIC, TF_STATIC_QOS)
        self.tf_static.publish(_cdr(messages.tf_message(
            camera_transforms(rig, 'base_link', self.start_ns))))
        self.images = {c.name: node.create_publisher(CompressedImage, image_topic(c.name),
                                                     PUBLISH_QOS) for c in rig.cameras}
        self.infos = {c.name: node.create_publisher(CameraInfo, info_topic(c.name), PUBLISH_QOS)
                      for c in rig.cameras}
        node.create_subscription(DriveCommand, 'drive_command', self._on_command, RELIABLE_QOS)
        node.create_subscription(PlannedTrajectory, 'planned_trajectory', self._on_plan,
                                 RELIABLE_QOS)
        node.create_subscription(SafetyStatus, 'safety_status', self._on_status, RELIABLE_QOS)

    @property
    def mode(self) -> str:
        """The safety node's newest mode name ('' before its first status)."""
        with self._lock:
            return self._mode

    # -- stamps ---------------------------------------------------------------------------
    def stamp_ns(self, t: float) -> int:
        """Bag-style stamp (ns) of simulated time ``t``."""
        return self.start_ns + int(round(t * 1e9))

    def sim_time(self, stamp) -> float:
        """Return the simulated time (s) of a message stamp."""
        return (stamp.sec * 1_000_000_000 + stamp.nanosec - self.start_ns) * 1e-9

    # -- readiness ------------------------------------------------------------------------
    def wait_for_stack(self, timeout: float) -> List[str]:
        """Publish the route and wait until the stack listens and answers; return what is missing.

        Ready: every camera, odometry and the route have a subscriber, and the plan and
        command topics a publisher (the planner creates its publisher once the model is
        loaded). ``start_clock`` then settles (discovery is not symmetric) and starts time.
        """
        route = self.sim.scenario.route
        stamp = self.stamp_ns(0.0)
        poses = [(stamp, *route.at(s)[:3]) for s in range(0, int(route.length), 2)]
        self.route.publish(_cdr(messages.path(stamp, 'odom', poses)))
        deadline = time.monotonic() + timeout
        while True:
            missing = [topic for topic, publisher in (
                (TOPIC_ODOMETRY, self.odometry), (TOPIC_ROUTE, self.route),
                *((image_topic(name), pub) for name, pub in self.images.items()))
                if publisher.get_subscription_count() == 0]
            missing += [f'{topic} (no publisher)' for topic in ('planned_trajectory',
                                                                'drive_command')
                        if self.node.count_publishers(topic) == 0]
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.05)

    def start_clock(self, timeout: float) -> bool:
        """Give the stack the car's first odometry, then start simulated time at t = 0.

        Before its first /clock a node's simulated time is 0, and the first /clock makes the
        safety node's control timer fire at once: unless odometry was taken before that
        tick, the run starts in EMERGENCY_STOP (odometry_timeout). So the odometry at t = 0
        goes first, repeated while the stack takes it in (the settle the bag replay also
        gives), then the clock. Returns whether the safety node's first command arrived.
        """
        for _ in range(int(round(ODOMETRY_FIRST_S / ODOMETRY_REPEAT_S))):
            self._publish_odometry(self.sim)
            time.sleep(ODOMETRY_REPEAT_S)
        self.clock.publish(Clock(clock=Time(nanoseconds=self.stamp_ns(0.0)).to_msg()))
        with self._lock:
            return self._lock.wait_for(lambda: self._command is not None, timeout)

    # -- Link -----------------------------------------------------------------------------
    def publish_state(self, sim: ClosedLoopSim) -> None:
        """Odometry and /tf every tick, the obstacle cloud every ``sim.cloud_steps``."""
        self._publish_odometry(sim)
        if sim.index % sim.cloud_steps:
            return
        points = obstacles.obstacle_points(sim.obstacle_boxes(), sim.pose())
        self.cloud.publish(_cdr(obstacles.point_cloud(self.stamp_ns(sim.time), points)))

    def _publish_odometry(self, sim: ClosedLoopSim) -> None:
        """Publish the car's odometry at ``sim.time`` and its odom -> base_link transform."""
        ego = sim.ego
        odometry = messages.odometry(self.stamp_ns(sim.time), ego.x, ego.y, ego.yaw, ego.speed,
                                     ego.yaw_rate)
        self.odometry.publish(_cdr(odometry))
        self.tf.publish(_cdr(messages.odometry_tf(odometry)))

    def publish_frame(self, sim: ClosedLoopSim, images: Dict[str, object]) -> None:
        """Publish the driving command, the context cameras, then the anchor camera."""
        stamp = self.stamp_ns(sim.time)
        self._poses[sim.index] = sim.ego
        self.command.publish(_cdr(messages.driving_command(stamp, self._turn(sim), 1)))
        order = [c for c in self.rig.cameras if c.name != self.anchor] + \
            [c for c in self.rig.cameras if c.name == self.anchor]
        for camera in order:
            if camera.name == self.anchor:
                time.sleep(FRAME_SETTLE_S)
            frame_id = f'{camera.name}_optical'
            height, width = images[camera.name].shape[:2]
            ok, jpeg = cv2.imencode('.jpg', images[camera.name],
                                    [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            if not ok:
                raise RuntimeError(f'JPEG encoding failed for {camera.name}')
            self.infos[camera.name].publish(_cdr(messages.camera_info(
                stamp, frame_id, width, height, camera.intrinsics)))
            self.images[camera.name].publish(_cdr(messages.compressed_image(
                stamp, frame_id, jpeg.tobytes())))

    def answered(self, stamp: float) -> bool:
        """Tell whether a plan stamped at or after ``stamp`` arrived."""
        with self._lock:
            return self._answered >= stamp - 1e-6

    def wait_answer(self, stamp: float, timeout: float) -> bool:
        """Wait for the plan of the frame at ``stamp``; let the stack take it in too."""
        with self._lock:
            answered = self._lock.wait_for(lambda: self._answered >= stamp - 1e-6, timeout)
        if answered:
            time.sleep(FRAME_SETTLE_S)
        return answered

    def new_answers(self) -> List[float]:
        """Stamps (s) of the plans that arrived since the last call."""
        with self._lock:
            answers, self._new_answers = self._new_answers, []
        return answers

    def control(self, sim: ClosedLoopSim) -> ControlInput:
        """Publish /clock at ``sim.time``; return the stack's command for it (or the model's)."""
        self._take_plans(sim)
        time.sleep(STATE_SETTLE_S)
        stamp = self.stamp_ns(sim.time)
        self.clock.publish(Clock(clock=Time(nanoseconds=stamp).to_msg()))
        if self.control_kind == CONTROL_MODEL:
            command = self.follower.command(sim.time, sim.ego, sim.config.control_dt)
            return command, 'vla', ''
        waiting = time.monotonic()
        with self._lock:
            got = self._lock.wait_for(
                lambda: self._command is not None and self.sim_time(
                    self._command.header.stamp) >= sim.time - 1e-6, self.command_timeout)
            msg, mode = self._command, self._mode
        self.command_wait_s += time.monotonic() - waiting
        if not got:
            self.node.get_logger().warning(
                f'no drive_command for t={sim.time:.2f} s within {self.command_timeout:g} s; '
                'holding the last one', throttle_duration_sec=5.0)
        if msg is None:
            return None, 'none', mode
        return (Command(msg.steering_angle, msg.steering_rate, msg.speed, msg.acceleration,
                        msg.jerk), SOURCES.get(msg.source, 'unknown'), mode)

    # -- callbacks ------------------------------------------------------------------------
    def _on_command(self, msg: DriveCommand) -> None:
        values = (msg.steering_angle, msg.steering_rate, msg.speed, msg.acceleration, msg.jerk)
        if not all(math.isfinite(v) for v in values):
            # The car keeps the last valid command: a drive-by-wire rejects NaN the same way.
            self.node.get_logger().warning(
                f'drive_command with a non-finite field rejected: {values}',
                throttle_duration_sec=5.0)
            return
        with self._lock:
            self._command = msg
            self._lock.notify_all()

    def _on_plan(self, msg: PlannedTrajectory) -> None:
        with self._lock:
            self._plans.append(msg)
            self.plans.append(msg)
            self._new_answers.append(self.sim_time(msg.header.stamp))
            self._answered = max(self._answered, self.sim_time(msg.header.stamp))
            self._lock.notify_all()

    def _on_status(self, msg: SafetyStatus) -> None:
        with self._lock:
            self._mode = msg.mode_name

    def _take_plans(self, sim: ClosedLoopSim) -> None:
        """Hand the plans received so far to the in-process follower (model alone)."""
        with self._lock:
            plans, self._plans = self._plans, []
        if self.follower is None:
            return
        for msg in plans:
            t = self.sim_time(msg.header.stamp)
            step = int(round(t / sim.config.control_dt))
            plan = plan_from_msg(msg)
            usable = len(plan.t) >= 2 and all(np.isfinite(column).all() for column in (
                plan.t, plan.x, plan.y, plan.yaw, plan.velocity, plan.acceleration))
            if step not in self._poses or not usable:
                self.node.get_logger().warning(
                    f'plan stamped t={t:.2f} s not tracked: '
                    + ('no camera frame at that stamp' if usable else
                       'fewer than 2 points or a non-finite value'), throttle_duration_sec=5.0)
                continue
            self.follower.on_plan(replace(plan, stamp=t), self._poses[step])

    def _turn(self, sim: ClosedLoopSim) -> int:
        """nuScenes-style command: where the route is 3 s ahead at the current speed."""
        route = sim.scenario.route
        s, _ = route.project((sim.ego.x, sim.ego.y))
        ahead = route.at(s + max(sim.ego.speed, 3.0) * COMMAND_LOOKAHEAD_S)
        lateral = -(ahead[0] - sim.ego.x) * math.sin(sim.ego.yaw) + \
            (ahead[1] - sim.ego.y) * math.cos(sim.ego.yaw)
        if lateral > COMMAND_LATERAL_M:
            return DrivingCommand.TURN_LEFT
        if lateral < -COMMAND_LATERAL_M:
            return DrivingCommand.TURN_RIGHT
        return DrivingCommand.KEEP_FORWARD
