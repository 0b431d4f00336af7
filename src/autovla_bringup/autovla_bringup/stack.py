"""The autovla stack, described once, without ROS: which nodes run and how they are configured.

``launch/autovla.launch.py`` and the ``autovla_bringup`` command both turn ``describe()``
into processes, so the two cannot drift. Nothing here imports rclpy or launch: package
locations come from ``ament_index_python`` (plain Python) or an injected lookup.

Camera remaps: every camera in the rig YAML has a ``topic``, the node-relative name that
perception_node subscribes to. A camera may also give ``source_topic``, the name its driver
really publishes on; the stack then remaps ``topic`` to ``source_topic`` for perception_node.
The nuScenes rig has none: replays publish on the rig topics directly.
"""

from dataclasses import dataclass, field
import math
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from autovla_common.topic_map import load_topic_map
import yaml

DEFAULT_NAMESPACE = 'autovla'
DEFAULT_RIG = 'nuscenes.yaml'
LOG_LEVELS = ('debug', 'info', 'warn', 'error', 'fatal')
BRINGUP_PACKAGE = 'autovla_bringup'


@dataclass(frozen=True)
class NodeDescription:
    """One node of the stack: where its executable and params file live, what class it is."""

    key: str                 # short name used on the command line: perception, planner, ...
    package: str
    executable: str          # console script in lib/<package>
    name: str                # node name; also the section key of its params YAML
    params_file: str         # file name under share/<package>/config
    node_class: str          # 'module:Class', for --single-process
    # True: restarted with backoff when it dies, up to a limit (autovla_bringup.respawn).
    # False (safety): it must never be left running blind or restarted behind the
    # drive-by-wire's back; its death ends the stack.
    respawn: bool = False

    @property
    def module(self) -> str:
        """Module that defines the node class and its ``PARAMS`` tuple."""
        return self.node_class.split(':')[0]


NODES = (
    NodeDescription('perception', 'autovla_perception', 'perception_node', 'perception_node',
                    'perception.yaml', 'autovla_perception.node:PerceptionNode', respawn=True),
    NodeDescription('planner', 'autovla_planner', 'planner_node', 'planner_node',
                    'planner.yaml', 'autovla_planner.node:PlannerNode', respawn=True),
    NodeDescription('safety', 'autovla_safety', 'safety_node', 'safety_node',
                    'safety.yaml', 'autovla_safety.node:SafetyNode'),
)

ALL_NODES = 'all'
USE_SIM_TIME = 'use_sim_time'


@dataclass(frozen=True)
class Argument:
    """A launch argument / command-line option and the parameters it overrides when given."""

    name: str
    default: str
    description: str
    # (node key or ALL_NODES, parameter); empty = handled by the stack itself (namespace...).
    targets: Tuple[Tuple[str, str], ...] = ()


ARGUMENTS = (
    Argument('model_path', '', 'Planner model directory; empty keeps planner.yaml.',
             (('planner', 'model_path'),)),
    Argument('device', '', 'Planner device (auto, cuda, cpu); empty keeps planner.yaml.',
             (('planner', 'device'),)),
    Argument('rig_file', '', 'Camera rig YAML; empty keeps perception.yaml (the nuScenes rig).',
             (('perception', 'rig_file'),)),
    Argument('topic_map', '', 'Topic map YAML naming the input topics (config/topic_maps); '
             'empty = the rig topics and the default names.', (('perception', 'topic_map'),)),
    Argument(USE_SIM_TIME, 'false', 'true: every node follows /clock (bag replay).',
             ((ALL_NODES, USE_SIM_TIME),)),
    Argument('namespace', DEFAULT_NAMESPACE, 'Namespace of every node and topic.'),
    Argument('params_file', '', 'User params YAML overlaying the shipped defaults (sections '
             '/**/<node>, /<namespace>/<node> or /**); empty = defaults only.'),
    Argument('log_level', 'info', 'Log level of every node: ' + ', '.join(LOG_LEVELS) + '.'),
)


@dataclass(frozen=True)
class ReplayDescription:
    """The bag replay tool that ``replay.launch.py`` runs next to the stack.

    ``replay_bag`` always publishes /clock (the stack runs on simulated time) and publishes
    the bag's relative topics inside ``namespace``, where the stack's nodes listen.
    """

    package: str = 'autovla_replay'
    executable: str = 'replay_bag'
    modes: Tuple[str, ...] = ('lockstep', 'rate')

    def command(self, executable_path: Path, bag: str, mode: str, rate: float,
                namespace: str = DEFAULT_NAMESPACE, topic_map: str = '') -> List[str]:
        """Command line that replays ``bag`` into the stack in ``namespace``.

        ``topic_map``: the map naming the bag's input topics (the stack gets the same file).
        """
        if not bag:
            raise ValueError('no bag given: replay.launch.py needs bag:=PATH')
        if mode not in self.modes:
            raise ValueError(f'replay mode {mode!r} is not one of {list(self.modes)}')
        if not math.isfinite(rate) or rate <= 0.0:
            raise ValueError(f'replay rate {rate} must be a positive number')
        # The stack publishes TF itself (perception: odometry and rig), so the bag's /tf and
        # /tf_static stay out; its ground truth goes out for RViz and Foxglove.
        return [str(executable_path), bag, '--mode', mode, '--rate', repr(rate),
                '--namespace', normalize_namespace(namespace), '--exclude-prefix', '/tf'] + (
                    ['--topic-map', topic_map] if topic_map else [])


REPLAY = ReplayDescription()


@dataclass(frozen=True)
class Topic:
    """One row of the stack's wiring table (relative name, resolved in the stack namespace)."""

    name: str
    type: str
    qos: str
    direction: str           # 'in', 'out' or 'service', seen from ``nodes``
    nodes: Tuple[str, ...]   # node keys
    rate: str                # free text, or '{<node>.<param>}' filled in from the YAML default

    @property
    def message_type(self) -> str:
        """ROS type name, e.g. 'nav_msgs/msg/Path' for type 'nav_msgs/Path (base_link)'."""
        package, name = self.type.split()[0].split('/')
        return f'{package}/msg/{name}'


# The agreed wiring (helper brief). Camera topics come from the rig, not from here.
TOPICS = (
    Topic('odometry', 'nav_msgs/Odometry', 'SENSOR_QOS', 'in', ('perception', 'safety'),
          'vehicle rate (>= the control rate)'),
    Topic('route', 'nav_msgs/Path', 'LATCHED_QOS', 'in', ('perception', 'safety'),
          'on change'),
    Topic('driving_command', 'autovla_msgs/DrivingCommand', 'RELIABLE_QOS', 'in',
          ('perception',), 'on change'),
    Topic('observation', 'autovla_msgs/DrivingObservation', 'RELIABLE_QOS (depth 1-2)', 'out',
          ('perception',), '{perception.planning_rate_hz}'),
    Topic('observation', 'autovla_msgs/DrivingObservation', 'RELIABLE_QOS', 'in',
          ('planner',), '{perception.planning_rate_hz}'),
    Topic('planned_trajectory', 'autovla_msgs/PlannedTrajectory', 'RELIABLE_QOS', 'out',
          ('planner',), 'one per observation the model finishes'),
    Topic('planned_path', 'nav_msgs/Path (base_link)', 'RELIABLE_QOS', 'out', ('planner',),
          'with each plan'),
    Topic('explanation', 'std_msgs/String', 'RELIABLE_QOS', 'out', ('planner',),
          'with each plan'),
    Topic('planner_markers', 'visualization_msgs/MarkerArray', 'RELIABLE_QOS', 'out',
          ('planner',), 'with each plan'),
    Topic('planned_trajectory', 'autovla_msgs/PlannedTrajectory', 'RELIABLE_QOS', 'in',
          ('safety',), 'with each plan'),
    Topic('obstacles/points', 'sensor_msgs/PointCloud2 (base_link or odom)', 'SENSOR_QOS',
          'in', ('safety',), 'range sensor rate (10 Hz in scenario bags); optional (AEB)'),
    Topic('emergency_stop', 'std_msgs/Bool (true latches)', 'RELIABLE_QOS', 'in',
          ('safety',), 'on event'),
    Topic('reset_emergency_stop', 'std_srvs/Trigger', '-', 'service', ('safety',),
          'on request'),
    Topic('drive_command', 'autovla_msgs/DriveCommand', 'RELIABLE_QOS', 'out', ('safety',),
          '{safety.control_rate_hz}'),
    Topic('safety_status', 'autovla_msgs/SafetyStatus', 'RELIABLE_QOS', 'out', ('safety',),
          'see Safety'),
    Topic('selected_path', 'nav_msgs/Path', 'RELIABLE_QOS', 'out', ('safety',),
          'see Safety'),
    Topic('/diagnostics', 'diagnostic_msgs/DiagnosticArray', 'RELIABLE_QOS', 'out',
          ('perception', 'planner', 'safety'), 'periodic'),
    Topic('/tf', 'tf2_msgs/TFMessage (odometry frame -> base_link)', 'TF_QOS (depth 100)',
          'out', ('perception',), 'with each odometry (`publish_odom_tf`)'),
    Topic('/tf_static', 'tf2_msgs/TFMessage (base_link -> <CAMERA>_optical)',
          'TF_STATIC_QOS (latched)', 'out', ('perception',), 'once (`publish_camera_frames`)'),
)

# What replay_bag publishes besides the stack's inputs: a generated scenario's ground truth
# (topic names as generate_scenarios writes them), for RViz and Foxglove, and the clock.
REPLAY_TOPICS = {
    'ground_truth/agents': 'visualization_msgs/msg/MarkerArray',
    'ground_truth/expert_trajectory': 'nav_msgs/msg/Path',
    '/clock': 'rosgraph_msgs/msg/Clock',
}
# Not recorded by default: 6.8 MB per observation; its images are in the input bag.
NOT_RECORDED = ('observation',)


def node_by_key(key: str) -> NodeDescription:
    """Return the node called ``key`` (short key or node name); ValueError lists the known ones."""
    for node in NODES:
        if key in (node.key, node.name):
            return node
    raise ValueError(f'unknown node {key!r}: one of {", ".join(n.key for n in NODES)}')


def normalize_namespace(namespace: str) -> str:
    """Return an absolute namespace ('' and '/' are the root namespace)."""
    namespace = namespace.strip().strip('/')
    return '/' + namespace


def resolve_topic(namespace: str, name: str) -> str:
    """Absolute name of a relative topic inside ``namespace`` (absolute names stay)."""
    if name.startswith('/'):
        return name
    return normalize_namespace(namespace).rstrip('/') + '/' + name


def parse_bool(text: str) -> bool:
    """Read a launch-argument boolean ('true'/'false', any case)."""
    lowered = str(text).strip().lower()
    if lowered in ('true', '1', 'yes'):
        return True
    if lowered in ('false', '0', 'no'):
        return False
    raise ValueError(f'expected true or false, got {text!r}')


def parse_override(text: str) -> Tuple[str, str, Any]:
    """Split ``node.param=value`` into (node key, parameter, YAML-typed value)."""
    target, separator, literal = text.partition('=')
    node_key, dot, param = target.partition('.')
    if not separator or not dot or not param:
        raise ValueError(f'--params-override {text!r}: expected node.param=value')
    return node_by_key(node_key).key, param, yaml.safe_load(literal) if literal else ''


@dataclass(frozen=True)
class StackOptions:
    """What the user chose: launch arguments plus nodes to run and extra overrides."""

    model_path: str = ''
    device: str = ''
    rig_file: str = ''
    topic_map: str = ''
    use_sim_time: bool = False
    namespace: str = DEFAULT_NAMESPACE
    params_file: str = ''
    log_level: str = 'info'
    nodes: Tuple[str, ...] = tuple(node.key for node in NODES)
    overrides: Tuple[Tuple[str, str, Any], ...] = ()   # (node key, param, value)

    def __post_init__(self):
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f'log level {self.log_level!r} is not one of {list(LOG_LEVELS)}')
        for key in self.nodes:
            node_by_key(key)
        if not self.nodes:
            raise ValueError('no nodes selected')

    @classmethod
    def from_arguments(cls, values: Mapping[str, str], **extra) -> 'StackOptions':
        """Build options from launch-argument strings (missing ones take their defaults)."""
        given = {arg.name: values.get(arg.name, arg.default) for arg in ARGUMENTS}
        given[USE_SIM_TIME] = parse_bool(given[USE_SIM_TIME])
        return cls(**given, **extra)

    def argument_value(self, name: str) -> Any:
        """Value of the launch argument ``name``."""
        return getattr(self, name)


@dataclass(frozen=True)
class NodeLaunch:
    """One node, fully resolved: what to execute and with which ROS arguments."""

    node: NodeDescription
    executable_path: Path
    namespace: str
    params_file: Path
    overrides: Dict[str, Any] = field(default_factory=dict)
    user_params_file: Optional[Path] = None   # applied after params_file, before overrides
    remaps: Tuple[Tuple[str, str], ...] = ()
    log_level: str = 'info'

    def ros_args(self) -> List[str]:
        """``--ros-args`` for running this node in its own process."""
        args = ['--ros-args', '-r', f'__node:={self.node.name}', '-r', f'__ns:={self.namespace}']
        for params_file in self.params_files():
            args += ['--params-file', str(params_file)]
        for name, value in self.overrides.items():
            args += ['-p', f'{name}:={param_literal(value)}']
        for source, target in self.remaps:
            args += ['-r', f'{source}:={target}']
        return args + ['--log-level', self.log_level]

    def params_files(self) -> List[Path]:
        """Params files in the order ROS applies them: shipped defaults, then the user's."""
        return [self.params_file] + ([self.user_params_file] if self.user_params_file else [])

    def command(self) -> List[str]:
        """Full command line of this node's process."""
        return [str(self.executable_path)] + self.ros_args()

    @property
    def full_name(self) -> str:
        """Fully qualified node name, e.g. /autovla/planner_node."""
        return self.namespace.rstrip('/') + '/' + self.node.name


def param_literal(value: Any) -> str:
    """Write ``value`` as a ``-p name:=value`` literal that ROS reads back with the same type."""
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf).strip()
    return text[:-len('...')].strip() if text.endswith('...') else text


def load_rig_document(rig_path: Path) -> Dict[str, Any]:
    """Read the rig YAML (a ``cameras`` list; autovla_common.rig validates the rest)."""
    with open(rig_path, encoding='utf-8') as stream:
        document = yaml.safe_load(stream) or {}
    if not isinstance(document.get('cameras'), list):
        raise ValueError(f'{rig_path}: no cameras listed')
    return document


def camera_remaps(rig_path: Path) -> Tuple[Tuple[str, str], ...]:
    """(rig topic, source topic) for every camera of the rig that names a ``source_topic``."""
    remaps = []
    for camera in load_rig_document(rig_path)['cameras']:
        source = camera.get('source_topic')
        if source:
            remaps.append((str(camera['topic']), str(source)))
    return tuple(remaps)


def rig_topics(rig_path: Path) -> List[str]:
    """Topics (relative, as perception subscribes) of the rig's images and CameraInfo."""
    topics = []
    for camera in load_rig_document(rig_path)['cameras']:
        topics.append(str(camera.get('source_topic') or camera['topic']))
        if camera.get('camera_info_topic'):
            topics.append(str(camera['camera_info_topic']))
    return topics


def _share(package: str) -> Path:
    from ament_index_python.packages import get_package_share_directory
    return Path(get_package_share_directory(package))


def _prefix(package: str) -> Path:
    from ament_index_python.packages import get_package_prefix
    return Path(get_package_prefix(package))


@dataclass(frozen=True)
class InstallSpace:
    """Where packages live; ament_index by default, injectable for tests."""

    share: Callable[[str], Path] = _share
    prefix: Callable[[str], Path] = _prefix

    def executable(self, package: str, executable: str) -> Path:
        """Console script ``executable`` of ``package`` (lib/<package>/<executable>)."""
        return self.prefix(package) / 'lib' / package / executable

    def installed_executable(self, package: str, executable: str) -> Optional[Path]:
        """Like ``executable``, but None when the package or the script is not installed."""
        try:
            path = self.executable(package, executable)
        except LookupError:   # ament_index's PackageNotFoundError is a KeyError
            return None
        return path if path.exists() else None

    def params_file(self, node: NodeDescription) -> Path:
        """Return the params YAML that ``node``'s package installs."""
        return self.share(node.package) / 'config' / node.params_file

    def default_rig(self) -> Path:
        """Return the nuScenes rig this package installs (same source as perception's)."""
        return self.share(BRINGUP_PACKAGE) / 'config' / 'rigs' / DEFAULT_RIG


def describe(options: StackOptions, install: Optional[InstallSpace] = None) -> List[NodeLaunch]:
    """Resolve ``options`` into the nodes to run, in stack order."""
    install = install or InstallSpace()
    overrides: Dict[str, Dict[str, Any]] = {node.key: {} for node in NODES}
    for argument in ARGUMENTS:
        value = options.argument_value(argument.name)
        # Empty strings mean "keep the params YAML"; use_sim_time is always explicit.
        if value == '' or not argument.targets:
            continue
        for node_key, param in argument.targets:
            for key in (overrides if node_key == ALL_NODES else (node_key,)):
                overrides[key][param] = value
    for node_key, param, value in options.overrides:
        overrides[node_key][param] = value
    rig = Path(options.rig_file) if options.rig_file else install.default_rig()
    # Perception reads the map itself (camera transports); the other nodes get remaps.
    map_remaps = tuple(load_topic_map(Path(options.topic_map)).remaps()) \
        if options.topic_map else ()
    namespace = normalize_namespace(options.namespace)
    user_params_file = Path(options.params_file).expanduser() if options.params_file else None
    launches = []
    for node in NODES:
        if node.key not in options.nodes:
            continue
        launches.append(NodeLaunch(
            node=node, executable_path=install.executable(node.package, node.executable),
            namespace=namespace, params_file=install.params_file(node),
            overrides=overrides[node.key], user_params_file=user_params_file,
            remaps=camera_remaps(rig) if node.key == 'perception' else tuple(
                (name, mapped) for name, mapped in map_remaps if node.key in _readers(name)),
            log_level=options.log_level))
    return launches


def _readers(topic: str) -> Tuple[str, ...]:
    """Keys of the nodes that subscribe to the input ``topic`` (from TOPICS)."""
    return tuple(key for row in TOPICS if row.name == topic and row.direction == 'in'
                 for key in row.nodes)


def recorded_topics(namespace: str = DEFAULT_NAMESPACE) -> Dict[str, str]:
    """Absolute name -> type of everything the stack's nodes publish (observation aside)."""
    return {resolve_topic(namespace, topic.name): topic.message_type for topic in TOPICS
            if topic.direction == 'out' and topic.name not in NOT_RECORDED}


def published_topics(namespace: str, rig_path: Path) -> Dict[str, str]:
    """Absolute name -> type of every topic someone publishes in a running stack.

    The nodes' outputs, the inputs (the car's drivers or replay_bag), the rig's cameras and
    what replay_bag adds from a scenario bag.
    """
    topics = {resolve_topic(namespace, topic.name): topic.message_type for topic in TOPICS
              if topic.direction in ('in', 'out')}
    for camera in load_rig_document(rig_path)['cameras']:
        image_type = ('sensor_msgs/msg/CompressedImage'
                      if camera.get('transport', 'compressed') == 'compressed'
                      else 'sensor_msgs/msg/Image')
        topics[resolve_topic(namespace, camera.get('source_topic') or camera['topic'])] = \
            image_type
        if camera.get('camera_info_topic'):
            topics[resolve_topic(namespace, camera['camera_info_topic'])] = \
                'sensor_msgs/msg/CameraInfo'
    topics.update({resolve_topic(namespace, name): msg_type
                   for name, msg_type in REPLAY_TOPICS.items()})
    return topics


def select_nodes(text: str) -> Tuple[str, ...]:
    """Parse ``perception,planner`` into node keys (node names accepted too)."""
    return tuple(node_by_key(part.strip()).key for part in text.split(',') if part.strip())


def describe_overrides(launches: Sequence[NodeLaunch]) -> Dict[str, Dict[str, Any]]:
    """Params-file document with every node's overrides, keyed by full node name."""
    return {launch.full_name: {'ros__parameters': dict(launch.overrides)}
            for launch in launches if launch.overrides}
