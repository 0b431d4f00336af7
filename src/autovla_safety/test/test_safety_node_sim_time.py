"""With use_sim_time the node runs on /clock: stamps, rate and deadlines follow it.

The probe publishes /clock (real-time factor 1, from t = 1000 s), then jumps it back as a
replay restart would; the node must keep publishing and restart its state.
"""

import time

from autovla_common.qos import RELIABLE_QOS
from autovla_common.testing import NodeProcess, RosProbe, SimClock, wait_until
from rclpy.qos import QoSProfile, ReliabilityPolicy

from autovla_msgs.msg import DriveCommand, SafetyStatus

START = 1000.0


def seconds(stamp):
    return stamp.sec + stamp.nanosec * 1e-9


def test_sim_time_drives_stamps_rate_and_restart_after_a_jump_back():
    params = {'use_sim_time': True}
    with RosProbe('sim_time_probe') as probe, \
            NodeProcess.ros_node('autovla_safety', 'safety_node', params=params) as node:
        clock = SimClock(probe, START, RELIABLE_QOS)
        commands = probe.collect(DriveCommand, 'drive_command',
                                 QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE))
        status = probe.collect(SafetyStatus, 'safety_status', RELIABLE_QOS)
        assert wait_until(lambda: len(status) > 0, 30), node.output()
        # No odometry on the simulated timeline either: emergency stop, in sim time.
        assert status[-1].mode == SafetyStatus.EMERGENCY_STOP
        assert START <= seconds(status[-1].header.stamp) < START + 60
        counts = []
        for _ in range(3):  # best of three 2 s windows, as in the fault-injection tests
            begin = clock.seconds
            assert wait_until(lambda: clock.seconds > begin + 2.2, 10)
            counts.append(sum(begin <= seconds(c.header.stamp) < begin + 2.0
                              for c in list(commands)))
            if counts[-1] >= 80:
                break
        assert counts[-1] >= 80, counts
        jumped_from = clock.seconds
        clock.set(START)
        assert node.wait_for_output('clock jumped back', timeout=10), node.output()
        assert wait_until(lambda: any(seconds(c.header.stamp) < jumped_from - 1.0
                                      for c in list(commands)[-20:]), 5)
        time.sleep(0.2)
        assert node.process.poll() is None
        assert node.stop() == 0, node.output()


def test_sigint_ends_the_node_with_its_final_stop_while_the_simulated_clock_stands_still():
    # No /clock at all: simulated time stands at 0, the control timer never fires.
    with NodeProcess.ros_node('autovla_safety', 'safety_node',
                              params={'use_sim_time': True}) as node:
        assert node.wait_for_output('configuration:', timeout=30), node.output()
        assert node.stop() == 0, node.output()
        assert 'final emergency stop command sent' in node.output()
