"""Bicubic resize that reproduces Pillow's ``Image.resize(size, BICUBIC)`` on uint8 images.

The released AutoVLA weights saw frames resized by qwen-vl-utils, i.e. Pillow bicubic: a
separable cubic convolution (a = -0.5) whose support widens with the shrink factor (so it
also low-passes), with 22-bit fixed-point weights and 8-bit rounding between the horizontal
and the vertical pass. OpenCV's INTER_CUBIC keeps a 4-tap kernel when shrinking and differs by
several levels on average. This module computes Pillow's weights the way Pillow does and
applies them as sparse matrices, so the result is bit-exact (checked against Pillow by the
golden fixtures) without Pillow as a dependency.
"""

import functools
import math
from typing import Tuple

import numpy as np
from scipy import sparse

PRECISION_BITS = 22                 # Pillow's fixed-point weights for 8-bit images
_ROUNDING = 1 << (PRECISION_BITS - 1)
_ONE = float(1 << PRECISION_BITS)
_SUPPORT = 2.0                      # bicubic kernel radius at scale 1


def _bicubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, written as Pillow evaluates it."""
    a = -0.5
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


@functools.lru_cache(maxsize=32)
def _weights(in_size: int, out_size: int, channels: int = 1) -> Tuple[sparse.csr_matrix, int, int]:
    """Fixed-point weights (out_size * channels x in_size * channels), first and end input.

    Interleaved channels are resampled independently (a Kronecker product with the identity).
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = _SUPPORT * filter_scale
    taps = int(math.ceil(support)) * 2 + 1
    centers = (np.arange(out_size) + 0.5) * scale
    # C casts truncate; the clamp at 0 makes truncation and floor agree.
    first = np.clip((centers - support + 0.5).astype(np.int64), 0, in_size)
    end = np.clip((centers + support + 0.5).astype(np.int64), 0, in_size)
    offsets = np.arange(taps)
    valid = offsets[None, :] < (end - first)[:, None]
    kernel = np.where(valid, _bicubic((first[:, None] + offsets[None, :] - centers[:, None]
                                       + 0.5) / filter_scale), 0.0)
    total = np.zeros(out_size)
    for tap in range(taps):   # sequential sum, as Pillow adds them (bit-exact weights)
        total += kernel[:, tap]
    kernel = kernel / np.where(total != 0.0, total, 1.0)[:, None]
    fixed = np.trunc(kernel * _ONE + np.where(kernel < 0, -0.5, 0.5)).astype(np.int64)
    # 32-bit sums suffice while the positive weights of a row stay below ~2 (bicubic: 1.1).
    positive = np.where(fixed > 0, fixed, 0).sum(axis=1).max()
    dtype = np.int32 if positive * 255 + _ROUNDING < 2 ** 31 else np.int64
    used = valid & (fixed != 0)   # zero weights add nothing
    rows = np.repeat(np.arange(out_size), taps)[used.ravel()]
    cols = (first[:, None] + offsets[None, :])[used]
    matrix = sparse.csr_matrix((fixed[used].astype(dtype), (rows, cols)),
                               shape=(out_size, in_size))
    if channels > 1:
        matrix = sparse.kron(matrix, sparse.identity(channels, dtype=dtype), format='csr')
    return matrix, int(first[0]), int(end[-1])


@functools.lru_cache(maxsize=32)
def _rows_weights(in_size: int, out_size: int) -> sparse.csr_matrix:
    """Vertical weights restricted to the rows they read (the horizontal pass's output)."""
    matrix, first, end = _weights(in_size, out_size)
    return matrix[:, first:end].tocsr()


def _apply(matrix: sparse.csr_matrix, pixels: np.ndarray) -> np.ndarray:
    """Resample the rows of a 2-D uint8 array with fixed-point ``matrix``; 8-bit result."""
    sums = matrix @ pixels.astype(matrix.dtype)
    sums += _ROUNDING
    np.right_shift(sums, PRECISION_BITS, out=sums)
    np.clip(sums, 0, 255, out=sums)
    return sums.astype(np.uint8)


def bicubic_resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a (H, W) or (H, W, C) uint8 image to (height, width) exactly as Pillow does."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f'expected a (H, W[, C]) uint8 image, got {image.shape} {image.dtype}')
    if width <= 0 or height <= 0 or 0 in image.shape:
        raise ValueError(f'cannot resize {image.shape[1]}x{image.shape[0]} to {width}x{height}')
    in_height, in_width = image.shape[:2]
    channels = image.shape[2] if image.ndim == 3 else 1
    out_shape = (height, width) + image.shape[2:]
    flat = image.reshape(in_height, in_width * channels)
    if in_width != width:   # horizontal pass over the rows the vertical pass reads
        horizontal, _, _ = _weights(in_width, width, channels)
        row_first, row_end = _weights(in_height, height)[1:]
        rows = np.ascontiguousarray(flat[row_first:row_end].T)
        flat = np.ascontiguousarray(_apply(horizontal, rows).T)
        if in_height != height:
            flat = _apply(_rows_weights(in_height, height), flat)
    elif in_height != height:
        flat = _apply(_weights(in_height, height)[0], flat)
    return np.ascontiguousarray(flat).reshape(out_shape)
