"""Qwen2.5-VL's image sizing rule, shared by perception (which resizes) and the planner.

Perception resizes camera frames to exactly the size the planner's vision encoder would pick,
so the planner never resizes again: both must use this one function.
"""

import math
from typing import Tuple

PATCH = 28             # 14 px patches merged 2 x 2: image sides are multiples of 28
MAX_ASPECT_RATIO = 200  # Qwen2.5-VL refuses images more elongated than this


def smart_resize(height: int, width: int, min_pixels: int, max_pixels: int,
                 factor: int = PATCH) -> Tuple[int, int]:
    """Return (height, width): multiples of ``factor`` near the input, pixels in the budget.

    Round each side to the nearest multiple of ``factor``, then scale both sides by one
    factor so the area falls into [min_pixels, max_pixels] (rounding down when shrinking, up
    when growing). ValueError for an empty or absurdly elongated image.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f'image is {width}x{height}')
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ValueError(f'aspect ratio of {width}x{height} exceeds {MAX_ASPECT_RATIO}')
    new_height = max(factor, round(height / factor) * factor)
    new_width = max(factor, round(width / factor) * factor)
    if new_height * new_width > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        new_height = max(factor, math.floor(height / beta / factor) * factor)
        new_width = max(factor, math.floor(width / beta / factor) * factor)
    elif new_height * new_width < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        new_height = math.ceil(height * beta / factor) * factor
        new_width = math.ceil(width * beta / factor) * factor
    return new_height, new_width
