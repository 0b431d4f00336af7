"""Qwen2.5-VL video input: pixel budget resize, normalisation and patch layout, in numpy.

This does what qwen-vl-utils and transformers' Qwen2-VL processor do for the released model:
frames are scaled to [0, 1], normalised with the CLIP mean/std, and the video is cut into
temporal_patch_size x patch_size x patch_size patches, ordered so that every
merge_size x merge_size group of patches is contiguous (the order the vision merger expects).
Frames normally arrive already sized for the model (perception resized them once from the
camera's native size) and are used as they are; any other frame is resized here with the same
Pillow-exact bicubic filter. The golden fidelity tests hold the result to the official pixels.
"""

from dataclasses import dataclass
from typing import Tuple

from autovla_common.pixel_budget import is_budget_size, smart_resize
from autovla_common.resample import bicubic_resize
import numpy as np

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


@dataclass(frozen=True)
class PatchGeometry:
    """Patch sizes of a Qwen2.5-VL vision encoder (from its config)."""

    patch_size: int = 14
    temporal_patch_size: int = 2
    merge_size: int = 2

    @property
    def factor(self) -> int:
        """Side length (pixels) every resized frame dimension is a multiple of."""
        return self.patch_size * self.merge_size


def video_patches(frames: np.ndarray, geometry: PatchGeometry, min_pixels: int,
                  max_pixels: int) -> Tuple[np.ndarray, Tuple[int, int, int]]:
    """Turn (T, H, W, 3) uint8 RGB frames into (patches, (grid_t, grid_h, grid_w)).

    ``patches`` has shape (grid_t * grid_h * grid_w, 3 * temporal_patch_size * patch**2),
    float32, in the vision encoder's input order.
    """
    height, width = frames.shape[1:3]
    if not is_budget_size(height, width, min_pixels, max_pixels, geometry.factor):
        # smart_resize is not idempotent at a fixed budget: never resize a sized frame again.
        height, width = smart_resize(height, width, min_pixels, max_pixels, geometry.factor)
    resized = np.stack([
        frame if frame.shape[:2] == (height, width) else bicubic_resize(frame, width, height)
        for frame in frames])
    pixels = (resized.astype(np.float32) / 255.0 - CLIP_MEAN) / CLIP_STD
    pixels = pixels.transpose(0, 3, 1, 2)                       # (T, C, H, W)
    tps, patch, merge = geometry.temporal_patch_size, geometry.patch_size, geometry.merge_size
    remainder = len(pixels) % tps
    if remainder:  # pad time by repeating the newest frame, as the HF processor does
        pixels = np.concatenate([pixels, np.repeat(pixels[-1:], tps - remainder, axis=0)])
    grid_t, grid_h, grid_w = len(pixels) // tps, height // patch, width // patch
    blocks = pixels.reshape(grid_t, tps, 3, grid_h // merge, merge, patch,
                            grid_w // merge, merge, patch)
    blocks = blocks.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    patches = blocks.reshape(grid_t * grid_h * grid_w, 3 * tps * patch * patch)
    return np.ascontiguousarray(patches), (grid_t, grid_h, grid_w)
