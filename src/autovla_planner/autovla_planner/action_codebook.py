"""The AutoVLA action codebook: discrete 0.5 s motion tokens, decoded by rollout.

Format (same as the released ``agent_vocab.pkl['token_all']['veh']``): an array of shape
(K, S, 4, 2). Token k is one 0.5 s motion segment stored as the 4 corners (x, y in m) of a
4.8 m x 2.0 m box at S sub-steps, expressed in the frame of the pose where the segment starts
(x forward, y left). Only the last sub-step matters for decoding. The heading of a box is the
direction from corner 3 to corner 0, so our own codebooks order the corners front-left,
front-right, rear-right, rear-left.

Decoding is the official rollout: start at (0, 0, 0); for each token move the box corners into
the current pose; the new position is their mean and the new yaw the direction of
corner 0 - corner 3. Because that is a rigid transform, each token reduces to a fixed local
pose step (dx, dy, dyaw), which is what ``decode`` composes.
"""

import importlib.resources
import io
import math
from pathlib import Path
import pickle
from typing import Sequence, Union

import numpy as np

SEGMENT_SECONDS = 0.5
BOX_LENGTH_M = 4.8
BOX_WIDTH_M = 2.0
STILL_TOKEN = 0  # the codebook's "no motion" token; invalid ids decode as this one


def box_corners(x: float, y: float, yaw: float, length: float = BOX_LENGTH_M,
                width: float = BOX_WIDTH_M) -> np.ndarray:
    """Return the (4, 2) corners front-left, front-right, rear-right, rear-left of a box pose."""
    half_l, half_w = length / 2.0, width / 2.0
    local = np.array([[half_l, half_w], [half_l, -half_w], [-half_l, -half_w], [-half_l, half_w]])
    cos_yaw, sin_yaw = math.cos(yaw), math.sin(yaw)
    rotation = np.array([[cos_yaw, -sin_yaw], [sin_yaw, cos_yaw]])
    return local @ rotation.T + np.array([x, y])


def wrap_angle(angle):
    """Wrap radians to [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2.0 * np.pi) - np.pi


def advance(pose: Sequence[float], step: Sequence[float]) -> tuple:
    """Apply a local pose step (dx, dy, dyaw) to a pose (x, y, yaw); return the new pose."""
    x, y, yaw = pose
    dx, dy, dyaw = step
    cos_yaw, sin_yaw = math.cos(yaw), math.sin(yaw)
    return (x + cos_yaw * dx - sin_yaw * dy, y + sin_yaw * dx + cos_yaw * dy,
            float(wrap_angle(yaw + dyaw)))


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and plain containers and nothing else."""

    _ALLOWED = {
        ('numpy', 'ndarray'), ('numpy', 'dtype'),
        ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
        ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
        ('collections', 'OrderedDict'),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f'refusing to load {module}.{name} from a codebook pickle')


class ActionCodebook:
    """K motion tokens; converts between token indices and ego-frame poses."""

    def __init__(self, tokens: np.ndarray):
        tokens = np.asarray(tokens, dtype=np.float64)
        if tokens.ndim != 4 or tokens.shape[2:] != (4, 2) or tokens.shape[0] < 1:
            raise ValueError(f'codebook must have shape (K, S, 4, 2), got {tokens.shape}')
        if not np.all(np.isfinite(tokens)):
            raise ValueError('codebook contains NaN or Inf')
        self.tokens = tokens
        last = tokens[:, -1]                      # (K, 4, 2) corners after 0.5 s
        heading = last[:, 0] - last[:, 3]
        # Local pose step of each token: (dx, dy, dyaw) in the frame where the segment starts.
        self.steps = np.column_stack([last.mean(axis=1),
                                      np.arctan2(heading[:, 1], heading[:, 0])])

    @property
    def size(self) -> int:
        """Number of tokens K."""
        return self.tokens.shape[0]

    @classmethod
    def load(cls, path: Union[str, Path]) -> 'ActionCodebook':
        """Load a ``.npy`` array, or the official pickle (key path token_all/veh), safely."""
        path = Path(path)
        if path.suffix == '.npy':
            return cls(np.load(path, allow_pickle=False))
        if path.suffix in ('.pkl', '.pickle'):
            with open(path, 'rb') as stream:
                document = _NumpyOnlyUnpickler(io.BytesIO(stream.read())).load()
            try:
                return cls(document['token_all']['veh'])
            except (KeyError, TypeError) as error:
                raise ValueError(f'{path}: no token_all/veh array in the pickle') from error
        raise ValueError(f'{path}: codebook must be .npy or the official .pkl')

    def save(self, path: Union[str, Path]) -> None:
        """Write the codebook as a .npy array (float32)."""
        np.save(Path(path), self.tokens.astype(np.float32), allow_pickle=False)

    def same_motion(self, tolerance_m: float) -> np.ndarray:
        """(K, K) bool: tokens whose 0.5 s motions end within ``tolerance_m`` of each other.

        Distance = mean distance of the 4 box corners after the last sub-step (both tokens
        start from the same pose, so this compares where the car ends up). Computed in row
        blocks to stay within a few tens of MB for K = 2048.
        """
        last = self.tokens[:, -1]
        result = np.zeros((self.size, self.size), dtype=bool)
        for start in range(0, self.size, 128):
            block = last[start:start + 128, None]                      # (b, 1, 4, 2)
            distance = np.linalg.norm(block - last[None], axis=3).mean(axis=2)
            result[start:start + 128] = distance <= tolerance_m
        return result

    def sanitize(self, indices: Sequence[int]) -> np.ndarray:
        """Map indices outside [0, K) to the still token, as the official decoder does."""
        indices = np.asarray(indices, dtype=np.int64)
        return np.where((indices >= 0) & (indices < self.size), indices, STILL_TOKEN)

    def decode(self, indices: Sequence[int]) -> np.ndarray:
        """Roll tokens out from (0, 0, 0); return (N, 3) poses x, y, yaw after each 0.5 s."""
        poses = np.zeros((len(indices), 3))
        pose = (0.0, 0.0, 0.0)
        for row, step in enumerate(self.steps[self.sanitize(indices)]):
            pose = advance(pose, step)
            poses[row] = pose
        return poses

    def encode(self, poses: np.ndarray) -> np.ndarray:
        """Match each 0.5 s pose (N, 3) to the token whose end corners are closest.

        Each step starts from the pose the previously matched token reaches (not the true
        pose), so decoding the result stays close to the input without drift.
        """
        last_corners = self.tokens[:, -1]
        indices = np.zeros(len(poses), dtype=np.int64)
        x, y, yaw = 0.0, 0.0, 0.0
        for row, (tx, ty, tyaw) in enumerate(np.asarray(poses, dtype=np.float64)):
            cos_yaw, sin_yaw = math.cos(yaw), math.sin(yaw)
            local_x = cos_yaw * (tx - x) + sin_yaw * (ty - y)
            local_y = -sin_yaw * (tx - x) + cos_yaw * (ty - y)
            target = box_corners(local_x, local_y, float(wrap_angle(tyaw - yaw)))
            distance = np.linalg.norm(last_corners - target, axis=2).sum(axis=1)
            indices[row] = int(np.argmin(distance))
            x, y, yaw = advance((x, y, yaw), self.steps[indices[row]])
        return indices


def default_codebook_path() -> Path:
    """Return the path of the codebook shipped with the package (data/default_codebook.npy)."""
    return Path(str(importlib.resources.files('autovla_planner') / 'data' /
                    'default_codebook.npy'))
