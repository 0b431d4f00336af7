"""safety_node: ROS I/O around the validator, the supervisor and the controller.

The control timer publishes a DriveCommand on every tick whatever the inputs: missing
inputs change the mode, never the rate.

Executor: single-threaded, on purpose. Measured here (2 cores), rclpy's
MultiThreadedExecutor doubled the node's CPU use (19 % vs 9 % of a core at 50 Hz) and,
with two busy processes beside it, let the command rate sag to 88 % where the
single-threaded one held 100 %. Every input callback is short and bounded instead. Plans
arrive serialized (``raw=True``): their size and point count are read from the CDR
prefix, and only a plan within both limits is deserialized (rclpy would otherwise build a
Python object per point of a 20,000-point plan, ~0.2 s, before the node could judge it);
validation takes well under a millisecond. ``bench/bench_safety_starvation.py`` measures
the command gaps with a rogue plan flowing. The input callbacks and the timer still sit
in separate callback groups and share state only under one lock, so
``run_node(..., threads=2)`` stays correct.
"""

from collections import Counter
from dataclasses import astuple
import math
import threading
import time
import traceback
from typing import Optional, Union

from autovla_common.qos import create_latched_subscriptions, RELIABLE_QOS, SENSOR_QOS
from autovla_common.ros_params import declare_parameters
from autovla_common.runner import run_node
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry, Path
import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from autovla_msgs.msg import DriveCommand, PlannedTrajectory, SafetyStatus
from autovla_safety import conversions
from autovla_safety.aeb import ObstacleMonitor, yaw_rate
from autovla_safety.config import PARAMS, SafetyConfig
from autovla_safety.controller import Command, route_trajectory, Tracker
from autovla_safety.localization import localization_jump
from autovla_safety.point_cloud import points_from_cloud
from autovla_safety.supervisor import Mode, Supervisor
from autovla_safety.trajectory import plan_to_odom, PoseHistory, Trajectory
from autovla_safety.validator import Fault, validate_plan

THROTTLE_S = 5.0
DIAGNOSTICS_PERIOD_S = 1.0
# Keep this much odometry beyond the oldest plan the validator accepts.
POSE_HISTORY_MARGIN_S = 1.0
# The AEB's current-motion path turns at the yaw rate measured over this much odometry.
YAW_RATE_WINDOW_S = 0.2
# How long shutdown waits for the readers to acknowledge the final stop command.
FINAL_STOP_ACK_S = 1.0


class SafetyNode(Node):
    """Validates plans, runs the minimum-risk ladder and publishes DriveCommand."""

    def __init__(self):
        super().__init__('safety_node')
        self.params = declare_parameters(self, PARAMS, 'autovla_safety', 'safety.yaml')
        self.config = SafetyConfig.from_params(self.params)
        self.get_logger().info(f'configuration: {self.params}')
        self._lock = threading.Lock()
        self.supervisor = Supervisor(self.config.supervisor, self._now())
        self.tracker = Tracker(self.config.vehicle, self.config.controller)
        self.history = PoseHistory(self.config.validator.max_trajectory_age
                                   + POSE_HISTORY_MARGIN_S)
        self.counters = Counter()
        self.obstacles = ObstacleMonitor(self.config.aeb)
        self._odom_frame: Optional[str] = None
        self._route: Optional[np.ndarray] = None
        self._route_frame = ''
        self._valid_plan: Optional[Trajectory] = None
        self._selected: Optional[Trajectory] = None   # last tracked; stops steer along it
        self._selected_mode = self.supervisor.mode
        self._period = 1.0 / self.params['control_rate_hz']
        self._status_every = max(1, round(self.params['control_rate_hz']
                                          / self.params['status_rate_hz']))
        self._diagnostics_every = max(1, round(DIAGNOSTICS_PERIOD_S / self._period))
        self._ticks = 0
        self._last_tick_wall: Optional[float] = None
        self._last_tick_now = -math.inf

        inputs = MutuallyExclusiveCallbackGroup()
        self.create_subscription(PlannedTrajectory, 'planned_trajectory', self._on_plan,
                                 RELIABLE_QOS, callback_group=inputs, raw=True)
        self.create_subscription(Odometry, 'odometry', self._on_odometry, SENSOR_QOS,
                                 callback_group=inputs)
        create_latched_subscriptions(self, Path, 'route', self._on_route,
                                     callback_group=inputs)
        self.create_subscription(Bool, 'emergency_stop', self._on_estop, RELIABLE_QOS,
                                 callback_group=inputs)
        self.create_service(Trigger, 'reset_emergency_stop', self._on_reset,
                            callback_group=inputs)
        if self.config.aeb.enabled:
            self.create_subscription(PointCloud2, 'obstacles/points', self._on_cloud,
                                     SENSOR_QOS, callback_group=inputs)
        self.command_pub = self.create_publisher(DriveCommand, 'drive_command', RELIABLE_QOS)
        self.status_pub = self.create_publisher(SafetyStatus, 'safety_status', RELIABLE_QOS)
        self.path_pub = self.create_publisher(Path, 'selected_path', RELIABLE_QOS)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics',
                                                     RELIABLE_QOS)
        self.create_timer(self._period, self._tick,
                          callback_group=MutuallyExclusiveCallbackGroup())

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # Inputs -----------------------------------------------------------------------------
    def _on_plan(self, data: bytes) -> None:
        now = self._now()
        stamp, end_time, faults, trajectory = self._judge_plan(data, now)
        with self._lock:
            self.supervisor.on_plan(now, stamp, faults, end_time)
            if trajectory is not None:
                self._valid_plan = trajectory
            mode = self.supervisor.mode
            self.counters['plans_received'] += 1
            self.counters['plans_rejected'] += bool(faults)
            self.counters.update(f'rejected.{fault.name}' for fault in faults)
        if faults:
            self.get_logger().warning(
                f'rejected plan stamped {stamp:.3f}: '
                + '; '.join(f'{f.name}: {f.reason}' for f in faults)
                + f' (mode {mode.name}; the ladder decides what is tracked)',
                throttle_duration_sec=THROTTLE_S)

    def _judge_plan(self, data: bytes, now: float):
        """Return (stamp, end time, faults, trajectory in odom or None) of a serialized plan.

        Size and point count are judged from the bytes: deserializing an oversized plan
        would cost the control loop its time.
        """
        cfg = self.config.validator
        try:
            stamp, count = conversions.plan_header_from_cdr(data)
        except ValueError as error:
            return math.nan, math.nan, [Fault('malformed', f'unreadable plan: {error}')], None
        if count > cfg.max_points:
            return stamp, stamp, [Fault('point_count', f'{count} points, allowed at most '
                                        f'{cfg.max_points}')], None
        if len(data) > cfg.max_message_bytes:
            return stamp, stamp, [Fault('message_size', f'{len(data)} bytes, allowed at most '
                                        f'{cfg.max_message_bytes}')], None
        try:
            plan = conversions.plan_from_msg(deserialize_message(data, PlannedTrajectory))
        except Exception as error:  # noqa: BLE001 - whatever the bytes hold, reject them
            return stamp, stamp, [Fault('malformed', f'cannot deserialize: {error}')], None
        with self._lock:
            ego = self.history.at(stamp, cfg.pose_lookup_tolerance)
            route = self._route if self._route_frame == self._odom_frame else None
        try:
            faults = validate_plan(plan, now, ego, route, self.config.vehicle, cfg)
            if faults:
                return stamp, plan.end_time, faults, None
            trajectory = plan_to_odom(plan, ego)
            faults = self._obstacle_faults(trajectory, now)
            return stamp, plan.end_time, faults, None if faults else trajectory
        except Exception as error:  # noqa: BLE001 - a plan we cannot judge is rejected
            return stamp, plan.end_time, [Fault('validator_error',
                                                f'{type(error).__name__}: {error}')], None

    def _obstacle_faults(self, trajectory: Trajectory, now: float):
        """Reject a plan that runs into the obstacle cloud within its stopping distance."""
        with self._lock:
            latest = self.history.latest
            if latest is None or not self.obstacles.fresh(now):
                return []
            collision = self.obstacles.check_trajectory('plan', trajectory, latest)
        if collision is None or not collision.imminent:
            return []
        return [Fault('obstacle_on_plan', collision.describe())]

    def _on_cloud(self, msg: PointCloud2) -> None:
        """Validate an obstacle cloud and hand its points to the AEB (base_link or odom)."""
        now = self._now()
        stamp = conversions.seconds(msg.header.stamp)
        try:
            age = now - stamp
            if not -self.config.validator.max_clock_skew <= age <= self.config.aeb.cloud_timeout:
                raise ValueError(f'stamp {stamp:.3f} is {age:.3f} s old, accepted '
                                 f'[-{self.config.validator.max_clock_skew}, '
                                 f'{self.config.aeb.cloud_timeout}] s')
            with self._lock:
                odom_frame = self._odom_frame
            if msg.header.frame_id not in ('base_link', odom_frame):
                raise ValueError(f'frame {msg.header.frame_id!r}: expected base_link or the '
                                 f'odometry frame {odom_frame!r}')
            cloud = points_from_cloud(msg, self.config.aeb.max_cloud_points)
            with self._lock:
                pose = None
                if msg.header.frame_id == 'base_link':
                    pose = self.history.at(stamp, self.config.validator.pose_lookup_tolerance)
                    if pose is None:
                        raise ValueError('no odometry pose at its stamp to place it with')
                self.obstacles.on_cloud(stamp, cloud.xyz, pose)
                self.counters['clouds_received'] += 1
                self.counters['cloud_points_dropped'] += cloud.dropped
        except ValueError as error:
            with self._lock:
                self.counters['clouds_rejected'] += 1
            self.get_logger().warning(f'obstacle cloud rejected: {error}; the AEB judges by '
                                      'the last valid cloud until it times out',
                                      throttle_duration_sec=THROTTLE_S)

    def _on_odometry(self, msg: Odometry) -> None:
        try:
            ego = conversions.ego_from_odometry(msg)
        except ValueError as error:
            with self._lock:
                self.counters['odometry_rejected'] += 1
            self.get_logger().warning(f'ignored odometry: {error}',
                                      throttle_duration_sec=THROTTLE_S)
            return
        now = self._now()
        # Simulated time before its first /clock is 0 and times nothing; the first /clock
        # fires the control timer at once, so the odometry that came first is heard at its
        # stamp (on the simulator's timeline) instead: the run starts as a normal drive.
        heard = now if now > 0.0 else ego.stamp
        with self._lock:
            if self._odom_frame not in (None, msg.header.frame_id):
                self.get_logger().warning(
                    f'odometry frame changed from {self._odom_frame!r} to '
                    f'{msg.header.frame_id!r}; using the new one',
                    throttle_duration_sec=THROTTLE_S)
            self._odom_frame = msg.header.frame_id
            jump = localization_jump(self.history.latest, ego, self.config.localization,
                                     self.config.vehicle)
            if jump is not None:
                # Poses before the jump are from another fix: no plan may be placed by them.
                self.history = PoseHistory(self.history.length)
                self.supervisor.on_localization_jump(now, jump)
                self.counters['localization_jumps'] += 1
            self.history.add(ego)
            self.supervisor.on_odometry(heard)
        if jump is not None:
            self.get_logger().error(f'localization jump: {jump}; emergency stop until the '
                                    'odometry is consistent again',
                                    throttle_duration_sec=THROTTLE_S)

    def _on_route(self, msg: Path) -> None:
        try:
            route = conversions.route_from_path(msg)
        except ValueError as error:
            route = None
            with self._lock:
                self.counters['routes_rejected'] += 1
            self.get_logger().warning(f'route dropped: {error}; the fallback cannot run '
                                      'until a valid route arrives')
        with self._lock:
            self._route, self._route_frame = route, msg.header.frame_id
            if route is None:
                self.supervisor.on_route(None, 'route dropped: invalid or empty route message')
            else:
                self.supervisor.on_route(conversions.seconds(msg.header.stamp))
        if route is not None:
            self.get_logger().info(f'route received: {len(route)} points in '
                                   f'{msg.header.frame_id!r}')

    def _on_estop(self, msg: Bool) -> None:
        with self._lock:
            was_latched = self.supervisor.estop_latched
            self.supervisor.on_estop(bool(msg.data))
            self.counters['estops_latched'] += bool(msg.data and not was_latched)
        if msg.data and not was_latched:
            self.get_logger().error('external e-stop: latched until reset_emergency_stop')

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response):
        with self._lock:
            response.success, response.message = self.supervisor.reset_estop(self._now())
        self.get_logger().info(f'reset_emergency_stop: {response.message}')
        return response

    # Control loop ---------------------------------------------------------------------------
    def _tick(self) -> None:
        started = time.perf_counter()
        now = self._now()
        if now < self._last_tick_now:
            self._restart_after_clock_jump(self._last_tick_now - now, now)
        self._last_tick_now = now
        try:
            command, mode, transitions = self._control(now)
        except Exception as error:  # noqa: BLE001 - whatever broke, the stream must go on
            command, mode, transitions = self._internal_error(error), Mode.EMERGENCY_STOP, []
        self.command_pub.publish(conversions.command_msg(command, now, mode))
        for transition in transitions:
            text = (f'{transition.previous.name} -> {transition.mode.name}: '
                    f'{transition.reason}')
            if transition.mode > transition.previous:
                self.get_logger().warning(text)
            else:
                self.get_logger().info(text)
        self._ticks += 1
        if transitions or self._ticks % self._status_every == 0:
            self._publish_status(now)
        if self._ticks % self._diagnostics_every == 0:
            self._publish_diagnostics(now)
        self._account_timing(started)

    def _control(self, now: float):
        """Step the ladder and compute this tick's command: (command, mode, transitions)."""
        with self._lock:
            trusted = (self.supervisor.odometry_fresh(now)
                       and self.supervisor.localization_trusted(now))
            ego = self.history.latest if trusted else None
            fallback = self._fallback(ego, now)
            self._check_obstacles(now, ego, fallback)
            transitions = self.supervisor.step(
                now, fallback if isinstance(fallback, str) else None)
            mode = self.supervisor.mode
            plan = self._valid_plan
            self.counters['transitions'] += len(transitions)
        command = self._command(mode, ego, now, plan, fallback)
        if not all(math.isfinite(value) for value in astuple(command)):
            raise ValueError(f'non-finite command {command} in {mode.name}')
        return command, mode, transitions

    def _check_obstacles(self, now: float, ego, fallback) -> None:
        """AEB at control rate, along what the current mode tracks and the current motion."""
        if ego is None:
            rate = 0.0
        else:
            rate = yaw_rate(ego, self.history.at(ego.stamp - YAW_RATE_WINDOW_S, 0.0))
        tracked = {Mode.NOMINAL: self._valid_plan, Mode.DEGRADED: self._valid_plan,
                   Mode.FALLBACK: fallback if isinstance(fallback, Trajectory) else None}
        was_braking = self.obstacles.braking(now)
        collision = self.obstacles.step(now, ego, rate, tracked.get(self.supervisor.mode))
        braking = self.obstacles.braking(now)
        self.supervisor.on_aeb(self.obstacles.reason if braking else None)
        self.counters['aeb_activations'] = self.obstacles.activations
        if collision is not None and not was_braking:
            self.get_logger().error(f'AEB: braking for {collision.describe()}')

    def _internal_error(self, error: Exception) -> Command:
        """Latch an emergency stop for a bug in this node; the command needs no computation."""
        reason = f'{type(error).__name__}: {error}'
        self.get_logger().error(f'internal error, emergency stop latched until '
                                f'reset_emergency_stop: {traceback.format_exc()}',
                                throttle_duration_sec=THROTTLE_S)
        with self._lock:
            self.supervisor.on_internal_error(reason)
            self.counters['internal_errors'] += 1
        return self._blind_emergency_stop()

    def _blind_emergency_stop(self) -> Command:
        """Emergency deceleration, steering held: a stop that needs no input and no state."""
        stop = self.config.stop
        return Command(self.tracker.steering, self.config.vehicle.max_steering_rate, 0.0,
                       -stop.emergency_deceleration, stop.emergency_jerk)

    def last_words(self) -> None:
        """Last command before the node exits: an emergency stop, delivered if possible.

        Called by ``autovla_common.runner`` once spinning has ended, before any node of
        the process is destroyed.

        After it nothing is published: the drive-by-wire side must time out on the silent
        command stream and stop the vehicle on its own (see the package README).
        """
        msg = conversions.command_msg(self._blind_emergency_stop(), self._now(),
                                      Mode.EMERGENCY_STOP)
        self.command_pub.publish(msg)
        acked = self.command_pub.wait_for_all_acked(Duration(seconds=FINAL_STOP_ACK_S))
        self.get_logger().warning('shutting down: final emergency stop command sent'
                                  + ('' if acked else ' (not acknowledged by every reader)'))

    def _restart_after_clock_jump(self, jump: float, now: float) -> None:
        """Forget every timed input: plans, poses and deadlines belong to another timeline."""
        reason = (f'clock jumped back {jump:.3f} s (replay restarted?): state reset, '
                  'latches kept, waiting for valid plans')
        with self._lock:
            previous = self.supervisor.mode
            self.supervisor.restart_timeline(now, reason)
            self.history = PoseHistory(self.history.length)
            self._valid_plan = self._selected = None
            self.obstacles.forget()
            if self._route is not None:  # same odom geometry; its age restarts with the clock
                self.supervisor.on_route(now)
            self.counters['clock_jumps'] += 1
        self.get_logger().warning(f'{previous.name} -> {self.supervisor.mode.name}: {reason}')

    def _fallback(self, ego, now: float) -> Union[Trajectory, str]:
        if self._route is None:
            return 'no route'
        if self._route_frame != self._odom_frame:
            return (f'route frame {self._route_frame!r} is not the odometry frame '
                    f'{self._odom_frame!r}')
        if ego is None:
            return 'no odometry'
        return route_trajectory(self._route, ego, now, self.config.vehicle,
                                self.config.fallback, self.config.stop.comfortable_deceleration)

    def _command(self, mode: Mode, ego, now: float, plan: Optional[Trajectory],
                 fallback: Union[Trajectory, str]) -> Command:
        """Track what the mode selects; stops steer along the last tracked path."""
        if mode != self._selected_mode:
            self.tracker.reset_speed_control()
            self._selected_mode = mode
        stop = self.config.stop
        selected = {Mode.NOMINAL: plan, Mode.DEGRADED: plan,
                    Mode.FALLBACK: fallback if isinstance(fallback, Trajectory) else None}
        trajectory = selected.get(mode)
        if trajectory is not None and ego is not None:
            self._selected = trajectory
            return self.tracker.track(trajectory, ego, now, self._period)
        if mode == Mode.EMERGENCY_STOP and self.obstacles.braking(now):
            return self.tracker.stop(self.config.aeb.deceleration, self.config.aeb.jerk,
                                     self._period, ego, self._selected)
        if mode == Mode.EMERGENCY_STOP:
            return self.tracker.stop(stop.emergency_deceleration, stop.emergency_jerk,
                                     self._period, ego, self._selected)
        # COMFORTABLE_STOP, or a tracking mode whose inputs vanished within this tick.
        return self.tracker.stop(stop.comfortable_deceleration, stop.comfortable_jerk,
                                 self._period, ego, self._selected)

    def _publish_status(self, now: float) -> None:
        with self._lock:
            supervisor = self.supervisor
            msg = conversions.status_msg(now, supervisor.mode, supervisor.faults,
                                         supervisor.planner_age(now),
                                         supervisor.time_in_mode(now), supervisor.reason)
        self.status_pub.publish(msg)
        self.path_pub.publish(conversions.path_msg(self._selected, self._odom_frame or ''))

    def _publish_diagnostics(self, now: float) -> None:
        with self._lock:
            status = conversions.diagnostic_status(
                f'{self.get_name()}: minimum-risk ladder', self.supervisor.mode,
                self.supervisor.reason, self.supervisor.faults, dict(self.counters))
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = conversions.to_stamp(now)
        self.diagnostics_pub.publish(msg)

    def _account_timing(self, started: float) -> None:
        """Count wall-clock tick cost and ticks that came over half a period late."""
        tick_ms = round((time.perf_counter() - started) * 1e3, 2)
        late = (self._last_tick_wall is not None
                and started - self._last_tick_wall > 1.5 * self._period)
        with self._lock:
            self.counters['max_tick_ms'] = max(self.counters['max_tick_ms'], tick_ms)
            self.counters['late_ticks'] += late
        self._last_tick_wall = started


def main(args=None):
    """Entry point of ``ros2 run autovla_safety safety_node``."""
    raise SystemExit(run_node(SafetyNode, args))
