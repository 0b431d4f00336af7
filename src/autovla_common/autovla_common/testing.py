"""Test helpers: run installed node executables as real processes and talk to them over DDS.

Used by the packages' node tests; nothing here fakes ROS. ``NodeProcess`` starts an
executable from the install space, ``RosProbe`` is an rclpy node spinning in a thread of
the test process that publishes and collects messages.
"""

import os
from pathlib import Path
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

from ament_index_python.packages import get_package_prefix
from builtin_interfaces.msg import Time
from rclpy.qos import QoSProfile
from rosgraph_msgs.msg import Clock

from autovla_common.spin import spinning_node


def executable(package: str, name: str) -> str:
    """Path of a console script that ``package`` installs into lib/<package>."""
    path = Path(get_package_prefix(package)) / 'lib' / package / name
    if not path.exists():
        raise FileNotFoundError(f'{path} not found: run `make build` first')
    return str(path)


def stop_process(process: subprocess.Popen, timeout: float, dump_stacks: bool = False) -> int:
    """SIGINT ``process`` as ``ros2 launch`` does, SIGKILL after ``timeout``; its exit code.

    ``dump_stacks``: a process that ignored SIGINT gets SIGABRT first, so that Python's
    faulthandler (PYTHONFAULTHANDLER) writes every thread's stack to its output: a hang in a
    test says where it hung.
    """
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            if dump_stacks:
                process.send_signal(signal.SIGABRT)
                try:
                    process.wait(5.0)
                except subprocess.TimeoutExpired:
                    pass
            process.kill()
            process.wait()
    return process.returncode


def wait_until(predicate: Callable[[], bool], timeout: float, period: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return predicate()


class NodeProcess:
    """An installed node (or any command) running in its own process, output to a log file."""

    def __init__(self, command: Sequence[str], env: Optional[Dict[str, str]] = None):
        self._log = tempfile.NamedTemporaryFile(prefix='autovla_node_', suffix='.log',
                                                delete=False)
        self.command = list(command)
        self.process = subprocess.Popen(
            self.command, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, 'PYTHONUNBUFFERED': '1', 'PYTHONFAULTHANDLER': '1',
                 **(env or {})})

    @classmethod
    def ros_node(cls, package: str, name: str, params: Optional[Dict[str, object]] = None,
                 ros_args: Sequence[str] = (), **kwargs) -> 'NodeProcess':
        """Start ``ros2 run <package> <name>`` with ``-p`` parameter overrides."""
        command = [executable(package, name), '--ros-args']
        for key, value in (params or {}).items():
            command += ['-p', f'{key}:={_param_literal(value)}']
        return cls(command + list(ros_args), **kwargs)

    def output(self) -> str:
        """Everything the process printed so far."""
        return Path(self._log.name).read_text(errors='replace')

    def wait_for_output(self, text: str, timeout: float = 20.0) -> bool:
        """Wait until ``text`` appears in the output (or the process exits)."""
        return wait_until(lambda: text in self.output() or self.process.poll() is not None,
                          timeout) and text in self.output()

    def stop(self, timeout: float = 15.0) -> int:
        """SIGINT, wait, and return the exit code (negative if it had to be killed).

        After ``timeout`` the process's thread stacks go to its output, then SIGKILL.
        """
        return stop_process(self.process, timeout, dump_stacks=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        os.unlink(self._log.name)


def _param_literal(value: object) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(_param_literal(v) for v in value) + ']'
    if isinstance(value, str):
        return value if value else "''"
    return repr(value)


class RosProbe:
    """A test's own rclpy node (``autovla_common.spin.spinning_node``) with helpers."""

    def __init__(self, name: str = 'autovla_test_probe', namespace: str = '',
                 domain_id: Optional[int] = None):
        self._spinning = spinning_node(name, namespace, domain_id)
        self.node = self._spinning.__enter__()
        self._lock = threading.Lock()

    def collect(self, msg_type, topic: str, qos: QoSProfile) -> List:
        """Subscribe to ``topic``; the returned list fills as messages arrive."""
        received: List = []

        def on_message(msg):
            with self._lock:
                received.append(msg)

        self.node.create_subscription(msg_type, topic, on_message, qos)
        return received

    def publisher(self, msg_type, topic: str, qos: QoSProfile):
        """Create a publisher on the probe node."""
        return self.node.create_publisher(msg_type, topic, qos)

    def wait_for_subscribers(self, publisher, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait until DDS discovery matched ``count`` subscribers to ``publisher``."""
        return wait_until(lambda: publisher.get_subscription_count() >= count, timeout)

    def now(self):
        """Return the probe clock's current time as a builtin_interfaces/Time."""
        return self.node.get_clock().now().to_msg()

    def close(self):
        """Stop spinning and shut the probe's context down."""
        self._spinning.__exit__(None, None, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SimClock:
    """Publishes /clock from a probe timer (real-time factor 1); ``set`` moves it, also back.

    The probe's own timers run on the wall clock, so a test can stamp its inputs with
    ``now()`` on the simulated timeline while the nodes under test follow /clock.
    """

    PERIOD = 0.005

    def __init__(self, probe: RosProbe, start: float, qos: QoSProfile):
        self._now = start
        self._lock = threading.Lock()
        self.publisher = probe.publisher(Clock, '/clock', qos)
        probe.node.create_timer(self.PERIOD, self._tick)

    @property
    def seconds(self) -> float:
        """Current simulated time (s)."""
        with self._lock:
            return self._now

    def now(self) -> Time:
        """Return the simulated time as a builtin_interfaces/Time."""
        sec, nanosec = divmod(int(round(self.seconds * 1e9)), 1_000_000_000)
        return Time(sec=sec, nanosec=nanosec)

    def set(self, value: float) -> None:
        """Move the simulated time to ``value`` seconds (backwards as a replay restart does)."""
        with self._lock:
            self._now = value

    def _tick(self):
        with self._lock:
            self._now += self.PERIOD
        self.publisher.publish(Clock(clock=self.now()))


PYTHON = sys.executable
