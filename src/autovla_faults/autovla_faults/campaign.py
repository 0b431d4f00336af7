"""``make faults``: the fault campaign over the live stack (real nodes, DDS, simulated time).

1. Picks the DDS domain: an exported ``ROS_DOMAIN_ID``, else a free one
   (``autovla_common.domain``).
2. Renders the six cameras once (the straight road of the scenario catalogue) and starts
   the stack with ``autovla_bringup --use-sim-time`` (perception, planner with the bundled
   model, safety; each its own process) in namespace /faults.
3. Plays the world: /clock at 100 Hz (its own node and thread, so no injection can stall
   it), odometry at 50 Hz of a car driving straight on at 8 m/s (open loop: the pose does
   not follow the commands), the six cameras at 2 Hz, a straight route.
4. Waits for NOMINAL, then runs every case of ``autovla_faults.cases``: inject, wait,
   restore, watch until NOMINAL again; judges each episode and prints and writes the table
   (out/faults/faults.md, faults.json). Exit code 1 on any mismatch.
"""

import argparse
import json
import math
import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

from autovla_common.domain import isolate_ros_domain
from autovla_common.qos import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from autovla_common.rig import load_rig, save_rig
from autovla_common.spin import spinning_node
from autovla_common.testing import executable, stop_process, wait_until
from autovla_scenarios.catalogue import make_scenario
from autovla_scenarios.generator import default_rig_path
from autovla_scenarios.render import Renderer, scene_ground
import cv2
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
import numpy as np
from rclpy.serialization import serialize_message
from rclpy.time import Time
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from autovla_faults.cases import (
    case_by_name,
    CASES,
    Episode,
    FaultCase,
    judge,
    MODES,
    summary,
    table,
)
from autovla_msgs.msg import DriveCommand, PlannedTrajectory, SafetyStatus, TrajectoryPoint

NAMESPACE = 'faults'
WIDTH, HEIGHT = 320, 180
SPEED = 8.0                  # m/s of the open-loop ego
LANE_Y = -1.75
CAMERA_PERIOD = 0.5
ODOMETRY_PERIOD = 0.02
ROGUE_PERIOD = 0.25
FLOOD_PERIOD = 0.01
CLOCK_JUMP_S = 30.0
SIM_START = 1_000_000.0      # s; far from 0, so a 30 s jump back stays positive
STARTUP_TIMEOUT = 300.0      # model load + warm-up on a busy 2-core machine
READY_TIMEOUT = 40.0
OVERSIZED_POINTS = 20_000
STARTED = re.compile(r'started (\w+) \(pid (\d+)\)')
STATUS_QOS = RELIABLE_QOS


def say(message: str) -> None:
    """Print one progress line."""
    print(f'[faults] {message}', flush=True)


def render_frames(rig, width: int, height: int) -> Dict[str, bytes]:
    """One JPEG per camera: the straight road seen from the ego lane."""
    scenario = make_scenario('straight_cruise', 0)
    renderer = Renderer(rig, width, height)
    images = renderer.render((0.0, LANE_Y, 0.0), scene_ground(scenario), [])
    frames = {}
    for camera in rig.cameras:
        ok, jpeg = cv2.imencode('.jpg', images[camera.name], [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise RuntimeError(f'JPEG encoding failed for {camera.name}')
        frames[camera.name] = jpeg.tobytes()
    return frames


class ScaledClock:
    """/clock from the wall clock at ``rate`` x real time, 100 Hz, on a node of its own.

    Simulated time is a function of the wall clock (not a count of timer ticks), so a
    starved process cannot slow it down; ``jump`` moves it back as a replay restart does.
    """

    PERIOD = 0.01   # twice the control rate: every 50 Hz tick sees the clock move

    def __init__(self, start: float, rate: float):
        self.rate = rate
        self._origin = (time.monotonic(), start)
        self._lock = threading.Lock()
        self._spinning = spinning_node('fault_clock', NAMESPACE)
        node = self._spinning.__enter__()
        self._publisher = node.create_publisher(Clock, '/clock', RELIABLE_QOS)
        node.create_timer(self.PERIOD, self._tick)

    @property
    def seconds(self) -> float:
        """Current simulated time (s)."""
        with self._lock:
            wall, sim = self._origin
        return sim + self.rate * (time.monotonic() - wall)

    def jump(self, seconds: float) -> None:
        """Move simulated time by ``seconds`` (negative: back)."""
        now = self.seconds
        with self._lock:
            self._origin = (time.monotonic(), now + seconds)

    def _tick(self) -> None:
        stamp = Time(nanoseconds=int(round(self.seconds * 1e9))).to_msg()
        self._publisher.publish(Clock(clock=stamp))

    def close(self) -> None:
        """Stop publishing."""
        self._spinning.__exit__(None, None, None)


class World:
    """The stack's inputs, with knobs that inject faults; and what the stack answers."""

    def __init__(self, rig, frames: Dict[str, bytes], small_frame: bytes, rate: float):
        self.rig = rig
        self.frames = frames
        self.small_frame = small_frame
        self.anchor = rig.cameras[0].name
        self.lock = threading.Lock()
        self.camera_faults: Dict[str, str] = {}   # camera -> fault
        self.frozen: Dict[str, CompressedImage] = {}
        self.flood = False
        self.odometry_fault = ''
        self.rogue = ''
        self.statuses: List[tuple] = []          # (wall, mode name)
        self.commands: List[float] = []          # wall
        self.started_wall = time.monotonic()
        self._rng = np.random.default_rng(0)
        self.clock = ScaledClock(SIM_START, rate)
        self._spinning = spinning_node('fault_injector', NAMESPACE)
        node = self.node = self._spinning.__enter__()
        self.cameras = {camera.name: node.create_publisher(
            CompressedImage, camera.topic, SENSOR_QOS) for camera in rig.cameras}
        self.odometry_pub = node.create_publisher(Odometry, 'odometry', SENSOR_QOS)
        self.route_pub = node.create_publisher(PathMsg, 'route', LATCHED_QOS)
        self.plan_pub = node.create_publisher(PlannedTrajectory, 'planned_trajectory',
                                              RELIABLE_QOS)
        self.estop_pub = node.create_publisher(Bool, 'emergency_stop', RELIABLE_QOS)
        self.reset_client = node.create_client(Trigger, 'reset_emergency_stop')
        node.create_subscription(SafetyStatus, 'safety_status', self._on_status, STATUS_QOS)
        node.create_subscription(DriveCommand, 'drive_command', self._on_command,
                                 RELIABLE_QOS)
        self.oversized = serialize_message(self._plan(OVERSIZED_POINTS, 'base_link'))
        # Input rates are on the simulated timeline: wall periods stretch as the rate drops.
        node.create_timer(CAMERA_PERIOD / rate, self._publish_cameras)
        node.create_timer(ODOMETRY_PERIOD / rate, self._publish_odometry)
        node.create_timer(ROGUE_PERIOD / rate, self._publish_rogue)
        node.create_timer(FLOOD_PERIOD / rate, self._publish_flood)

    def close(self) -> None:
        """Stop both nodes."""
        self._spinning.__exit__(None, None, None)
        self.clock.close()

    # Observations -----------------------------------------------------------------------
    def _on_status(self, msg: SafetyStatus) -> None:
        with self.lock:
            self.statuses.append((time.monotonic(), MODES[msg.mode]))

    def _on_command(self, msg: DriveCommand) -> None:
        with self.lock:
            self.commands.append(time.monotonic())

    def mode(self) -> Optional[str]:
        """Return the latest mode heard (None before the first status)."""
        with self.lock:
            return self.statuses[-1][1] if self.statuses else None

    def nominal_since(self, after: float) -> Optional[float]:
        """Arrival time of the first NOMINAL status after ``after``."""
        with self.lock:
            return next((t for t, mode in self.statuses if t >= after and mode == 'NOMINAL'),
                        None)

    # Inputs -----------------------------------------------------------------------------
    def stamp(self, offset: float = 0.0):
        """Time message on the simulated timeline."""
        return Time(nanoseconds=int(round((self.clock.seconds + offset) * 1e9))).to_msg()

    def _camera_msg(self, camera: str, fault: str, stamp) -> Optional[CompressedImage]:
        if fault == 'stopped':
            return None
        if fault == 'frozen' and camera in self.frozen:
            return self.frozen[camera]
        msg = CompressedImage(format='jpeg')
        msg.header.stamp = stamp
        msg.header.frame_id = f'{camera}_optical'
        data = self.frames[camera]
        if fault == 'corrupt':
            data = self._rng.integers(0, 256, len(data), dtype=np.uint8).tobytes()
        elif fault == 'truncated':
            data = data[:len(data) // 2]
        elif fault == 'empty':
            data = b''
        elif fault == 'format':
            msg.format = 'tiff'
        elif fault == 'size':
            data = self.small_frame
        msg.data = data
        return msg

    def _publish_cameras(self) -> None:
        stamp = self.stamp()
        with self.lock:
            faults = dict(self.camera_faults)
        for camera, publisher in self.cameras.items():
            msg = self._camera_msg(camera, faults.get(camera, ''), stamp)
            if msg is None:
                continue
            if faults.get(camera) != 'frozen':
                self.frozen[camera] = msg
            publisher.publish(msg)

    def _publish_flood(self) -> None:
        if self.flood:
            self.cameras[self.anchor].publish(self._camera_msg(self.anchor, '', self.stamp()))

    def ego_x(self) -> float:
        """Where the open-loop ego is now."""
        return SPEED * self.clock.rate * (time.monotonic() - self.started_wall)

    def _publish_odometry(self) -> None:
        fault = self.odometry_fault
        if fault == 'stopped':
            return
        msg = Odometry()
        msg.header.stamp = self.stamp()
        msg.header.frame_id = 'odom'
        msg.child_frame_id = 'base_link'
        msg.pose.pose.position.x = self.ego_x()
        msg.pose.pose.position.y = LANE_Y + (100.0 if fault == 'teleport' else 0.0)
        msg.pose.pose.orientation.w = 1.0
        msg.twist.twist.linear.x = math.inf if fault == 'inf' else SPEED
        if fault == 'nan':
            msg.pose.pose.position.x = math.nan
        self.odometry_pub.publish(msg)

    def publish_route(self, kind: str = 'straight') -> None:
        """Publish the straight route along the ego lane, an empty one, or one far away."""
        msg = PathMsg()
        msg.header.stamp = self.stamp()
        msg.header.frame_id = 'odom'
        if kind != 'empty':
            offset = 500.0 if kind == 'far' else 0.0
            start = self.ego_x() - 50.0
            for i in range(0, 800):
                pose = PoseStamped()
                pose.header = msg.header
                pose.pose.position.x = start + 2.0 * i
                pose.pose.position.y = LANE_Y + offset
                pose.pose.orientation.w = 1.0
                msg.poses.append(pose)
        self.route_pub.publish(msg)

    def _plan(self, points: int, frame: str, speed: float = SPEED,
              nan: bool = False) -> PlannedTrajectory:
        msg = PlannedTrajectory()
        msg.header.stamp = self.stamp(-0.05)
        msg.header.frame_id = frame
        msg.confidence = 0.9
        for i in range(1, points + 1):
            t = 0.5 * i
            point = TrajectoryPoint(x=speed * t, velocity=speed)
            point.time_from_start.sec, point.time_from_start.nanosec = int(t), int(
                round((t % 1.0) * 1e9))
            msg.points.append(point)
        if nan:
            msg.points[min(4, points - 1)].y = math.nan
        return msg

    def _publish_rogue(self) -> None:
        kind = self.rogue
        if not kind:
            return
        if kind == 'oversized':
            self.plan_pub.publish(self.oversized)   # serialized once: no stall on our side
            return
        self.plan_pub.publish({
            'nan': lambda: self._plan(10, 'base_link', nan=True),
            'absurd_speed': lambda: self._plan(10, 'base_link', speed=100.0),
            'empty': lambda: self._plan(0, 'base_link'),
            'wrong_frame': lambda: self._plan(10, 'map'),
        }[kind]())

    def estop(self, asserted: bool) -> None:
        """Publish the e-stop input."""
        self.estop_pub.publish(Bool(data=asserted))

    def reset_estop(self) -> str:
        """Call reset_emergency_stop; return the answer."""
        if not self.reset_client.wait_for_service(timeout_sec=5.0):
            return 'reset_emergency_stop not available'
        future = self.reset_client.call_async(Trigger.Request())
        if not wait_until(future.done, 5.0):
            return 'reset_emergency_stop did not answer'
        return future.result().message

    def jump_clock(self) -> None:
        """Move /clock back as a restarting replay does."""
        self.clock.jump(-CLOCK_JUMP_S)


class Stack:
    """The bring-up process and the pids of the nodes it started (latest per node)."""

    def __init__(self, rig_file: Path, log_path: Path, extra: Sequence[str] = ()):
        self.log_path = log_path
        self._log = open(log_path, 'w', encoding='utf-8')  # noqa: SIM115 - lives with the stack
        command = [executable('autovla_bringup', 'autovla_bringup'), '--use-sim-time',
                   '--namespace', '/' + NAMESPACE, '--device', 'cpu', '--rig-file',
                   str(rig_file), *extra]
        say(f'starting the stack: {" ".join(command)} (log: {log_path})')
        # One math thread per node: on a shared 2-core machine, torch's OpenMP threads
        # spinning against each other cost the planner seconds per plan.
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={'OMP_NUM_THREADS': '1', **os.environ,
                                             'PYTHONUNBUFFERED': '1'})

    def pids(self) -> Dict[str, int]:
        """Node name -> pid of its newest process, as the bring-up announced them."""
        text = self.log_path.read_text(errors='replace')
        return {name: int(pid) for name, pid in STARTED.findall(text)}

    def dead(self, spare: str = '') -> List[str]:
        """Stack processes that are gone (the bring-up, or a node other than ``spare``)."""
        gone = [] if self.process.poll() is None else ['autovla_bringup']
        for name, pid in self.pids().items():
            if name != spare and not _alive(pid):
                gone.append(name)
        return gone

    def signal(self, node: str, signum: int) -> None:
        """Send ``signum`` to the newest process of ``node``."""
        os.kill(self.pids()[node], signum)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT the bring-up (it stops its nodes) and return its exit code."""
        code = stop_process(self.process, timeout)
        self._log.close()
        return code


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by the bring-up) counts as gone.
    try:
        with open(f'/proc/{pid}/stat', encoding='utf-8') as stat:
            return stat.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def injections(world: World, stack: Stack) -> Dict[str, tuple]:
    """Case name -> (inject, restore) actions."""
    def cameras(fault: str, names: Sequence[str]):
        def inject():
            with world.lock:
                world.camera_faults.update({name: fault for name in names})

        def restore():
            with world.lock:
                world.camera_faults.clear()
        return inject, restore

    def setter(attribute: str, value: str) -> tuple:
        return (lambda: setattr(world, attribute, value), lambda: setattr(world, attribute, ''))

    def estop_then(after: Optional[Callable[[], None]] = None) -> tuple:
        def inject():
            world.estop(True)
            if after:
                time.sleep(1.0)
                after()

        def restore():
            world.estop(False)
            time.sleep(0.2)
            say(f'  reset_emergency_stop: {world.reset_estop()}')
        return inject, restore

    anchor = world.anchor
    every = list(world.cameras)
    return {
        'camera_one_stops': cameras('stopped', ['CAM_BACK']),
        'camera_anchor_stops': cameras('stopped', [anchor]),
        'cameras_all_stop': cameras('stopped', every),
        'camera_frozen': cameras('frozen', [anchor]),
        'camera_corrupt': cameras('corrupt', [anchor]),
        'camera_truncated': cameras('truncated', [anchor]),
        'camera_empty': cameras('empty', [anchor]),
        'camera_wrong_format': cameras('format', [anchor]),
        'camera_wrong_size': cameras('size', [anchor]),
        'camera_flood': (lambda: setattr(world, 'flood', True),
                         lambda: setattr(world, 'flood', False)),
        'odometry_stops': setter('odometry_fault', 'stopped'),
        'odometry_nan': setter('odometry_fault', 'nan'),
        'odometry_inf': setter('odometry_fault', 'inf'),
        'odometry_teleport': setter('odometry_fault', 'teleport'),
        'clock_jump': (world.jump_clock, lambda: None),
        'route_empty': (lambda: world.publish_route('empty'), world.publish_route),
        'route_far': (lambda: world.publish_route('far'), world.publish_route),
        'plan_nan': setter('rogue', 'nan'),
        'plan_absurd_speed': setter('rogue', 'absurd_speed'),
        'plan_empty': setter('rogue', 'empty'),
        'plan_wrong_frame': setter('rogue', 'wrong_frame'),
        'plan_oversized': setter('rogue', 'oversized'),
        'estop_reset': estop_then(),
        'estop_clock_jump': estop_then(world.jump_clock),
        'planner_sigstop': (lambda: stack.signal('planner_node', signal.SIGSTOP),
                            lambda: stack.signal('planner_node', signal.SIGCONT)),
        'planner_kill9': (lambda: stack.signal('planner_node', signal.SIGKILL), lambda: None),
    }


def run_case(case: FaultCase, world: World, stack: Stack, actions: Dict[str, tuple]):
    """Inject ``case`` into a NOMINAL stack, restore it, watch until NOMINAL again."""
    wall = 1.0 / world.clock.rate      # wall seconds per simulated second
    ready = wait_until(lambda: world.mode() == 'NOMINAL', READY_TIMEOUT * wall)
    inject, restore = actions[case.name]
    spare = 'planner_node' if case.name == 'planner_kill9' else ''
    injected = time.monotonic()
    inject()
    time.sleep(max(0.0, case.duration * wall - (time.monotonic() - injected)))
    crashed = set(stack.dead(spare))
    restored = time.monotonic()
    restore()
    # Observe at least a second past the restore, so late escalations are seen.
    wait_until(lambda: world.nominal_since(restored + wall) is not None,
               case.recovery_timeout * wall)
    ended = time.monotonic()
    crashed |= set(stack.dead())
    with world.lock:
        statuses, commands = list(world.statuses), list(world.commands)
    return Episode(case, injected, restored, statuses, commands, ended,
                   world.nominal_since(restored), tuple(sorted(crashed)), ready,
                   time_scale=world.clock.rate)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog='fault_campaign', description=__doc__.split('\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--out', default='out/faults', help='output directory')
    parser.add_argument('--only', default='', help='comma-separated case names (default all)')
    parser.add_argument('--rate', type=float, default=1.0,
                        help='simulated seconds per wall second (below 1 on a loaded machine: '
                        'every node gets more wall time per simulated deadline)')
    parser.add_argument('--list', action='store_true', help='list the cases and exit')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the campaign; 0 when every case matched its expectation."""
    args = build_parser().parse_args(argv)
    if args.list:
        for case in CASES:
            print(f'{case.name:<22} {case.expected:<16} {case.description}')
        return 0
    try:
        cases = [case_by_name(n) for n in args.only.split(',') if n] or list(CASES)
    except ValueError as error:
        say(str(error))
        return 2
    if not 0.05 <= args.rate <= 2.0:
        say(f'--rate {args.rate} must be in [0.05, 2]')
        return 2
    domain = isolate_ros_domain()   # an exported ROS_DOMAIN_ID as given, else a free one
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rig = load_rig(default_rig_path()).resized(WIDTH, HEIGHT)
    rig_file = Path(tempfile.mkdtemp(prefix='autovla_faults_')) / 'rig.yaml'
    save_rig(rig, rig_file, f'{rig.name} rig at {WIDTH}x{HEIGHT}, written by fault_campaign')
    frames = render_frames(rig, WIDTH, HEIGHT)
    small = render_frames(load_rig(default_rig_path()).resized(WIDTH // 2, HEIGHT // 2),
                          WIDTH // 2, HEIGHT // 2)[rig.cameras[0].name]
    say(f'{len(cases)} cases, ROS_DOMAIN_ID={domain}, output {out}')
    world = World(rig, frames, small, args.rate)
    stack = Stack(rig_file, out / 'stack.log')
    verdicts = []
    try:
        world.publish_route()
        if not wait_until(lambda: world.mode() == 'NOMINAL', STARTUP_TIMEOUT / args.rate):
            say(f'the stack never reached NOMINAL (last mode {world.mode()}); '
                f'see {stack.log_path}')
            return 1
        say(f'stack NOMINAL after {time.monotonic() - started:.0f} s')
        actions = injections(world, stack)
        for index, case in enumerate(cases, 1):
            verdict = judge(run_case(case, world, stack, actions))
            verdicts.append(verdict)
            say(f'({index}/{len(cases)}) {case.name}: observed {verdict.observed}, '
                + ('ok' if verdict.ok else 'MISMATCH: ' + '; '.join(verdict.problems)))
            if case.name in ('route_empty', 'route_far'):
                world.publish_route()
    finally:
        code = stack.stop()
        world.close()
    text = table(verdicts)
    print(text, flush=True)
    result = summary(verdicts)
    (out / 'faults.md').write_text(text + '\n', encoding='utf-8')
    (out / 'faults.json').write_text(json.dumps(
        {**result, 'domain': domain, 'rate': args.rate, 'stack_exit_code': code,
         'seconds': round(time.monotonic() - started, 1),
         'rows': [v.__dict__ for v in verdicts]}, indent=2, default=str) + '\n',
        encoding='utf-8')
    say(f'{result["ok"]}/{result["cases"]} cases as expected in '
        f'{time.monotonic() - started:.0f} s; stack exit code {code}; table in {out}')
    return 0 if not result['mismatches'] else 1


if __name__ == '__main__':
    sys.exit(main())
