"""What the planner core needs from one DrivingObservation, as plain data (no ROS types)."""

from dataclasses import dataclass
import math
from typing import Sequence, Tuple

import numpy as np

COMMANDS = ('UNKNOWN', 'TURN_LEFT', 'KEEP_FORWARD', 'TURN_RIGHT')  # DrivingCommand values 0..3


@dataclass(frozen=True)
class CameraVideo:
    """One camera's frame history: (T, H, W, 3) uint8 RGB, oldest first."""

    name: str
    frames: np.ndarray


@dataclass(frozen=True)
class Observation:
    """Cameras in prompt order plus the ego state and command the prompt mentions."""

    cameras: Tuple[CameraVideo, ...]
    speed: float          # m/s, magnitude of the planar velocity
    acceleration: float   # m/s^2, magnitude of the planar acceleration
    command: str          # one of COMMANDS

    def __post_init__(self):
        if self.command not in COMMANDS:
            raise ValueError(f'unknown driving command {self.command!r}')
        if not (math.isfinite(self.speed) and math.isfinite(self.acceleration)):
            raise ValueError('speed and acceleration must be finite')
        for camera in self.cameras:
            frames = camera.frames
            if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
                raise ValueError(f'camera {camera.name}: frames must be (T, H, W, 3) uint8, '
                                 f'got {frames.shape} {frames.dtype}')
            if frames.shape[0] < 1:
                raise ValueError(f'camera {camera.name}: no frames')


def select_cameras(available: Sequence[CameraVideo], names: Sequence[str],
                   frames_per_camera: int) -> Tuple[CameraVideo, ...]:
    """Pick the cameras the model expects, in its order, each with exactly ``frames_per_camera``.

    A short history (start-up) is padded at the front by repeating the oldest frame, the way a
    video that starts late would look; a longer one keeps the newest frames. A missing camera
    raises ValueError: the released model has never seen a prompt without one.
    """
    by_name = {camera.name: camera for camera in available}
    selected = []
    for name in names:
        if name not in by_name:
            raise ValueError(f'camera {name} missing from the observation')
        frames = by_name[name].frames[-frames_per_camera:]
        if len(frames) < frames_per_camera:
            padding = np.repeat(frames[:1], frames_per_camera - len(frames), axis=0)
            frames = np.concatenate([padding, frames])
        selected.append(CameraVideo(name, frames))
    return tuple(selected)
