"""Issue 15 bug 5: after /clock jumps back the stack returns to NOMINAL within a few cycles.

Real perception_node and safety_node processes on simulated time; this process publishes
/clock, six cameras at 12 Hz, odometry at 50 Hz and the route, and plays the planner: every
observation is answered at once with a valid straight plan stamped with its input stamp.
"""

import threading

from autovla_common.qos import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from autovla_common.rig import load_rig
from autovla_common.ros_params import installed_params_file
from autovla_common.testing import NodeProcess, RosProbe, SimClock, wait_until
import cv2
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path
import numpy as np
from sensor_msgs.msg import CompressedImage

from autovla_msgs.msg import DrivingObservation, PlannedTrajectory, SafetyStatus, TrajectoryPoint

RIG = load_rig(installed_params_file('autovla_perception', 'rigs/nuscenes.yaml'))
JPEG = cv2.imencode('.jpg', np.full((900, 1600, 3), 120, np.uint8))[1].tobytes()
START = 1000.0
JUMP = 30.0
PLANNING_HZ = 4.0
PERCEPTION = {'use_sim_time': True, 'history_length': 2, 'history_rate_hz': 4.0,
              'planning_rate_hz': PLANNING_HZ}
SAFETY = {'use_sim_time': True, 'supervisor.recovery_valid_plans': 3}


def seconds(stamp):
    return stamp.sec + stamp.nanosec * 1e-9


class World:
    """Sensors, route and a planner that answers every observation."""

    def __init__(self, probe):
        self.probe = probe
        self.clock = SimClock(probe, START, RELIABLE_QOS)
        self.cameras = {c.name: probe.publisher(CompressedImage, c.topic, SENSOR_QOS)
                        for c in RIG.cameras}
        self.odometry = probe.publisher(Odometry, 'odometry', SENSOR_QOS)
        self.route = probe.publisher(Path, 'route', LATCHED_QOS)
        self.plans = probe.publisher(PlannedTrajectory, 'planned_trajectory', RELIABLE_QOS)
        self.observations = []
        self._lock = threading.Lock()
        probe.node.create_subscription(DrivingObservation, 'observation', self._plan,
                                       RELIABLE_QOS)
        probe.node.create_timer(1 / 12, self._publish_cameras)
        probe.node.create_timer(0.02, self._publish_odometry)

    def publish_route(self):
        msg = Path()
        msg.header.stamp = self.clock.now()
        msg.header.frame_id = 'odom'
        for i in range(300):
            pose = PoseStamped()
            pose.pose.position.x = float(i) - 50.0
            msg.poses.append(pose)
        self.route.publish(msg)

    def _publish_cameras(self):
        stamp = self.clock.now()
        for name, publisher in self.cameras.items():
            msg = CompressedImage(format='jpeg', data=JPEG)
            msg.header.stamp, msg.header.frame_id = stamp, name.lower()
            publisher.publish(msg)

    def _publish_odometry(self):
        msg = Odometry()
        msg.header.stamp, msg.header.frame_id = self.clock.now(), 'odom'
        msg.pose.pose.orientation.w = 1.0   # standing at the origin, facing +x
        self.odometry.publish(msg)

    def _plan(self, observation):
        with self._lock:
            self.observations.append(observation)
        msg = PlannedTrajectory(confidence=0.9)
        msg.header.stamp, msg.header.frame_id = observation.header.stamp, 'base_link'
        for i in range(1, 11):
            point = TrajectoryPoint(x=0.5 * i, velocity=1.0)
            point.time_from_start.sec, point.time_from_start.nanosec = divmod(
                500_000_000 * i, 1_000_000_000)
            msg.points.append(point)
        self.plans.publish(msg)


def test_stack_back_to_nominal_within_a_few_planning_cycles_after_a_clock_jump_back():
    with RosProbe('jump_world') as probe, \
            NodeProcess.ros_node('autovla_perception', 'perception_node',
                                 params=PERCEPTION) as perception, \
            NodeProcess.ros_node('autovla_safety', 'safety_node', params=SAFETY) as safety:
        status = probe.collect(SafetyStatus, 'safety_status', RELIABLE_QOS)
        world = World(probe)
        assert probe.wait_for_subscribers(world.route, timeout=30), safety.output()
        world.publish_route()
        assert wait_until(lambda: any(s.mode == SafetyStatus.NOMINAL for s in list(status)),
                          60), perception.output()[-2000:] + safety.output()[-2000:]
        jumped_from, seen = world.clock.seconds, len(status)
        world.clock.set(jumped_from - JUMP)
        restarted = jumped_from - JUMP

        def new_timeline():   # arrived after the jump, stamped before it (not in flight)
            return [s for s in list(status)[seen:] if seconds(s.header.stamp) < jumped_from - 1.0]
        assert wait_until(lambda: any(s.mode == SafetyStatus.NOMINAL for s in new_timeline()),
                          60), perception.output()[-3000:] + safety.output()[-3000:]
        statuses = new_timeline()
        nominal = next(s for s in statuses if s.mode == SafetyStatus.NOMINAL)
        before = statuses[:statuses.index(nominal)]
        assert SafetyStatus.EMERGENCY_STOP not in {s.mode for s in before}, \
            [(s.mode_name, s.last_transition_reason) for s in before]
        # History warm-up (one history period), then three planning cycles, plus slack for
        # a loaded machine: in simulated time, which runs at the wall-clock rate here.
        cycles = (seconds(nominal.header.stamp) - restarted) * PLANNING_HZ
        assert cycles <= 1 + 3 + 8, cycles
        assert 'stale_odometry' not in perception.output(), perception.output()[-3000:]
        assert perception.process.poll() is None and safety.process.poll() is None
