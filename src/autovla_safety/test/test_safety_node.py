"""Fault injection into the installed safety_node over real DDS, from this (other) process.

One node process with short deadlines goes through the scenarios in turn; each scenario
starts by bringing it back to NOMINAL. The probe publishes odometry at 50 Hz and (when
asked) plans at 5 Hz from background timers, and collects what the node publishes.
Times are compared on the system clock, which the node and this process share.
"""

import math
import threading
import time

from autovla_common.qos import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from autovla_common.testing import NodeProcess, RosProbe, SimClock, wait_until
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from rclpy.time import Time
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from autovla_msgs.msg import DriveCommand, PlannedTrajectory, SafetyStatus, TrajectoryPoint

PLANNER_TIMEOUT = 0.6
DEGRADED_HOLD = 1.0
FALLBACK_MAX = 1.0
ODOMETRY_TIMEOUT = 0.5
RECOVERY_PLANS = 3
LOW_CONFIDENCE_COUNT = 2
PARAMS = {
    'supervisor.planner_timeout_s': PLANNER_TIMEOUT,
    'supervisor.degraded_hold_s': DEGRADED_HOLD,
    'supervisor.fallback_max_duration_s': FALLBACK_MAX,
    'supervisor.odometry_timeout_s': ODOMETRY_TIMEOUT,
    'supervisor.recovery_valid_plans': RECOVERY_PLANS,
    'supervisor.low_confidence_count': LOW_CONFIDENCE_COUNT,
}
RATE_HZ = 50.0
PLAN_PERIOD = 0.2
# Scheduling slack for a loaded 2-core machine (s): upper bounds only; nothing may come early.
SLACK = 1.0
COUNTING_QOS = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
RATE_WINDOW = 2.0


def seconds(stamp):
    return stamp.sec + stamp.nanosec * 1e-9


class Stack:
    """The node under test and the probe that plays planner, localisation and route."""

    def __init__(self, params=PARAMS, sim_start=None, namespace=''):
        self.probe = RosProbe('safety_test_probe', namespace)
        # Inputs are stamped on the node's timeline: the system clock, or /clock from here.
        self.clock = None if sim_start is None else SimClock(self.probe, sim_start,
                                                              RELIABLE_QOS)
        self.node = NodeProcess.ros_node('autovla_safety', 'safety_node', params=params,
                                         ros_args=['-r', f'__ns:=/{namespace}'])
        node = self.probe.node
        self.status = self.probe.collect(SafetyStatus, 'safety_status', RELIABLE_QOS)
        # A deep reader queue: a busy test process must not drop what it counts.
        self.commands = self.probe.collect(DriveCommand, 'drive_command', COUNTING_QOS)
        self.diagnostics = self.probe.collect(DiagnosticArray, '/diagnostics', RELIABLE_QOS)
        self.plan_pub = self.probe.publisher(PlannedTrajectory, 'planned_trajectory',
                                             RELIABLE_QOS)
        self.odom_pub = self.probe.publisher(Odometry, 'odometry', SENSOR_QOS)
        self.route_pub = self.probe.publisher(Path, 'route', LATCHED_QOS)
        self.estop_pub = self.probe.publisher(Bool, 'emergency_stop', RELIABLE_QOS)
        self.reset_client = node.create_client(Trigger, 'reset_emergency_stop')
        self.odometry_on = True
        self.odometry_y = 0.0        # where localization says the car stands (odom frame)
        self.plan_confidence = None  # None: the plan timer is off
        self.last_plan_time = None
        self._plan_lock = threading.Lock()
        node.create_timer(1.0 / RATE_HZ, self._publish_odometry)
        node.create_timer(PLAN_PERIOD, self._publish_timed_plan)

    def start(self):
        for publisher in (self.plan_pub, self.odom_pub, self.route_pub, self.estop_pub):
            assert self.probe.wait_for_subscribers(publisher, timeout=30), self.node.output()
        assert self.reset_client.wait_for_service(timeout_sec=10), self.node.output()
        self.publish_route(200.0)

    def now(self):
        """Time message on the node's timeline."""
        return self.probe.now() if self.clock is None else self.clock.now()

    def time(self):
        """Seconds on the node's timeline."""
        return time.time() if self.clock is None else self.clock.seconds

    def close(self):
        code = self.node.stop()
        self.probe.close()
        return code

    # Inputs -------------------------------------------------------------------------------
    def _publish_odometry(self):
        if not self.odometry_on:
            return
        msg = Odometry()
        msg.header.stamp = self.now()
        msg.header.frame_id = 'odom'
        msg.child_frame_id = 'base_link'
        msg.pose.pose.position.y = self.odometry_y
        msg.pose.pose.orientation.w = 1.0  # standing still, facing +x
        self.odom_pub.publish(msg)

    def _publish_timed_plan(self):
        if self.plan_confidence is not None:
            self.publish_plan(confidence=self.plan_confidence)

    def publish_plan(self, confidence=0.9, nan=False):
        """Plan 10 points at 0.5 s, straight ahead at 1 m/s, stamped a little in the past."""
        msg = PlannedTrajectory()
        stamp = Time.from_msg(self.now()).nanoseconds - 50_000_000
        msg.header.stamp = Time(nanoseconds=stamp).to_msg()
        msg.header.frame_id = 'base_link'
        msg.confidence = confidence
        for i in range(1, 11):
            t = 0.5 * i
            point = TrajectoryPoint(x=t, y=0.0, yaw=0.0, velocity=1.0)
            point.time_from_start.sec, point.time_from_start.nanosec = int(t), int(
                round((t % 1.0) * 1e9))
            msg.points.append(point)
        if nan:
            msg.points[4].y = math.nan
        with self._plan_lock:
            self.plan_pub.publish(msg)
            self.last_plan_time = time.time()

    def publish_route(self, length):
        msg = Path()
        msg.header.stamp = self.now()
        msg.header.frame_id = 'odom'
        for i in range(int(length) + 1 if length else 0):
            pose = PoseStamped()
            pose.pose.position.x = float(i) - 5.0
            msg.poses.append(pose)
        self.route_pub.publish(msg)

    def reset_estop(self):
        future = self.reset_client.call_async(Trigger.Request())
        assert wait_until(future.done, timeout=5)
        return future.result()

    # Observations ---------------------------------------------------------------------------
    def wait_mode(self, mode, after, timeout):
        """First status in ``mode`` stamped at or after ``after`` (None on timeout)."""
        def find():
            return next((s for s in list(self.status)
                         if s.mode == mode and seconds(s.header.stamp) >= after), None)
        wait_until(lambda: find() is not None, timeout)
        return find()

    def commands_since(self, after):
        return [c for c in list(self.commands) if seconds(c.header.stamp) >= after]

    def assert_command_rate(self, windows=3):
        """At least 80 % of the nominal rate in one of ``windows`` consecutive windows.

        Other test suites share this 2-core machine and can starve any process for a
        second; a node that cannot hold the rate fails every window.
        """
        counts = []
        for _ in range(windows):
            start = time.time()
            time.sleep(RATE_WINDOW + 0.2)
            window = [c for c in self.commands_since(start)
                      if seconds(c.header.stamp) < start + RATE_WINDOW]
            counts.append(len(window))
            if len(window) >= 0.8 * RATE_HZ * RATE_WINDOW:
                return window
        node_view = {kv.key: kv.value for kv in self.diagnostics[-1].status[0].values
                     if kv.key in ('late_ticks', 'max_tick_ms')} if self.diagnostics else {}
        raise AssertionError(f'drive_command counts per {RATE_WINDOW} s: {counts}; node: '
                             f'{node_view}')

    def recover(self):
        """Odometry on, route present, good plans flowing: back to NOMINAL."""
        self.odometry_on = True
        self.plan_confidence = 0.9
        started = self.time()
        status = self.wait_mode(SafetyStatus.NOMINAL, started, timeout=10)
        assert status is not None, self.node.output()[-3000:]
        return status


@pytest.fixture(scope='module')
def stack():
    stack = Stack()
    try:
        stack.start()
        yield stack
    finally:
        code = stack.close()
    assert code == 0, stack.node.output()


def test_valid_plans_reach_nominal_and_the_command_rate_holds(stack):
    stack.recover()
    time.sleep(1.0)  # past the start-up transient
    stack.assert_command_rate()
    last = stack.commands[-1]
    assert last.source == DriveCommand.SOURCE_VLA
    assert last.gear == DriveCommand.GEAR_DRIVE and not last.hazard_lights
    assert 0.0 < last.speed <= 1.0  # the plan ramps from standstill to 1 m/s


def test_nan_plan_is_rejected_with_its_reason_and_recovery_needs_n_valid_plans(stack):
    stack.recover()
    stack.plan_confidence = None
    time.sleep(PLAN_PERIOD)
    injected = time.time()
    stack.publish_plan(nan=True)
    degraded = stack.wait_mode(SafetyStatus.DEGRADED, injected, timeout=2)
    assert degraded is not None
    assert 'nan_or_inf' in degraded.last_transition_reason
    names = {fault.name: fault.reason for fault in degraded.active_faults}
    assert 'nan_or_inf' in names and 'y' in names['nan_or_inf'], names
    plan_times = []
    for _ in range(RECOVERY_PLANS):
        time.sleep(0.15)
        stack.publish_plan()
        plan_times.append(time.time())
    nominal = stack.wait_mode(SafetyStatus.NOMINAL, injected, timeout=3)
    assert nominal is not None, stack.node.output()[-3000:]
    # Hysteresis: not before the last of the N valid plans had been sent.
    assert seconds(nominal.header.stamp) >= plan_times[-1] - 0.01
    assert f'{RECOVERY_PLANS} consecutive valid plans' in nominal.last_transition_reason


def test_repeated_low_confidence_goes_to_fallback(stack):
    stack.recover()
    injected = time.time()
    stack.plan_confidence = 0.05
    fallback = stack.wait_mode(SafetyStatus.FALLBACK, injected, timeout=LOW_CONFIDENCE_COUNT
                               * PLAN_PERIOD + SLACK + 1.0)
    assert fallback is not None
    assert 'repeated_low_confidence' in fallback.last_transition_reason, stack.node.output()
    assert {'low_confidence', 'repeated_low_confidence'} <= {
        f.name for f in fallback.active_faults}
    assert wait_until(lambda: any(c.source == DriveCommand.SOURCE_FALLBACK
                                  for c in stack.commands_since(injected)), 2)


def test_silent_planner_degrades_then_stops_within_the_configured_times(stack):
    stack.recover()
    stack.plan_confidence = None
    time.sleep(0.05)
    silent_since = stack.last_plan_time
    degraded = stack.wait_mode(SafetyStatus.DEGRADED, silent_since, timeout=3)
    assert degraded is not None
    fallback = stack.wait_mode(SafetyStatus.FALLBACK, seconds(degraded.header.stamp), timeout=3)
    assert fallback is not None
    stopped = stack.wait_mode(SafetyStatus.COMFORTABLE_STOP, seconds(fallback.header.stamp),
                              timeout=5)
    assert stopped is not None
    degraded_after = seconds(degraded.header.stamp) - silent_since
    stop_after = seconds(stopped.header.stamp) - silent_since
    assert PLANNER_TIMEOUT <= degraded_after <= PLANNER_TIMEOUT + SLACK
    assert 'planner_timeout' in degraded.last_transition_reason
    assert seconds(fallback.header.stamp) - seconds(degraded.header.stamp) >= DEGRADED_HOLD
    deadline = PLANNER_TIMEOUT + DEGRADED_HOLD + FALLBACK_MAX
    assert deadline <= stop_after <= deadline + SLACK
    time.sleep(0.5)
    command = stack.commands[-1]
    assert command.source == DriveCommand.SOURCE_MRM and command.hazard_lights
    assert command.speed == 0.0 and -1.0 - 1e-6 <= command.acceleration < 0.0


def test_route_loss_means_stop_instead_of_fallback(stack):
    stack.recover()
    dropped = time.time()
    stack.publish_route(0)  # an empty route clears it
    assert wait_until(lambda: any(s for s in stack.status if seconds(s.header.stamp) > dropped
                                  and 'route_lost' in {f.name for f in s.active_faults}), 2)
    assert stack.status[-1].mode == SafetyStatus.NOMINAL  # the VLA plan does not need it
    stack.plan_confidence = 0.05
    stopped = stack.wait_mode(SafetyStatus.COMFORTABLE_STOP, dropped, timeout=3)
    assert stopped is not None
    assert 'fallback cannot run' in stopped.last_transition_reason
    assert not any(c.source == DriveCommand.SOURCE_FALLBACK for c in stack.commands_since(dropped))
    stack.publish_route(200.0)


def test_estop_latches_until_reset(stack):
    stack.recover()
    pressed = time.time()
    stack.estop_pub.publish(Bool(data=True))
    emergency = stack.wait_mode(SafetyStatus.EMERGENCY_STOP, pressed, timeout=1)
    assert emergency is not None and 'external_estop' in emergency.last_transition_reason
    refused = stack.reset_estop()
    assert not refused.success and 'still asserted' in refused.message
    stack.estop_pub.publish(Bool(data=False))
    time.sleep(1.0)  # valid plans keep coming: the latch holds
    assert stack.status[-1].mode == SafetyStatus.EMERGENCY_STOP
    reset_at = time.time()
    assert stack.reset_estop().success
    nominal = stack.wait_mode(SafetyStatus.NOMINAL, reset_at, timeout=3)
    assert nominal is not None
    # Plans counted before the reset do not count: N fresh plans at 5 Hz take >= 0.4 s.
    assert seconds(nominal.header.stamp) - reset_at >= (RECOVERY_PLANS - 1) * PLAN_PERIOD - 0.1


def test_odometry_loss_commands_emergency_stop_at_the_same_rate(stack):
    stack.recover()
    lost = time.time()
    stack.odometry_on = False
    emergency = stack.wait_mode(SafetyStatus.EMERGENCY_STOP, lost, timeout=2)
    assert emergency is not None
    assert 'odometry_timeout' in emergency.last_transition_reason
    assert seconds(emergency.header.stamp) - lost <= ODOMETRY_TIMEOUT + SLACK
    commands = stack.assert_command_rate()
    assert all(c.source == DriveCommand.SOURCE_MRM and c.hazard_lights for c in commands)
    assert math.isclose(commands[-1].acceleration, -2.5, abs_tol=1e-6)
    stack.recover()  # odometry back: N valid plans bring NOMINAL back


def diagnostic_counter(stack, key):
    """Newest value of one of the node's /diagnostics counters (0 before it appears)."""
    for array in reversed(list(stack.diagnostics)):
        values = {kv.key: kv.value for kv in array.status[0].values}
        if key in values:
            return float(values[key])
    return 0.0


def test_rogue_20000_point_plans_do_not_stall_the_command_stream(stack):
    """Issue 15 bug 2: a 20,000-point plan at 4 Hz stalled control for up to 0.36 s."""
    stack.recover()
    rogue = PlannedTrajectory(confidence=0.9)
    rogue.header.stamp = stack.now()
    rogue.header.frame_id = 'base_link'
    rogue.points = [TrajectoryPoint(x=0.01 * i, velocity=1.0) for i in range(20000)]
    data = serialize_message(rogue)
    timer = stack.probe.node.create_timer(0.25, lambda: stack.plan_pub.publish(data))
    period = 1.0 / RATE_HZ
    stalls = []
    try:
        for _ in range(3):  # best of three 3 s windows, as the rate checks (shared machine)
            start = time.time()
            assert wait_until(lambda: stack.commands_since(start + 3.0), 10)
            stamps = [seconds(c.header.stamp) for c in stack.commands_since(start)
                      if seconds(c.header.stamp) < start + 3.0]
            stalls.append(sum(b - a > 4 * period for a, b in zip(stamps, stamps[1:])))
            if stalls[-1] <= 1:
                break
    finally:
        timer.cancel()
        stack.probe.node.destroy_timer(timer)
    # Before the fix every rogue plan (12 per window) stalled the loop for > 0.2 s.
    assert stalls[-1] <= 1, f'command gaps over {4 * period:.2f} s per window: {stalls}'
    assert wait_until(lambda: diagnostic_counter(stack, 'rejected.point_count') >= 4, 5)
    odometry_faults = [s for s in list(stack.status) if seconds(s.header.stamp) >= start
                       and 'odometry_timeout' in {f.name for f in s.active_faults}]
    assert not odometry_faults, odometry_faults[0]


def test_unreadable_plan_bytes_are_rejected_and_the_node_lives_on(stack):
    stack.recover()
    injected = time.time()
    # A CDR header that announces a frame_id longer than the whole message.
    stack.plan_pub.publish(b'\x00\x01\x00\x00' + bytes(8) + b'\xff\xff\xff\x7f' + bytes(64))
    assert wait_until(lambda: diagnostic_counter(stack, 'rejected.malformed') >= 1, 5), \
        stack.node.output()[-3000:]
    assert stack.node.process.poll() is None
    assert stack.commands_since(injected + 1.0) or wait_until(
        lambda: stack.commands_since(injected + 1.0), 5)


def test_odometry_teleport_is_an_emergency_and_plans_far_from_the_route_are_rejected(stack):
    """Issue 15 bug 4: +100 m sideways for a while, then back, stayed NOMINAL."""
    stack.recover()
    teleported = time.time()
    stack.odometry_y = 100.0
    emergency = stack.wait_mode(SafetyStatus.EMERGENCY_STOP, teleported, timeout=2)
    assert emergency is not None, stack.node.output()[-2000:]
    assert 'localization_jump' in emergency.last_transition_reason
    # Consistent again after the settle time, but 100 m from the route: plans are rejected.
    assert wait_until(lambda: any(
        'route_deviation' in {f.name for f in s.active_faults}
        for s in list(stack.status) if seconds(s.header.stamp) > teleported + 1.5), 5)
    away = [s for s in list(stack.status) if seconds(s.header.stamp) >= teleported]
    assert SafetyStatus.NOMINAL not in {s.mode for s in away}
    assert not any(c.source == DriveCommand.SOURCE_VLA for c in stack.commands_since(
        seconds(emergency.header.stamp)))
    back = time.time()
    stack.odometry_y = 0.0
    assert stack.wait_mode(SafetyStatus.EMERGENCY_STOP, back, timeout=2) is not None
    stack.recover()


def test_estop_held_across_a_clock_jump_back_until_reset():
    """Issue 15 bug 1: e-stop, /clock 30 s back, plans flowing: EMERGENCY_STOP until reset."""
    # Its own namespace: the module's stack (system clock) is still running.
    stack = Stack({**PARAMS, 'use_sim_time': True}, sim_start=1000.0, namespace='latches')
    try:
        stack.start()
        stack.recover()
        stack.estop_pub.publish(Bool(data=True))
        assert stack.wait_mode(SafetyStatus.EMERGENCY_STOP, stack.time(), timeout=2)
        jumped_from = stack.time()
        status_seen, commands_seen = len(stack.status), len(stack.commands)
        stack.clock.set(jumped_from - 30.0)
        assert stack.node.wait_for_output('clock jumped back', timeout=10), stack.node.output()

        def new_timeline(messages, seen):   # arrived after the jump, stamped before it
            return [m for m in list(messages)[seen:]
                    if seconds(m.header.stamp) < jumped_from - 1.0]
        # Valid plans keep coming at 5 Hz: far more than the 3 that would recover.
        assert wait_until(lambda: len(new_timeline(stack.status, status_seen)) >= 40, 20)
        statuses = new_timeline(stack.status, status_seen)
        assert {s.mode for s in statuses} == {SafetyStatus.EMERGENCY_STOP}
        commands = new_timeline(stack.commands, commands_seen)
        assert commands and all(c.source == DriveCommand.SOURCE_MRM for c in commands)
        assert 'external_estop' in {f.name for f in statuses[-1].active_faults}
        refused = stack.reset_estop()
        assert not refused.success and 'still asserted' in refused.message
        stack.estop_pub.publish(Bool(data=False))
        released = stack.time()
        time.sleep(1.0)  # released, not reset: still latched
        assert stack.status[-1].mode == SafetyStatus.EMERGENCY_STOP
        reset = stack.reset_estop()
        assert reset.success and 'e-stop reset' in reset.message, reset.message
        assert stack.wait_mode(SafetyStatus.NOMINAL, released, timeout=5), \
            stack.node.output()[-3000:]
    finally:
        code = stack.close()
    assert code == 0, stack.node.output()


def test_sigint_in_nominal_ends_the_stream_with_an_emergency_stop_command():
    """Issue 15 bug 3 (node side): the last command before the node exits is a stop."""
    stack = Stack(namespace='final_stop')
    try:
        stack.start()
        stack.recover()
        assert wait_until(lambda: stack.commands[-1].source == DriveCommand.SOURCE_VLA, 5)
        stopping = time.time()
        assert stack.node.stop() == 0, stack.node.output()
        assert 'final emergency stop command sent' in stack.node.output()
        last = stack.commands[-1]
        assert seconds(last.header.stamp) >= stopping
        assert last.source == DriveCommand.SOURCE_MRM and last.hazard_lights
        assert last.speed == 0.0 and math.isclose(last.acceleration, -2.5, abs_tol=1e-6)
    finally:
        stack.close()


def test_clock_jump_back_restarts_in_comfortable_stop_and_recovers_within_a_few_plans():
    """Issue 15 bug 5 (safety side): the README's restart, not an EMERGENCY_STOP."""
    stack = Stack({**PARAMS, 'use_sim_time': True}, sim_start=1000.0, namespace='jump')
    try:
        stack.start()
        stack.recover()
        jumped_from, seen = stack.time(), len(stack.status)
        stack.clock.set(jumped_from - 30.0)
        assert stack.node.wait_for_output('clock jumped back', timeout=10), stack.node.output()
        def new_timeline():   # arrived after the jump, stamped before it (not in flight)
            return [s for s in list(stack.status)[seen:]
                    if seconds(s.header.stamp) < jumped_from - 1.0]
        assert wait_until(lambda: any(s.mode == SafetyStatus.NOMINAL for s in new_timeline()),
                          10), stack.node.output()[-3000:]
        statuses = new_timeline()
        nominal = next(s for s in statuses if s.mode == SafetyStatus.NOMINAL)
        before = statuses[:statuses.index(nominal)]
        assert {s.mode for s in before} == {SafetyStatus.COMFORTABLE_STOP}, \
            [(s.mode_name, s.last_transition_reason) for s in before]
        # Back within a few planning cycles (plans at 5 Hz, 3 needed) of simulated time.
        assert seconds(nominal.header.stamp) - seconds(before[0].header.stamp) <= \
            RECOVERY_PLANS * PLAN_PERIOD + SLACK
    finally:
        code = stack.close()
    assert code == 0, stack.node.output()
