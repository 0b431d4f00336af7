"""Qwen2.5-VL video input: pixel budget resize, normalisation and patch layout, in numpy.

This does what transformers' Qwen2-VL video processor does (that one needs torchvision, which
this stack does not ship): each frame is resized to a multiple of patch_size * merge_size
inside a pixel budget, scaled to [0, 1], normalised with the CLIP mean/std, and the video is cut
into temporal_patch_size x patch_size x patch_size patches, ordered so that every
merge_size x merge_size group of patches is contiguous (the order the vision merger expects).
Resizing uses OpenCV bicubic interpolation, so pixels can differ slightly from the torchvision
path; the layout and sizes are identical.
"""

from dataclasses import dataclass
from typing import Tuple

from autovla_common.pixel_budget import smart_resize
import cv2
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
    height, width = smart_resize(frames.shape[1], frames.shape[2], min_pixels, max_pixels,
                                 geometry.factor)
    resized = np.stack([
        frame if frame.shape[:2] == (height, width)
        else cv2.resize(frame, (width, height), interpolation=cv2.INTER_CUBIC)
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
