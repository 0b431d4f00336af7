"""Scenario bags -> supervised samples, preprocessed exactly like the running stack.

Each bag's messages go in stamp order through the perception node's own pieces (message
conversions + ``PerceptionCore``, perception.yaml defaults, the scenario set's rig), the
resulting DrivingObservation through the planner node's conversion, and the planner
observation through ``PlannerRuntime.prepare`` (camera selection, prompt, video patches). The
target is the fast-thinking assistant turn the runtime would prefill, with the 10 action
tokens the codebook encodes from the expert's future; with a ``ScenarioReasoner`` (dual-mode
training, reasoning_data.py), frames it labels complex get the slow-thinking turn with their
chain of thought instead (assistant_turn.slow_answer_ids: what the runtime's slow path decodes).
"""

from dataclasses import dataclass
import json
import math
from pathlib import Path
import time
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ament_index_python.packages import get_package_share_directory
from autovla_common.params import load_defaults
from autovla_common.rig import CameraRig, load_rig
from autovla_perception.core import PerceptionConfig, PerceptionCore
from autovla_perception.ego import yaw_from_quaternion
from autovla_perception.health import InputHealth
from autovla_planner.assistant_turn import slow_answer_ids
from autovla_planner.observation import Observation
from autovla_planner.prompt import PromptInputs
from autovla_planner.ros_interface import observation_from_msg
from autovla_replay.bagdata import read_messages
from autovla_scenarios.generator import (
    RIG_FILE,
    TOPIC_COMMAND,
    TOPIC_EXPERT,
    TOPIC_ODOMETRY,
    TOPIC_ROUTE,
)
from nav_msgs.msg import Odometry
from nav_msgs.msg import Path as PathMsg
import numpy as np
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from autovla_msgs.msg import DrivingCommand
from autovla_perception import conversions

BASE_FRAME = 'base_link'


@dataclass
class Sample:
    """One training / evaluation example: model inputs, target and ground truth."""

    scenario: str
    stamp_ns: int
    inputs: PromptInputs           # the prompt exactly as the runtime builds it
    target_ids: List[int]          # the assistant turn (fast thinking + actions + closing)
    action_indices: np.ndarray     # (H,) codebook indices of the expert future
    expert_poses: np.ndarray       # (H, 3) x, y, yaw in base_link at 0.5 s steps
    speed: float                   # m/s, as the prompt states it
    command: str
    complex: Optional[bool] = None  # the reasoner's label (None: no reasoner asked)
    reasoning: str = ''             # the chain of thought trained (complex frames only)


def perception_defaults_path() -> Path:
    """perception.yaml as the perception package installs it."""
    return Path(get_package_share_directory('autovla_perception')) / 'config' / 'perception.yaml'


def perception_core(rig: CameraRig, params_file: Optional[Path] = None) -> PerceptionCore:
    """Build a PerceptionCore configured like the node with its YAML defaults."""
    params = load_defaults(params_file or perception_defaults_path(), 'perception_node')
    config = PerceptionConfig.from_params(params, rig.cameras)
    return PerceptionCore(config, InputHealth(5.0, time.monotonic), warn=lambda message: None)


def _routes(rig: CameraRig) -> Dict[str, tuple]:
    """Topic -> (message class, handler name) for every topic the perception node reads."""
    routes = {TOPIC_ODOMETRY: (Odometry, 'odometry'), TOPIC_ROUTE: (PathMsg, 'route'),
              TOPIC_COMMAND: (DrivingCommand, 'command'), TOPIC_EXPERT: (PathMsg, 'expert')}
    for camera in rig.cameras:
        image_type = CompressedImage if camera.transport == 'compressed' else Image
        routes[camera.topic] = (image_type, 'image:' + camera.name)
        if camera.camera_info_topic:
            routes[camera.camera_info_topic] = (CameraInfo, 'info:' + camera.name)
    return routes


def path_poses(msg) -> np.ndarray:
    """(N, 3) x, y, yaw of a nav_msgs/Path."""
    return np.array([(p.pose.position.x, p.pose.position.y,
                      yaw_from_quaternion(p.pose.orientation.x, p.pose.orientation.y,
                                          p.pose.orientation.z, p.pose.orientation.w))
                     for p in msg.poses], dtype=float).reshape(-1, 3)


@dataclass
class BagFrame:
    """One observation the stack would plan from, with its ground truth and context."""

    stamp_ns: int
    observation: Observation        # the planner's view, via the nodes' conversions
    expert: np.ndarray              # (horizon, 3) expert future in base_link
    odometry: Odometry              # newest odometry message at the stamp
    route: Optional[PathMsg]        # the route message (None before one arrived)


def bag_observations(bag: Path, rig: CameraRig, horizon: int = 10,
                     params_file: Optional[Path] = None) -> Iterator[BagFrame]:
    """Yield a BagFrame per observation the perception node would publish from a bag.

    Messages are fed in stamp order with the stamp as the arrival time (sim time), and the
    core is stepped after every camera frame, as the node does. Observations whose stamp has
    no expert future of ``horizon`` poses are skipped.
    """
    core = perception_core(rig, params_file)
    routes = _routes(rig)
    experts: Dict[int, np.ndarray] = {}
    latest: Dict[str, object] = {'odometry': None, 'route': None}
    for message in read_messages(bag, routes):
        msg_type, handler = routes[message.topic]
        msg = deserialize_message(message.data, msg_type)
        stamp = message.stamp
        if handler in latest:
            latest[handler] = msg
        if handler == 'odometry':
            core.on_odometry(conversions.odometry_sample(msg), msg.header.frame_id)
        elif handler == 'route':
            core.on_route(conversions.route_points(msg), msg.header.frame_id)
        elif handler == 'command':
            core.on_command(msg.command, msg.text, conversions.to_ns(msg.header.stamp), stamp)
        elif handler == 'expert':
            experts[conversions.to_ns(msg.header.stamp)] = path_poses(msg)
        elif handler.startswith('info:'):
            core.set_calibration(handler[5:], conversions.calibration(msg))
        else:
            core.on_image(handler[6:], conversions.to_ns(msg.header.stamp), stamp,
                          conversions.encoded_frame(msg))
            result = core.step(stamp)
            if result.observation is None:
                continue
            observation = result.observation
            expert = experts.get(observation.stamp_ns)
            if expert is None or len(expert) < horizon:
                continue
            msg = conversions.observation_msg(observation, BASE_FRAME)
            yield BagFrame(observation.stamp_ns, observation_from_msg(msg), expert[:horizon],
                           latest['odometry'], latest['route'])


def scenario_set(scenario_dir: Path) -> Tuple[List[Dict[str, object]], CameraRig]:
    """Return the index entries (name, seed, ...) and the rig of a generated scenario set."""
    index = json.loads((Path(scenario_dir) / 'index.json').read_text(encoding='utf-8'))
    return index['scenarios'], load_rig(Path(scenario_dir) / index.get('rig', RIG_FILE))


def scenario_samples(scenario_dir: Path, runtime, names: Optional[Sequence[str]] = None,
                     progress: Optional[Callable[[str], None]] = None,
                     reasoner=None) -> List[Sample]:
    """Build the samples of every scenario (or ``names``) of a set for ``runtime``'s model.

    With ``reasoner`` (a reasoning_data.ScenarioReasoner) every sample is labelled simple or
    complex and complex ones are trained with their reasoning.
    """
    scenario_dir = Path(scenario_dir)
    entries, rig = scenario_set(scenario_dir)
    entries = {entry['name']: entry for entry in entries}
    samples = []
    for name in names or list(entries):
        count = len(samples)
        for frame in bag_observations(scenario_dir / name, rig, runtime.descriptor.horizon):
            reasoning = None
            if reasoner is not None:
                reasoning = frame_reasoning(reasoner, entries[name], frame.stamp_ns)
            samples.append(make_sample(runtime, name, frame.stamp_ns, frame.observation,
                                       frame.expert, reasoning))
        if progress:
            progress(f'{scenario_dir.name}/{name}: {len(samples) - count} samples')
    return samples


def frame_reasoning(reasoner, entry: Dict, stamp_ns: int):
    """Return the reasoner's Reasoning of a bag frame (scenario and seed from its index entry)."""
    t = (stamp_ns - int(entry['start_stamp_ns'])) * 1e-9
    return reasoner.reasoning(entry['name'], int(entry['seed']), t)


def make_sample(runtime, scenario: str, stamp_ns: int, observation, expert: np.ndarray,
                reasoning=None) -> Sample:
    """Encode the expert future and build the runtime's inputs and the target turn.

    ``reasoning`` (a reasoning_data.Reasoning): complex frames get the slow-thinking turn with
    its text, simple ones the fast turn; None: the fast turn, unlabelled.
    """
    indices = runtime.codebook.encode(expert)
    _, inputs = runtime.prepare(observation)
    is_complex = None if reasoning is None else reasoning.facts.complex
    text = reasoning.text if is_complex else ''
    target = slow_answer_ids(runtime, text, indices) if text else \
        runtime.fast_answer_ids(indices)
    return Sample(scenario, stamp_ns, inputs, target, indices, np.asarray(expert, dtype=float),
                  observation.speed, observation.command, is_complex, text)


def l2_at(poses: np.ndarray, expert: np.ndarray, seconds: float, step_s: float = 0.5) -> float:
    """Distance (m) between two (H, 3) trajectories at ``seconds`` ahead."""
    row = int(round(seconds / step_s)) - 1
    return float(math.hypot(*(poses[row, :2] - expert[row, :2])))
