"""Simulate a catalogue scenario, render the six cameras and write everything to a rosbag2.

Time: frame k of a scenario is stamped START_STAMP_NS + k / camera_rate; every camera of the
rig shares that stamp (a synchronised rig). The expert is simulated for the scenario duration
plus the ground-truth horizon, so every frame has its full future, and the odometry (with its
/tf) is recorded over the same span: a scorer that takes the expert from the bag's own
odometry finds the full horizon after the last camera frame too, as a recording that keeps
running after the last frame of interest would have it.

Ground truth per frame:
- ``ground_truth/expert_trajectory``: nav_msgs/Path in base_link at the frame stamp, one pose
  per ``waypoint_dt`` up to ``horizon`` (each pose stamped with its own future time).
- ``ground_truth/agents``: MarkerArray of CUBE markers in odom. ns = class for the boxes at
  the frame stamp; ns = ``future/<class>`` for the same agents at each future waypoint time
  (marker header.stamp = the time the box holds for), so collision checks against a plan need
  only the frame's own message.
"""

from dataclasses import dataclass, replace
import json
import math
from pathlib import Path
import shutil
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from autovla_common.frames import (
    camera_frame,
    camera_transforms,
    TF_STATIC_TOPIC,
    TF_TOPIC,
)
from autovla_common.rig import CameraRig, load_rig, save_rig
from autovla_common.topic_map import default_topic_map, TopicMap
import cv2
import numpy as np
from rosbags.rosbag2 import Writer

from autovla_scenarios import messages, obstacles
from autovla_scenarios.catalogue import DEFAULT_SET, make_scenario
from autovla_scenarios.geometry import to_frame
from autovla_scenarios.render import Renderer, scene_boxes, scene_ground
from autovla_scenarios.typestore import (
    BAG_VERSION,
    LATCHED_BAG_QOS,
    STORAGE_PLUGINS,
    typestore,
)
from autovla_scenarios.world import Scenario, simulate_expert

START_STAMP_NS = 1_700_000_000 * messages.NS_PER_S
TOPIC_ODOMETRY = 'odometry'
TOPIC_ROUTE = 'route'
TOPIC_COMMAND = 'driving_command'
TOPIC_EXPERT = 'ground_truth/expert_trajectory'
TOPIC_AGENTS = 'ground_truth/agents'
TOPIC_OBSTACLES = 'obstacles/points'   # PointCloud2 in base_link (autovla_scenarios.obstacles)
FUTURE_NS_PREFIX = 'future/'
# DrivingCommand constants (autovla_msgs/msg/DrivingCommand.msg).
TURN_LEFT, KEEP_FORWARD, TURN_RIGHT, SOURCE_TOPIC = 1, 2, 3, 1
# nuScenes-style command: lateral offset of the expert 3 s ahead beyond this means a turn.
COMMAND_LATERAL_M = 2.0
COMMAND_LOOKAHEAD_S = 3.0

RIG_FILE = 'rig.yaml'   # the rig at the rendered resolution, beside index.json


def image_topic(camera: str) -> str:
    """Relative topic of a camera's JPEG stream."""
    return f'cameras/{camera}/image/compressed'


def info_topic(camera: str) -> str:
    """Relative topic of a camera's CameraInfo stream."""
    return f'cameras/{camera}/camera_info'


def scenario_topic_map() -> TopicMap:
    """Return the map of a generated scenario bag: the stack's own names plus the agents' boxes."""
    return replace(default_topic_map(), objects=TOPIC_AGENTS)


def default_rig_path() -> Path:
    """Return the nuScenes rig YAML (install space, else the source tree)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory('autovla_scenarios')) / 'config' / \
            'rigs' / 'nuscenes.yaml'
        if installed.exists():
            return installed
    except (ImportError, LookupError, ValueError):
        pass
    return Path(__file__).resolve().parents[3] / 'config' / 'rigs' / 'nuscenes.yaml'


@dataclass(frozen=True)
class GenerationConfig:
    """How to render and record a scenario."""

    width: int = 800
    height: int = 450
    camera_rate: float = 2.0          # Hz, frames per second of every camera
    odometry_rate: float = 10.0       # Hz
    cloud_rate: float = 10.0          # Hz of the obstacle point cloud; 0 = no cloud
    duration: float = 10.0            # s of recorded frames
    horizon: float = 5.0              # s of ground-truth future per frame
    waypoint_dt: float = 0.5          # s between ground-truth waypoints
    jpeg_quality: int = 85
    storage: str = 'mcap'
    seed: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        if self.width < 16 or self.height < 16:
            raise ValueError('width and height must be at least 16 px')
        if not 0.1 <= self.camera_rate <= 30.0 or not 1.0 <= self.odometry_rate <= 200.0:
            raise ValueError('camera rate must be in [0.1, 30] Hz, odometry rate in [1, 200] Hz')
        if not (self.cloud_rate == 0.0 or 1.0 <= self.cloud_rate <= 100.0):
            raise ValueError('cloud rate must be 0 (no cloud) or in [1, 100] Hz')
        if self.duration <= 0 or self.horizon <= 0 or self.waypoint_dt <= 0:
            raise ValueError('duration, horizon and waypoint_dt must be positive')
        if self.storage not in STORAGE_PLUGINS:
            raise ValueError(f'storage must be one of {", ".join(STORAGE_PLUGINS)}')
        if not 10 <= self.jpeg_quality <= 100:
            raise ValueError('jpeg_quality must be in [10, 100]')


def _command(future_base: np.ndarray, waypoint_dt: float) -> int:
    index = min(len(future_base), int(round(COMMAND_LOOKAHEAD_S / waypoint_dt))) - 1
    lateral = future_base[index, 1]
    if lateral > COMMAND_LATERAL_M:
        return TURN_LEFT
    if lateral < -COMMAND_LATERAL_M:
        return TURN_RIGHT
    return KEEP_FORWARD


def _rgba(bgr: Tuple[int, int, int], alpha: float) -> Tuple[float, float, float, float]:
    return bgr[2] / 255.0, bgr[1] / 255.0, bgr[0] / 255.0, alpha


class _BagSink:
    """Writes (stamp, topic, message) events into a rosbag2 through one connection per topic."""

    def __init__(self, writer: Writer):
        self.writer = writer
        self.connections: Dict[str, object] = {}

    def write(self, stamp: int, topic: str, message) -> None:
        if topic not in self.connections:
            self.connections[topic] = self.writer.add_connection(
                topic, message.__msgtype__, typestore=typestore(),
                offered_qos_profiles=[LATCHED_BAG_QOS] if topic == TF_STATIC_TOPIC else [])
        self.writer.write(self.connections[topic], stamp,
                          typestore().serialize_cdr(message, message.__msgtype__))


def _frame_ground_truth(scenario: Scenario, track, t: float, stamp: int,
                        config: GenerationConfig):
    """(expert Path, agents MarkerArray, command) for the frame at scenario time ``t``."""
    steps = int(round(config.horizon / config.waypoint_dt))
    ego = track.pose(t)
    future_t = [t + config.waypoint_dt * k for k in range(1, steps + 1)]
    future_world = np.array([track.pose(ft)[:2] for ft in future_t])
    future_base = to_frame(future_world, ego)
    future_yaw = [track.pose(ft)[2] - ego[2] for ft in future_t]
    dt_ns = int(round(config.waypoint_dt * messages.NS_PER_S))
    expert = messages.path(stamp, 'base_link', [
        (stamp + (k + 1) * dt_ns, p[0], p[1], yaw)
        for k, (p, yaw) in enumerate(zip(future_base, future_yaw))])
    markers = []
    for agent in scenario.agents:
        for k in range(steps + 1):
            x, y, yaw = agent.pose(t + k * config.waypoint_dt)
            ns = agent.kind if k == 0 else FUTURE_NS_PREFIX + agent.kind
            markers.append(messages.cube_marker(
                stamp + k * dt_ns, ns, agent.agent_id * 100 + k, (x, y, yaw, *agent.size),
                _rgba(agent.bgr, 1.0 if k == 0 else 0.2)))
    return expert, messages.marker_array(markers), _command(future_base, config.waypoint_dt)


def _cloud_events(scenario: Scenario, track, config: GenerationConfig):
    """Obstacle clouds at ``cloud_rate``, seen from the expert ego's pose at each stamp."""
    if not config.cloud_rate:
        return []
    cloud_ns = int(round(messages.NS_PER_S / config.cloud_rate))
    events = []
    for k in range(int(math.floor(config.duration * config.cloud_rate + 1e-9))):
        t = k / config.cloud_rate
        stamp = START_STAMP_NS + k * cloud_ns
        points = obstacles.scene_points(scenario, t, track.pose(t))
        events.append((stamp, 2, TOPIC_OBSTACLES, obstacles.point_cloud(stamp, points)))
    return events


def generate_scenario(name: str, bag_path: Path, config: GenerationConfig = GenerationConfig(),
                      rig: Optional[CameraRig] = None,
                      progress: Optional[Callable[[str], None]] = None) -> Dict[str, object]:
    """Write scenario ``name`` to the rosbag2 directory ``bag_path``; return its index entry."""
    config.validate()
    rig = rig or load_rig(default_rig_path())
    scenario = make_scenario(name, config.seed)
    track = simulate_expert(scenario, config.duration + config.horizon)
    renderer = Renderer(rig, config.width, config.height)
    ground = scene_ground(scenario)
    bag_path = Path(bag_path)
    if bag_path.exists():
        shutil.rmtree(bag_path)
    frame_count = int(math.floor(config.duration * config.camera_rate + 1e-9))
    odometry_count = int(math.floor((config.duration + config.horizon) * config.odometry_rate
                                    + 1e-9))
    frame_ns = int(round(messages.NS_PER_S / config.camera_rate))
    odom_ns = int(round(messages.NS_PER_S / config.odometry_rate))
    events: List[Tuple[int, int, str, object]] = []   # (stamp, order, topic, message)

    route = scenario.route
    route_poses = [(START_STAMP_NS, *route.at(s)[:3]) for s in np.arange(0.0, route.length, 2.0)]
    events.append((START_STAMP_NS, 0, TOPIC_ROUTE, messages.path(START_STAMP_NS, 'odom',
                                                                  route_poses)))
    # TF as a car's bag carries it: camera frames once (latched), odom -> base_link with
    # every odometry message.
    events.append((START_STAMP_NS, 0, TF_STATIC_TOPIC, messages.tf_message(
        camera_transforms(rig, 'base_link', START_STAMP_NS))))
    for k in range(odometry_count):
        t = k / config.odometry_rate
        i = track.index(t)
        stamp = START_STAMP_NS + k * odom_ns
        odometry = messages.odometry(stamp, track.x[i], track.y[i], track.yaw[i],
                                     track.speed[i], track.yaw_rate[i])
        events.append((stamp, 1, TOPIC_ODOMETRY, odometry))
        events.append((stamp, 1, TF_TOPIC, messages.odometry_tf(odometry)))
    events.extend(_cloud_events(scenario, track, config))
    started = time.monotonic()
    with Writer(bag_path, version=BAG_VERSION,
                storage_plugin=STORAGE_PLUGINS[config.storage]) as writer:
        sink = _BagSink(writer)
        pending = sorted(events, key=lambda e: (e[0], e[1]))
        for k in range(frame_count):
            t = k / config.camera_rate
            stamp = START_STAMP_NS + k * frame_ns
            while pending and pending[0][0] <= stamp:
                sink.write(pending[0][0], pending[0][2], pending.pop(0)[3])
            expert, agents, command = _frame_ground_truth(scenario, track, t, stamp, config)
            sink.write(stamp, TOPIC_COMMAND,
                       messages.driving_command(stamp, command, SOURCE_TOPIC))
            sink.write(stamp, TOPIC_EXPERT, expert)
            sink.write(stamp, TOPIC_AGENTS, agents)
            images = renderer.render(track.pose(t), ground, scene_boxes(scenario, t),
                                     scenario.lighting)
            for camera in rig.cameras:
                frame_id = camera_frame(camera.name)
                ok, jpeg = cv2.imencode('.jpg', images[camera.name],
                                        [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality])
                if not ok:
                    raise RuntimeError(f'JPEG encoding failed for {camera.name}')
                sink.write(stamp, info_topic(camera.name), messages.camera_info(
                    stamp, frame_id, config.width, config.height,
                    camera.resized(config.width, config.height).intrinsics))
                sink.write(stamp, image_topic(camera.name),
                           messages.compressed_image(stamp, frame_id, jpeg.tobytes()))
        for stamp, _, topic, message in pending:
            sink.write(stamp, topic, message)
    if progress:
        progress(f'{name}: {frame_count} frames x {len(rig.cameras)} cameras '
                 f'in {time.monotonic() - started:.1f} s')
    return {
        'name': name, 'description': scenario.description, 'bag': bag_path.name,
        'seed': config.seed, 'frames': frame_count, 'camera_rate_hz': config.camera_rate,
        'duration_s': config.duration, 'width': config.width, 'height': config.height,
        'storage': config.storage, 'start_stamp_ns': START_STAMP_NS,
        'render_seconds': round(time.monotonic() - started, 3),
    }


def generate_set(out_dir: Path, names: Sequence[str] = DEFAULT_SET,
                 config: GenerationConfig = GenerationConfig(),
                 progress: Optional[Callable[[str], None]] = None) -> Dict[str, object]:
    """Generate ``names`` into ``out_dir/<name>/``; write ``index.json`` and ``rig.yaml``.

    ``rig.yaml`` is the rig at the rendered resolution: the calibration a perception node
    needs to consume these bags (``rig_file`` parameter), as any recorded data set ships one.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rig = load_rig(default_rig_path())
    save_rig(rig.resized(config.width, config.height), out_dir / RIG_FILE,
             f'{rig.name} rig at {config.width}x{config.height}, written by generate_scenarios')
    entries = [generate_scenario(name, out_dir / name, config, rig, progress) for name in names]
    index = {'generator': 'autovla_scenarios', 'config': config.__dict__, 'rig': RIG_FILE,
             'scenarios': entries}
    (out_dir / 'index.json').write_text(json.dumps(index, indent=2) + '\n', encoding='utf-8')
    return index
