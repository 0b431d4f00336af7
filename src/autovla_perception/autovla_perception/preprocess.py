"""Camera frame preprocessing: decode, convert and resize to the model's pixel budget.

ROS-free. Every function either returns an rgb8 image of exactly the requested size or
raises ``FrameError`` whose ``reason`` is the diagnostics counter it belongs to.
The output lives in an ``array.array('B')`` so that a ``sensor_msgs/Image`` can take it
as its ``data`` without another copy.
Resizing is the released model's own filter, Pillow bicubic (autovla_common.resample, bit-exact),
applied once from the decoded frame to the model's size, so the planner uses it unchanged.
"""

import array
from dataclasses import dataclass
from typing import Tuple

from autovla_common.resample import bicubic_resize
import cv2
import numpy as np

# DCT-domain scaling: the decoder produces 1/2, 1/4 or 1/8 of the source for much less work.
_REDUCED_RGB = {
    1: cv2.IMREAD_COLOR_RGB,
    2: (cv2.IMREAD_REDUCED_COLOR_2 & ~cv2.IMREAD_COLOR) | cv2.IMREAD_COLOR_RGB,
    4: (cv2.IMREAD_REDUCED_COLOR_4 & ~cv2.IMREAD_COLOR) | cv2.IMREAD_COLOR_RGB,
    8: (cv2.IMREAD_REDUCED_COLOR_8 & ~cv2.IMREAD_COLOR) | cv2.IMREAD_COLOR_RGB,
}

# Raw encodings accepted, with their channel count and bytes per channel.
RAW_ENCODINGS = {'rgb8': (3, 1), 'bgr8': (3, 1), 'mono8': (1, 1), 'mono16': (1, 2),
                 '16UC1': (1, 2)}
SIXTEEN_BIT = ('mono16', '16UC1')
MONO16_POLICIES = ('reject', 'convert')

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# JPEG start-of-frame markers (they carry the image size); C4, C8 and CC are not frames.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class FrameError(ValueError):
    """A frame that cannot be used; ``reason`` names the diagnostics counter."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class RgbImage:
    """An rgb8 image whose pixels live in ``data`` (row-major, no padding)."""

    width: int
    height: int
    data: array.array

    def view(self) -> np.ndarray:
        """Return the pixels as a (height, width, 3) uint8 array sharing ``data``."""
        return np.frombuffer(self.data, dtype=np.uint8).reshape(self.height, self.width, 3)


def decode_reduction(source: Tuple[int, int], target: Tuple[int, int],
                     max_upscale: float = 1.0) -> int:
    """Largest DCT reduction (1, 2, 4 or 8) whose output is still at least the target size.

    ``source`` and ``target`` are (width, height). ``max_upscale`` > 1 lets the reduced
    image be smaller than the target by up to that factor (the final resize enlarges it).
    """
    best = 1
    for reduction in (2, 4, 8):
        reduced_w, reduced_h = source[0] // reduction, source[1] // reduction
        if reduced_w * max_upscale >= target[0] and reduced_h * max_upscale >= target[1]:
            best = reduction
    return best


def encoded_size(data) -> Tuple[int, int]:
    """Read (width, height) from a JPEG or PNG header without decoding the image."""
    view = memoryview(data).cast('B')
    if bytes(view[:8]) == _PNG_SIGNATURE:
        if len(view) < 24:
            raise FrameError('corrupt_image', 'PNG header truncated')
        return (int.from_bytes(view[16:20], 'big'), int.from_bytes(view[20:24], 'big'))
    if bytes(view[:2]) != b'\xff\xd8':
        raise FrameError('corrupt_image', 'neither a JPEG nor a PNG stream')
    position = 2
    while position + 4 <= len(view):
        if view[position] != 0xFF:
            raise FrameError('corrupt_image', f'JPEG marker expected at byte {position}')
        marker = view[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        if marker in _JPEG_SOF:
            if position + 9 > len(view):
                break
            height = int.from_bytes(view[position + 5:position + 7], 'big')
            width = int.from_bytes(view[position + 7:position + 9], 'big')
            return width, height
        if marker == 0xDA:  # start of scan before any frame header
            break
        position += 2 + int.from_bytes(view[position + 2:position + 4], 'big')
    raise FrameError('corrupt_image', 'JPEG has no frame header')


def new_rgb_image(height: int, width: int) -> RgbImage:
    """Allocate a zeroed rgb8 image of the given size."""
    # Repeating a one-element array is a memset; array('B', bytes(n)) would copy n bytes.
    return RgbImage(width=width, height=height, data=array.array('B', [0]) * (height * width * 3))


def _resize_into(source: np.ndarray, out: RgbImage) -> None:
    target = out.view()
    if source.shape[:2] == target.shape[:2]:
        np.copyto(target, source)
    else:
        np.copyto(target, bicubic_resize(source, out.width, out.height))


def decode_compressed(data, expected_size: Tuple[int, int], target: Tuple[int, int],
                      max_upscale: float = 1.0) -> RgbImage:
    """Decode a JPEG/PNG of ``expected_size`` (w, h) into an rgb8 image of ``target`` (w, h)."""
    view = memoryview(data).cast('B')
    is_jpeg = bytes(view[:2]) == b'\xff\xd8'
    # libjpeg pads a truncated stream with grey and only warns: insist on the end marker.
    if is_jpeg and b'\xff\xd9' not in bytes(view[-16:]):
        raise FrameError('corrupt_image', 'JPEG stream truncated (no end-of-image marker)')
    reduction = decode_reduction(expected_size, target, max_upscale)
    decoded = cv2.imdecode(np.frombuffer(view, dtype=np.uint8), _REDUCED_RGB[reduction])
    # JPEG rounds a reduced side up, PNG (decoded, then shrunk) rounds it down.
    if decoded is None or decoded.ndim != 3 or any(
            abs(got - side / reduction) >= 1.0
            for got, side in zip(decoded.shape[:2], expected_size[::-1])):
        raise FrameError('corrupt_image', 'image data could not be decoded')
    out = new_rgb_image(target[1], target[0])
    _resize_into(decoded, out)
    return out


def convert_raw(data, encoding: str, width: int, height: int, step: int, big_endian: bool,
                target: Tuple[int, int], mono16_policy: str = 'reject') -> RgbImage:
    """Convert a raw ``sensor_msgs/Image`` payload into an rgb8 image of ``target`` (w, h)."""
    if encoding not in RAW_ENCODINGS:
        raise FrameError('unknown_encoding', f'encoding {encoding!r} is not one of '
                                             f'{sorted(RAW_ENCODINGS)}')
    if encoding in SIXTEEN_BIT and mono16_policy != 'convert':
        raise FrameError('unknown_encoding', f'16-bit encoding {encoding!r} rejected '
                                             '(set mono16_policy: convert to accept it)')
    if width <= 0 or height <= 0:
        raise FrameError('zero_size', f'image is {width}x{height}')
    channels, depth = RAW_ENCODINGS[encoding]
    row_bytes = width * channels * depth
    if step < row_bytes or len(data) < step * height:
        raise FrameError('corrupt_image', f'{len(data)} bytes with step {step} cannot hold '
                                          f'{width}x{height} {encoding}')
    rows = np.frombuffer(data, dtype=np.uint8, count=step * height).reshape(height, step)
    pixels = rows[:, :row_bytes]
    if depth == 2:
        dtype = np.dtype('>u2' if big_endian else '<u2')
        # Explicit 16 -> 8 bit conversion: keep the high byte (full range maps to 0..255).
        pixels = (pixels.view(dtype) >> 8).astype(np.uint8)
    pixels = pixels.reshape(height, width, channels)
    out = new_rgb_image(target[1], target[0])
    if channels == 1:
        small = bicubic_resize(pixels[:, :, 0], *target) if (width, height) != target \
            else pixels[:, :, 0]
        cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_GRAY2RGB, dst=out.view())
        return out
    _resize_into(pixels, out)
    if encoding == 'bgr8':
        cv2.cvtColor(out.view(), cv2.COLOR_BGR2RGB, dst=out.view())
    return out


def scale_intrinsics(intrinsics: Tuple[float, float, float, float], source: Tuple[int, int],
                     target: Tuple[int, int]) -> Tuple[float, float, float, float]:
    """Scale (fx, fy, cx, cy) from a ``source`` (w, h) image to a ``target`` (w, h) image.

    Pixel centres map as (u + 0.5) * s - 0.5, the convention Pillow and cv2.resize follow.
    """
    fx, fy, cx, cy = intrinsics
    sx, sy = target[0] / source[0], target[1] / source[1]
    return fx * sx, fy * sy, (cx + 0.5) * sx - 0.5, (cy + 0.5) * sy - 0.5
