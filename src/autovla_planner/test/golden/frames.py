"""Synthetic camera frames of the golden fidelity fixtures (numpy only, deterministic).

Both tools/make_golden_fixtures.py (in its scratch environment with the official pins) and
the golden tests build their input frames here, so the fixtures need not store 1600x900 inputs.
Content: smooth shading, sharp diagonal edges, a fine checkerboard and hashed noise, so a
resize filter that differs from PIL bicubic shows up in the pixel statistics.
"""

import numpy as np


def camera_frame(width: int, height: int, index: int) -> np.ndarray:
    """Frame ``index`` of a synthetic video as (height, width, 3) uint8 RGB."""
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    shade = 128 + 100 * np.sin((x + 40 * index) / 37.0) * np.cos(y / 53.0)
    edges = ((x * 3 + y * 5 + 64 * index) % 251).astype(np.float64)
    checker = 255.0 * (((x // 3) + (y // 3) + index) % 2)
    noise = ((x * 2654435761 + y * 40503 + index * 97) >> 11) % 256
    red = shade
    green = np.where(y < height // 2, edges, checker)
    blue = 0.5 * shade + 0.5 * noise
    frame = np.stack([red, green, blue], axis=-1)
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)
