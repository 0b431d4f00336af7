"""The autovla_bringup command with the real installed nodes, over real DDS."""

import os
import re
import signal
import time

from autovla_bringup.respawn import GAVE_UP_EXIT_CODE
from autovla_common.testing import NodeProcess, PYTHON, RosProbe, wait_until
import psutil
from rclpy.qos import QoSProfile, ReliabilityPolicy

from autovla_bringup import stack
from autovla_msgs.msg import DriveCommand

NODE_NAMES = [node.name for node in stack.NODES]


def bringup(*args):
    return NodeProcess([PYTHON, '-m', 'autovla_bringup', *args])


def child_pids(process):
    return {name: int(pid) for name, pid in
            re.findall(r'started (\w+) \(pid (\d+)\)', process.output())}


def all_configured(process, count=3):
    return process.output().count('configuration: ') >= count


def gone(pid):
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_each_node_in_its_own_process_then_sigint_stops_all_with_exit_0():
    with RosProbe() as probe, bringup('--device', 'cpu') as process:
        assert wait_until(lambda: all_configured(process), 60), process.output()
        pids = child_pids(process)
        assert sorted(pids) == sorted(NODE_NAMES)
        assert len(set(pids.values()) | {process.process.pid}) == 4
        assert all(psutil.pid_exists(pid) for pid in pids.values())
        assert "'device': 'cpu'" in process.output()
        # Discovered over DDS, in the stack namespace.
        assert wait_until(lambda: {(name, '/autovla') for name in NODE_NAMES} <= set(
            probe.node.get_node_names_and_namespaces()), 20)
        assert process.stop() == 0, process.output()
        assert all(gone(pid) for pid in pids.values()), process.output()
        assert 'received SIGINT' in process.output()


def test_sigterm_stops_the_children_and_ends_cleanly():
    with bringup('--nodes', 'planner,safety') as process:
        assert wait_until(lambda: all_configured(process, 2), 60), process.output()
        pids = child_pids(process)
        assert sorted(pids) == ['planner_node', 'safety_node']
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(20) == 0, process.output()
        assert all(gone(pid) for pid in pids.values())


def test_a_child_failing_stops_the_others_and_sets_the_exit_code():
    with bringup('--params-override', 'safety.control_rate_hz=1.0') as process:
        assert process.process.wait(60) == 1, process.output()
        assert 'safety_node exited with code 1, stopping the stack' in process.output()
        assert 'cannot start' in process.output()
        assert all(gone(pid) for pid in child_pids(process).values()), process.output()


def test_override_of_an_undeclared_parameter_starts_nothing():
    with bringup('--params-override', 'planner.no_such_param=1') as process:
        assert process.process.wait(30) == 2, process.output()
        assert "planner_node does not declare parameter 'no_such_param'" in process.output()
        assert child_pids(process) == {}


def test_single_process_runs_all_nodes_in_one_executor_with_their_overrides():
    with RosProbe() as probe, bringup('--single-process', '--namespace', 'car',
                                      '--params-override', 'safety.control_rate_hz=20',
                                      '--device', 'cpu') as process:
        assert wait_until(lambda: all_configured(process), 60), process.output()
        assert child_pids(process) == {}
        assert psutil.Process(process.process.pid).children() == []
        # Overrides reach the right node through the params file keyed by full node name.
        assert "'control_rate_hz': 20.0" in process.output()
        assert "'device': 'cpu'" in process.output()
        assert wait_until(lambda: {(name, '/car') for name in NODE_NAMES} <= set(
            probe.node.get_node_names_and_namespaces()), 20)
        commands = probe.collect(DriveCommand, '/car/drive_command', QoSProfile(
            depth=50, reliability=ReliabilityPolicy.RELIABLE))
        assert wait_until(lambda: len(commands) > 3, 20), process.output()
        # SIGINT: the safety node's last words (a stop) before any node is destroyed. With
        # rclpy's own signal handler the context was gone first, and the process aborted
        # at exit once in three loaded runs.
        assert process.stop() == 0, process.output()
        assert 'final emergency stop command sent' in process.output()
        assert wait_until(lambda: commands[-1].source == DriveCommand.SOURCE_MRM, 5)


def test_single_process_reports_a_node_that_cannot_start():
    with bringup('--single-process', '--params-override', 'planner.device=tpu') as process:
        assert process.process.wait(60) == 1, process.output()
        assert "cannot start: parameter device: 'tpu' is not one of" in process.output()


def stamp_seconds(stamp):
    return stamp.sec + stamp.nanosec * 1e-9


def test_planner_killed_is_respawned_while_safety_commands_and_stops_last():
    """Issue 15 bug 3: kill -9 of the planner stopped the whole stack, safety included."""
    with RosProbe() as probe, bringup('--nodes', 'planner,safety', '--device', 'cpu') as process:
        commands = probe.collect(DriveCommand, '/autovla/drive_command',
                                 QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE))
        assert wait_until(lambda: all_configured(process, 2), 60), process.output()
        pids = child_pids(process)
        assert wait_until(lambda: len(commands) > 0, 20), process.output()
        killed = time.time()
        os.kill(pids['planner_node'], signal.SIGKILL)
        assert wait_until(lambda: 'planner_node exited with code 137' in process.output(), 10), \
            process.output()
        assert wait_until(lambda: process.output().count('started planner_node') == 2
                          and all_configured(process, 3), 90), process.output()
        assert child_pids(process)['planner_node'] != pids['planner_node']
        assert not gone(pids['safety_node']), process.output()
        assert wait_until(lambda: any(stamp_seconds(c.header.stamp) > killed + 1.0
                                      for c in list(commands)), 10)
        assert process.stop() == 0, process.output()
        output = process.output()
        assert output.index('stopped planner_node') < output.index('stopped safety_node')
        last = commands[-1]
        assert last.source == DriveCommand.SOURCE_MRM and last.hazard_lights
        assert last.speed == 0.0 and last.acceleration < 0.0


def test_safety_node_death_is_loud_and_ends_the_stack_non_zero():
    with bringup('--nodes', 'planner,safety') as process:
        assert wait_until(lambda: all_configured(process, 2), 60), process.output()
        pids = child_pids(process)
        os.kill(pids['safety_node'], signal.SIGKILL)
        assert process.process.wait(30) == 128 + signal.SIGKILL, process.output()
        assert 'SAFETY NODE DOWN: safety_node exited with code 137' in process.output()
        assert 'drive-by-wire side must time out' in process.output()
        assert gone(pids['planner_node'])


def test_a_crash_looping_planner_is_given_up_loudly_while_safety_keeps_stopping():
    """Issue 15 item 3: restarts had no limit. A planner that cannot load its model always
    crashes; after --max-restarts restarts it is given up, safety keeps commanding its stop
    ladder, and the bring-up's exit status says a node was given up."""
    with RosProbe() as probe, bringup('--nodes', 'planner,safety', '--device', 'cpu',
                                      '--params-override', 'planner.model_path=/nonexistent',
                                      '--max-restarts', '2', '--restart-window', '120') as process:
        commands = probe.collect(DriveCommand, '/autovla/drive_command',
                                 QoSProfile(depth=500, reliability=ReliabilityPolicy.RELIABLE))
        assert wait_until(lambda: 'GIVEN UP: planner_node' in process.output(), 120), \
            process.output()
        output = process.output()
        assert output.count('started planner_node') == 3, output
        assert 'restarts within 120 s: 2/2' in output
        gave_up = time.time()
        assert wait_until(lambda: any(stamp_seconds(c.header.stamp) > gave_up + 1.0
                                      for c in list(commands)), 20), process.output()
        assert process.process.poll() is None and 'SAFETY NODE DOWN' not in process.output()
        # No fourth start, whatever the backoff would have been.
        assert process.output().count('started planner_node') == 3
        assert {c.source for c in commands} <= {DriveCommand.SOURCE_FALLBACK,
                                                DriveCommand.SOURCE_MRM}, \
            {c.source for c in commands}
        assert process.stop() == GAVE_UP_EXIT_CODE, process.output()
        assert 'given up after crash-looping: planner_node' in process.output()
        last = commands[-1]
        assert last.source == DriveCommand.SOURCE_MRM and last.speed == 0.0
