"""The topic map: which topics carry the stack's inputs (config/topic_maps/*.yaml).

One YAML, written once per recording or vehicle, read by perception (live), the bring-up
and launch files, replay and regression. The rig keeps calibration; the map keeps names::

    cameras:                       # every camera of the rig, by rig name
      CAM_FRONT: /CAM_FRONT/image_raw/compressed        # short form
      CAM_BACK: {image: /CAM_BACK/image_raw, transport: raw, camera_info: /CAM_BACK/info}
    odometry: /odom                # nav_msgs/Odometry
    route: /route                  # nav_msgs/Path, optional ('' = none)
    command: /driving_command      # autovla_msgs/DrivingCommand, optional
    objects: ''                    # visualization_msgs/MarkerArray boxes, optional (scoring)

Short form: the transport is 'compressed' when the name ends in '/compressed', else 'raw'.
Names may be relative (resolved in the stack's namespace) or absolute. ROS-free.
"""

from dataclasses import dataclass, replace
from pathlib import Path
import re
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import yaml

from autovla_common.rig import CameraRig

TRANSPORTS = ('raw', 'compressed')
# The stack's own input names: the default map (what the nodes subscribe to without a map).
DEFAULT_ODOMETRY = 'odometry'
DEFAULT_ROUTE = 'route'
DEFAULT_COMMAND = 'driving_command'
NUSCENES_CAMERAS = ('CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT', 'CAM_BACK',
                    'CAM_BACK_LEFT', 'CAM_BACK_RIGHT')
_KEYS = ('cameras', 'odometry', 'route', 'command', 'objects')
_CAMERA_KEYS = ('image', 'transport', 'camera_info')
# A ROS topic name: tokens of letters, digits and underscores (not starting with a digit),
# separated by single slashes, optionally absolute or starting with '~/'.
_TOPIC = re.compile(r'^(/|~/)?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$')


@dataclass(frozen=True)
class CameraTopics:
    """Where one camera's frames (and optionally its CameraInfo) arrive."""

    image: str
    transport: str = 'compressed'
    camera_info: str = ''     # empty: the rig's intrinsics


@dataclass(frozen=True)
class TopicMap:
    """Input topic names of the stack (see the module docstring)."""

    cameras: Tuple[Tuple[str, CameraTopics], ...]
    odometry: str = DEFAULT_ODOMETRY
    route: str = DEFAULT_ROUTE
    command: str = DEFAULT_COMMAND
    objects: str = ''

    def camera(self, name: str) -> CameraTopics:
        """Topics of camera ``name`` (KeyError naming the mapped cameras otherwise)."""
        for camera, topics in self.cameras:
            if camera == name:
                return topics
        raise KeyError(f'camera {name!r} is not in the topic map '
                       f'({", ".join(self.camera_names)})')

    @property
    def camera_names(self) -> List[str]:
        """Mapped camera names in map order."""
        return [name for name, _ in self.cameras]

    @property
    def image_topics(self) -> Dict[str, str]:
        """Image topic -> camera name."""
        return {topics.image: name for name, topics in self.cameras}

    def input_topics(self) -> List[str]:
        """Every topic the stack listens to through this map (cameras first)."""
        topics = []
        for _, camera in self.cameras:
            topics += [camera.image] + ([camera.camera_info] if camera.camera_info else [])
        return topics + [t for t in (self.odometry, self.route, self.command) if t]

    def check_cameras(self, rig_cameras: Iterable[str], where: str = 'topic map') -> None:
        """ValueError unless the map lists exactly the rig's cameras."""
        rig_cameras = list(rig_cameras)
        missing = [name for name in rig_cameras if name not in self.camera_names]
        extra = [name for name in self.camera_names if name not in rig_cameras]
        if missing or extra:
            raise ValueError(
                f'{where}: cameras do not match the rig ({", ".join(rig_cameras)}): '
                + '; '.join(part for part in (
                    f'not mapped: {", ".join(missing)}' if missing else '',
                    f'not in the rig: {", ".join(extra)}' if extra else '') if part))

    def apply_to_rig(self, rig: CameraRig, where: str = 'topic map') -> CameraRig:
        """Return the rig with camera topics, transports and CameraInfo topics from this map."""
        self.check_cameras(rig.names, where)
        return replace(rig, cameras=tuple(replace(
            camera, topic=self.camera(camera.name).image,
            transport=self.camera(camera.name).transport,
            camera_info_topic=self.camera(camera.name).camera_info) for camera in rig.cameras))

    def remaps(self) -> List[Tuple[str, str]]:
        """(default name, mapped name) of odometry and route where this map renames them."""
        return [(default, mapped) for default, mapped in (
            (DEFAULT_ODOMETRY, self.odometry), (DEFAULT_ROUTE, self.route))
            if mapped and mapped != default]


def default_image_topic(camera: str) -> str:
    """Return the stack's own name for a camera's JPEG stream (the default map)."""
    return f'cameras/{camera}/image/compressed'


def default_topic_map(cameras: Iterable[str] = NUSCENES_CAMERAS) -> TopicMap:
    """Return the map of the stack's own names (generated scenarios, the nuScenes rig)."""
    return TopicMap(tuple((name, CameraTopics(default_image_topic(name))) for name in cameras))


def _topic(value, where: str, optional: bool) -> str:
    if value is None and optional:
        return ''
    if not isinstance(value, str):
        raise ValueError(f'{where}: expected a topic name string, got {value!r}')
    if value == '' and optional:
        return ''
    if not _TOPIC.match(value):
        raise ValueError(f'{where}: {value!r} is not a valid ROS topic name')
    return value


def _camera(name: str, entry, where: str) -> CameraTopics:
    where = f'{where}: cameras.{name}'
    if isinstance(entry, str):
        image = _topic(entry, where, optional=False)
        return CameraTopics(image, 'compressed' if image.endswith('/compressed') else 'raw')
    if not isinstance(entry, Mapping):
        raise ValueError(f'{where}: expected a topic name or a mapping with '
                         f'{", ".join(_CAMERA_KEYS)}')
    unknown = sorted(set(entry) - set(_CAMERA_KEYS))
    if unknown:
        raise ValueError(f'{where}: unknown key(s) {", ".join(map(str, unknown))} '
                         f'(known: {", ".join(_CAMERA_KEYS)})')
    image = _topic(entry.get('image'), f'{where}.image', optional=False)
    transport = entry.get('transport', 'compressed' if image.endswith('/compressed') else 'raw')
    if transport not in TRANSPORTS:
        raise ValueError(f'{where}.transport: {transport!r} is not one of {", ".join(TRANSPORTS)}')
    return CameraTopics(image, transport,
                        _topic(entry.get('camera_info'), f'{where}.camera_info', optional=True))


def parse_topic_map(document, where: str = 'topic map') -> TopicMap:
    """Validate a loaded YAML document; ValueError names the file, the key and the problem."""
    if not isinstance(document, Mapping):
        raise ValueError(f'{where}: expected a mapping with {", ".join(_KEYS)}')
    unknown = sorted(set(document) - set(_KEYS))
    if unknown:
        raise ValueError(f'{where}: unknown key(s) {", ".join(map(str, unknown))} '
                         f'(known: {", ".join(_KEYS)})')
    cameras = document.get('cameras')
    if not isinstance(cameras, Mapping) or not cameras:
        raise ValueError(f'{where}: cameras must map each rig camera name to its topic')
    topic_map = TopicMap(
        tuple((str(name), _camera(str(name), entry, where)) for name, entry in cameras.items()),
        odometry=_topic(document.get('odometry', DEFAULT_ODOMETRY), f'{where}: odometry',
                        optional=False),
        route=_topic(document.get('route', ''), f'{where}: route', optional=True),
        command=_topic(document.get('command', ''), f'{where}: command', optional=True),
        objects=_topic(document.get('objects', ''), f'{where}: objects', optional=True))
    topics = topic_map.input_topics() + ([topic_map.objects] if topic_map.objects else [])
    repeated = sorted({topic for topic in topics if topics.count(topic) > 1})
    if repeated:
        raise ValueError(f'{where}: topic(s) used for more than one input: {", ".join(repeated)}')
    return topic_map


def load_topic_map(path: Path) -> TopicMap:
    """Read and validate a topic map YAML."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding='utf-8'))
    except OSError as error:
        raise ValueError(f'topic map {path}: cannot read it: {error.strerror}') from error
    except yaml.YAMLError as error:
        raise ValueError(f'topic map {path}: not valid YAML: {error}') from error
    return parse_topic_map(document, str(path))


def load_or_default(path: Optional[Path], cameras: Iterable[str] = NUSCENES_CAMERAS,
                    ) -> TopicMap:
    """Return the map at ``path``, or the default map of ``cameras`` when no path is given."""
    return load_topic_map(Path(path)) if path else default_topic_map(cameras)

