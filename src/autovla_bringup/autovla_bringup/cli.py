"""``autovla_bringup``: start the stack from the params YAML files, without launch_ros.

Default: every node in its own process, exactly the command line ``ros2 launch`` would run
(both come from ``autovla_bringup.stack.describe``). The command prints each child's pid;
on SIGINT or SIGTERM, or when any child exits, it stops the others with SIGINT, as
``ros2 launch`` does (rclpy nodes leave cleanly on SIGINT), and SIGKILL after a timeout.
Exit code: the first non-zero child exit code (a child killed by signal N counts as 128+N),
0 when every child ended cleanly. ``--single-process`` spins all nodes in one
MultiThreadedExecutor instead.
"""

import argparse
import ctypes
import importlib
import os
from pathlib import Path
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Sequence

import yaml

from autovla_bringup import stack
from autovla_bringup.specs import typed_overrides, undeclared_overrides, user_params_problems

PREFIX = '[autovla_bringup]'
_PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def say(message: str) -> None:
    """Print one bring-up status line (flushed: children share the terminal)."""
    print(f'{PREFIX} {message}', flush=True)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options; names and defaults mirror the launch arguments."""
    parser = argparse.ArgumentParser(
        prog='autovla_bringup', description=__doc__.split('\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    defaults = {argument.name: argument for argument in stack.ARGUMENTS}
    for name in ('model_path', 'device', 'rig_file', 'namespace', 'params_file', 'log_level'):
        parser.add_argument('--' + name.replace('_', '-'), default=defaults[name].default,
                            help=defaults[name].description)
    parser.add_argument('--use-sim-time', action='store_true',
                        help=defaults[stack.USE_SIM_TIME].description)
    parser.add_argument('--nodes', default=','.join(node.key for node in stack.NODES),
                        help='comma-separated nodes to start')
    parser.add_argument('--params-override', action='append', default=[],
                        metavar='NODE.PARAM=VALUE',
                        help='extra parameter override (YAML-typed value); repeatable')
    parser.add_argument('--single-process', action='store_true',
                        help='all nodes in this process, one MultiThreadedExecutor')
    parser.add_argument('--stop-timeout', type=float, default=10.0,
                        help='seconds the children get to exit after a signal before SIGKILL')
    return parser


def options_from(args: argparse.Namespace) -> stack.StackOptions:
    """Turn parsed options into the stack options (ValueError on bad input)."""
    return stack.StackOptions(
        model_path=args.model_path, device=args.device, rig_file=args.rig_file,
        use_sim_time=args.use_sim_time, namespace=args.namespace,
        params_file=args.params_file, log_level=args.log_level,
        nodes=stack.select_nodes(args.nodes),
        overrides=tuple(stack.parse_override(text) for text in args.params_override))


def _die_with_parent() -> None:
    # If the bring-up itself is killed (SIGKILL), its children get SIGTERM and stop cleanly.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def exit_code(returncode: int) -> int:
    """Shell-style exit code of a child (killed by signal N -> 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


class Supervisor:
    """Runs the stack's nodes as child processes and stops them together."""

    def __init__(self, launches: Sequence[stack.NodeLaunch], stop_timeout: float):
        self.launches = list(launches)
        self.stop_timeout = stop_timeout
        self.children: List[subprocess.Popen] = []
        self.exit_order: List[int] = []   # indexes into children, in the order they ended
        self.received: Optional[int] = None

    def _on_signal(self, signum, _frame):
        self.received = signum

    def run(self) -> int:
        """Start every node, wait for a signal or a child exit, stop the rest; return a code."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        try:
            for launch in self.launches:
                if self.received is not None:
                    break
                child = subprocess.Popen(launch.command(), start_new_session=True,
                                         preexec_fn=_die_with_parent)
                self.children.append(child)
                say(f'started {launch.node.name} (pid {child.pid}): '
                    f'{shlex.join(launch.command())}')
            while self.received is None and not self._reap():
                time.sleep(0.05)
            if self.received is not None:
                say(f'received {signal.Signals(self.received).name}, stopping the stack')
            else:
                ended = self.launches[self.exit_order[0]].node.name
                code = self.children[self.exit_order[0]].returncode
                say(f'{ended} exited with code {exit_code(code)}, stopping the stack')
            self._stop()
        finally:
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
        codes = [exit_code(self.children[index].returncode) for index in self.exit_order]
        return next((code for code in codes if code != 0), 0)

    def _reap(self) -> bool:
        """Record children that have ended; True if any has."""
        for index, child in enumerate(self.children):
            if index not in self.exit_order and child.poll() is not None:
                self.exit_order.append(index)
        return bool(self.exit_order)

    def _stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + self.stop_timeout
        while time.monotonic() < deadline:
            self._reap()
            if len(self.exit_order) == len(self.children):
                break
            time.sleep(0.05)
        for index, child in enumerate(self.children):
            if child.poll() is None:
                say(f'{self.launches[index].node.name} (pid {child.pid}) did not stop within '
                    f'{self.stop_timeout:.0f} s, killing it')
                child.kill()
                child.wait()
        self._reap()


def run_single_process(launches: Sequence[stack.NodeLaunch]) -> int:
    """Spin every node in this process with one MultiThreadedExecutor; return an exit code."""
    from autovla_common.runner import StartupError
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    with tempfile.NamedTemporaryFile('w', prefix='autovla_overrides_', suffix='.yaml',
                                     delete=False) as overrides_file:
        yaml.safe_dump(stack.describe_overrides(launches), overrides_file)
    ros_args = single_process_ros_args(launches, Path(overrides_file.name))
    say(f'single process (pid {os.getpid()}): {shlex.join(ros_args)}')
    rclpy.init(args=['autovla_bringup'] + ros_args)
    nodes, code = [], 0
    try:
        executor = MultiThreadedExecutor()
        for launch in launches:
            module_name, class_name = launch.node.node_class.split(':')
            nodes.append(getattr(importlib.import_module(module_name), class_name)())
            executor.add_node(nodes[-1])
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (StartupError, ParameterException, ValueError) as error:
        say(f'cannot start: {error}')
        code = 1
    except RuntimeError:   # after StartupError, which is one
        if rclpy.ok():   # else a signal's shutdown raced the executor (see autovla_common.runner)
            raise
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
        os.unlink(overrides_file.name)
    return code


def single_process_ros_args(launches: Sequence[stack.NodeLaunch],
                            overrides_file: Path) -> List[str]:
    """ROS arguments for one process: each params file is keyed by its node's name."""
    # describe() gives every node the same namespace and log level.
    args = ['--ros-args', '-r', f'__ns:={launches[0].namespace}',
            '--log-level', launches[0].log_level]
    for launch in launches:
        args += ['--params-file', str(launch.params_file)]
        # Node-scoped remaps: the other nodes of this process keep their names.
        for source, target in launch.remaps:
            args += ['-r', f'{launch.node.name}:{source}:={target}']
    # The user's file (the same for every node) overlays all the shipped defaults.
    if launches[0].user_params_file:
        args += ['--params-file', str(launches[0].user_params_file)]
    return args + ['--params-file', str(overrides_file)]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``autovla_bringup`` and ``python -m autovla_bringup``."""
    args = build_parser().parse_args(argv)
    try:
        launches = typed_overrides(stack.describe(options_from(args)))
        problems = undeclared_overrides(launches) + user_params_problems(launches)
        missing = [str(launch.executable_path) for launch in launches
                   if not launch.executable_path.exists()]
        if missing and not args.single_process:
            problems.append('executables not found (run `make build`): ' + ', '.join(missing))
    except (ValueError, LookupError, OSError) as error:
        problems = [str(error)]
    if problems:
        for problem in problems:
            say(f'cannot start: {problem}')
        return 2
    if args.single_process:
        return run_single_process(launches)
    return Supervisor(launches, args.stop_timeout).run()


if __name__ == '__main__':
    sys.exit(main())
