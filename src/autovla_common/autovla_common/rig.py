"""Camera rig description (config/rigs/*.yaml): the one loader every package uses."""

from dataclasses import asdict, dataclass, replace
import math
from pathlib import Path
from typing import List, Tuple

import numpy as np
import yaml

TRANSPORTS = ('raw', 'compressed')


@dataclass(frozen=True)
class CameraSpec:
    """One camera of the rig: where it publishes, its intrinsics and its pose in base_link."""

    name: str
    topic: str
    transport: str
    camera_info_topic: str
    width: int
    height: int
    intrinsics: Tuple[float, float, float, float]   # fx, fy, cx, cy (px)
    translation: Tuple[float, float, float]         # m, optical origin in base_link
    rotation_xyzw: Tuple[float, float, float, float]  # optical frame -> base_link

    def resized(self, width: int, height: int) -> 'CameraSpec':
        """Return this camera for images of ``width`` x ``height`` showing the same view."""
        fx, fy, cx, cy = self.intrinsics
        sx, sy = width / self.width, height / self.height
        return replace(self, width=width, height=height,
                       intrinsics=(fx * sx, fy * sy, cx * sx, cy * sy))

    @property
    def camera_matrix(self) -> np.ndarray:
        """The 3x3 pinhole matrix K."""
        fx, fy, cx, cy = self.intrinsics
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    @property
    def rotation_matrix(self) -> np.ndarray:
        """3x3 rotation taking optical-frame vectors into base_link."""
        x, y, z, w = self.rotation_xyzw
        return np.array([
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ])

    def project(self, points_base_link: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Project (N, 3) base_link points to (N, 2) pixels and depth (m, > 0 in front)."""
        in_camera = (np.asarray(points_base_link, dtype=float) - self.translation) \
            @ self.rotation_matrix
        depth = in_camera[:, 2]
        with np.errstate(divide='ignore', invalid='ignore'):
            uv = (in_camera @ self.camera_matrix.T)[:, :2] / depth[:, None]
        return uv, depth


@dataclass(frozen=True)
class CameraRig:
    """An ordered set of cameras."""

    name: str
    cameras: Tuple[CameraSpec, ...]

    def camera(self, name: str) -> CameraSpec:
        """Return the camera called ``name`` (KeyError naming the known ones otherwise)."""
        for camera in self.cameras:
            if camera.name == name:
                return camera
        raise KeyError(f'camera {name!r} not in rig {self.name!r} '
                       f'({", ".join(self.names)})')

    @property
    def names(self) -> List[str]:
        """Camera names in rig order."""
        return [camera.name for camera in self.cameras]

    def resized(self, width: int, height: int) -> 'CameraRig':
        """Return the rig with every camera resized to ``width`` x ``height``."""
        return replace(self, cameras=tuple(c.resized(width, height) for c in self.cameras))


def save_rig(rig: CameraRig, path: Path, comment: str = '') -> None:
    """Write ``rig`` as a rig YAML that ``load_rig`` reads back unchanged."""
    cameras = [{key: list(value) if isinstance(value, tuple) else value
                for key, value in asdict(camera).items()} for camera in rig.cameras]
    header = ''.join(f'# {line}\n' for line in comment.splitlines())
    Path(path).write_text(header + yaml.safe_dump({'rig_name': rig.name, 'cameras': cameras},
                                                  sort_keys=False), encoding='utf-8')


def _floats(entry: dict, key: str, count: int, where: str) -> Tuple[float, ...]:
    values = entry.get(key)
    if not isinstance(values, list) or len(values) != count:
        raise ValueError(f'{where}: {key} must be a list of {count} numbers')
    values = tuple(float(v) for v in values)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f'{where}: {key} has a non-finite value')
    return values


def load_rig(path: Path) -> CameraRig:
    """Read and validate a rig YAML; errors name the file, camera and field."""
    with open(path, encoding='utf-8') as stream:
        document = yaml.safe_load(stream) or {}
    entries = document.get('cameras')
    if not isinstance(entries, list) or not entries:
        raise ValueError(f'{path}: no cameras listed')
    cameras = []
    for index, entry in enumerate(entries):
        where = f'{path}: camera {index} ({entry.get("name", "?")})'
        transport = entry.get('transport', 'compressed')
        if transport not in TRANSPORTS:
            raise ValueError(f'{where}: transport must be one of {TRANSPORTS}')
        width, height = int(entry.get('width', 0)), int(entry.get('height', 0))
        if width <= 0 or height <= 0:
            raise ValueError(f'{where}: width and height must be positive')
        rotation = _floats(entry, 'rotation_xyzw', 4, where)
        norm = math.sqrt(sum(v * v for v in rotation))
        if abs(norm - 1.0) > 1e-3:
            raise ValueError(f'{where}: rotation_xyzw is not a unit quaternion (norm {norm:.4f})')
        cameras.append(CameraSpec(
            name=str(entry['name']), topic=str(entry.get('topic', '')), transport=transport,
            camera_info_topic=str(entry.get('camera_info_topic', '') or ''),
            width=width, height=height,
            intrinsics=_floats(entry, 'intrinsics', 4, where),
            translation=_floats(entry, 'translation', 3, where),
            rotation_xyzw=tuple(v / norm for v in rotation)))
    names = [camera.name for camera in cameras]
    if len(set(names)) != len(names):
        raise ValueError(f'{path}: duplicate camera names')
    return CameraRig(name=str(document.get('rig_name', Path(path).stem)), cameras=tuple(cameras))
