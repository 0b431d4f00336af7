"""``autovla_bringup``: start the stack from the params YAML files, without launch_ros.

Default: every node in its own process, exactly the command line ``ros2 launch`` would run
(both come from ``autovla_bringup.stack.describe``). The command prints each child's pid.
Perception or planner dying is restarted with backoff (``autovla_bringup.respawn``) while
the safety node keeps commanding; one that died more than ``--max-restarts`` times within
``--restart-window`` seconds is given up, loudly, and the safety node walks its stop ladder
alone. On SIGINT or SIGTERM it stops perception and planner with SIGINT, then the safety
node (which sends a final stop command), SIGKILL after a timeout. If the safety node dies,
it says so loudly, stops the rest and exits with the safety node's code (a child killed by
signal N counts as 128+N; 1 if it exited with 0); else 3 (GAVE_UP_EXIT_CODE) if a node was
given up, 0 otherwise.
``--single-process`` spins all nodes in one MultiThreadedExecutor instead.
"""

import argparse
import ctypes
from dataclasses import dataclass
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
from autovla_bringup.respawn import GAVE_UP_EXIT_CODE, RespawnPolicy, RestartRecord
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
    for name in ('model_path', 'device', 'rig_file', 'topic_map', 'namespace', 'params_file',
                 'log_level'):
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
    policy = RespawnPolicy()
    parser.add_argument('--max-restarts', type=int, default=policy.max_restarts,
                        help='perception/planner: restarts allowed within --restart-window; '
                             'one more crash gives the node up (exit status '
                             f'{GAVE_UP_EXIT_CODE} at the end); 0 = never restart')
    parser.add_argument('--restart-window', type=float, default=policy.window_s,
                        help='seconds over which --max-restarts counts')
    return parser


def options_from(args: argparse.Namespace) -> stack.StackOptions:
    """Turn parsed options into the stack options (ValueError on bad input)."""
    return stack.StackOptions(
        model_path=args.model_path, device=args.device, rig_file=args.rig_file,
        topic_map=args.topic_map,
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


@dataclass
class Child:
    """One node's process and its respawn bookkeeping."""

    launch: stack.NodeLaunch
    restarts: RestartRecord
    process: Optional[subprocess.Popen] = None
    started: float = 0.0             # monotonic time of the last start
    restart_at: Optional[float] = None
    stopped: bool = False            # its end was recorded
    given_up: bool = False           # crash-looped past the respawn limit; not restarted

    @property
    def name(self) -> str:
        """Node name."""
        return self.launch.node.name

    def running(self) -> bool:
        """Return True while its process lives."""
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Runs the stack's nodes as child processes; safety outlives and outlasts the others.

    A respawned node (perception, planner) that dies is restarted with backoff while the
    safety node walks its ladder, until the respawn policy gives it up. A node without
    respawn (safety) that dies ends the stack loudly with a non-zero code: nothing commands
    the vehicle any more. On SIGINT/SIGTERM the other nodes stop first; safety stops last and
    sends its final stop command.
    """

    def __init__(self, launches: Sequence[stack.NodeLaunch], stop_timeout: float,
                 policy: RespawnPolicy = RespawnPolicy()):
        self.children = [Child(launch, RestartRecord(policy)) for launch in launches]
        self.stop_timeout = stop_timeout
        self.received: Optional[int] = None

    def _on_signal(self, signum, _frame):
        self.received = signum

    def run(self) -> int:
        """Start every node, watch them until a signal or a fatal exit, stop; return a code."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        code = 0
        try:
            for child in self.children:
                if self.received is None:
                    self._start(child)
            while self.received is None and code == 0:
                code = self._watch()
                time.sleep(0.05)
            if self.received is not None:
                say(f'received {signal.Signals(self.received).name}, stopping the stack '
                    '(safety last)')
            self._stop([c for c in self.children if c.launch.node.respawn])
            self._stop([c for c in self.children if not c.launch.node.respawn])
        finally:
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
        given_up = [child.name for child in self.children if child.given_up]
        if code == 0 and given_up:
            say(f'exit status {GAVE_UP_EXIT_CODE}: given up after crash-looping: '
                f'{", ".join(given_up)}')
            return GAVE_UP_EXIT_CODE
        return code

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(child.launch.command(), start_new_session=True,
                                         preexec_fn=_die_with_parent)
        child.started, child.restart_at = time.monotonic(), None
        say(f'started {child.name} (pid {child.process.pid}): '
            f'{shlex.join(child.launch.command())}')

    def _watch(self) -> int:
        """Restart due children, handle ended ones; return non-zero to end the stack."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._start(child)
                continue
            if child.given_up or child.process is None or child.process.poll() is None:
                continue
            code = exit_code(child.process.returncode)
            if not child.launch.node.respawn:
                child.stopped = True
                _shout(f'SAFETY NODE DOWN: {child.name} exited with code {code}, stopping the '
                       'stack. No drive command is sent any more: the drive-by-wire side must '
                       'time out on the silent command stream and stop the vehicle.')
                return code or 1
            ran = now - child.started
            delay = child.restarts.after_exit(now, ran)
            if delay is None:
                child.given_up = child.stopped = True
                policy = child.restarts.policy
                _shout(f'GIVEN UP: {child.name} exited with code {code} after {ran:.1f} s, '
                       f'after {policy.max_restarts} restart(s) within {policy.window_s:.0f} s '
                       f'(--max-restarts): it is not restarted again. The '
                       'safety node keeps commanding its stop ladder; fix the cause and '
                       f'restart the stack (exit status {GAVE_UP_EXIT_CODE} when stopped).')
                continue
            child.restart_at = now + delay
            say(f'{child.name} exited with code {code} after {ran:.1f} s; restarting it in '
                f'{delay:.0f} s (consecutive failures: {child.restarts.failures}, restarts '
                f'within {child.restarts.policy.window_s:.0f} s: '
                f'{child.restarts.restarts_in_window}/{child.restarts.policy.max_restarts}); '
                'safety stays up')
        return 0

    def _stop(self, children: Sequence[Child]) -> None:
        """SIGINT ``children``, wait up to the stop timeout, SIGKILL what is left."""
        for child in children:
            child.restart_at = None
            if child.running():
                child.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + self.stop_timeout
        while time.monotonic() < deadline and any(c.running() for c in children):
            time.sleep(0.05)
        for child in children:
            if child.running():
                say(f'{child.name} (pid {child.process.pid}) did not stop within '
                    f'{self.stop_timeout:.0f} s, killing it')
                child.process.kill()
            if child.process is not None:
                child.process.wait()
                if not child.stopped:
                    say(f'stopped {child.name} (code {exit_code(child.process.returncode)})')
                child.stopped = True


def _shout(message: str) -> None:
    """Print ``message`` between two rows of '!' (a node is down for good)."""
    banner = '!' * 72
    say(banner)
    say(message)
    say(banner)


def run_single_process(launches: Sequence[stack.NodeLaunch]) -> int:
    """Spin every node in this process with one MultiThreadedExecutor; return an exit code."""
    from autovla_common.runner import run_nodes

    with tempfile.NamedTemporaryFile('w', prefix='autovla_overrides_', suffix='.yaml',
                                     delete=False) as overrides_file:
        yaml.safe_dump(stack.describe_overrides(launches), overrides_file)
    ros_args = single_process_ros_args(launches, Path(overrides_file.name))
    say(f'single process (pid {os.getpid()}): {shlex.join(ros_args)}')
    makers = []
    for launch in launches:
        module_name, class_name = launch.node.node_class.split(':')
        makers.append(getattr(importlib.import_module(module_name), class_name))
    try:
        return run_nodes(makers, ['autovla_bringup'] + ros_args, threads=0, report=say)
    finally:
        os.unlink(overrides_file.name)


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
    try:
        policy = RespawnPolicy(args.max_restarts, args.restart_window)
    except ValueError as error:
        problems.append(str(error))
    if problems:
        for problem in problems:
            say(f'cannot start: {problem}')
        return 2
    if args.single_process:
        return run_single_process(launches)
    return Supervisor(launches, args.stop_timeout, policy).run()


if __name__ == '__main__':
    sys.exit(main())
