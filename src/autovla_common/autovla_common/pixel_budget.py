"""Qwen2.5-VL's image sizing rule, shared by perception (which resizes) and the planner.

Perception resizes each camera frame once, from its native size, to the size the served
model's vision encoder picks (what qwen-vl-utils does for the released model). The planner
must not resize such a frame again: ``smart_resize`` is not idempotent when min = max pixels
(1600x900 -> 420x224, but 420x224 -> 476x252), so it checks ``is_budget_size`` first.
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


def is_budget_size(height: int, width: int, min_pixels: int, max_pixels: int,
                   factor: int = PATCH) -> bool:
    """Tell whether ``smart_resize`` can return (height, width) for some input at this budget.

    Such a frame was already sized for the model (by perception) and is used as it is.
    Shrinking yields sides with area <= max_pixels whose next step up would exceed it;
    growing yields area >= min_pixels whose next step down would fall short; inputs already
    inside the budget stay as they are.
    """
    if height <= 0 or width <= 0 or height % factor or width % factor:
        return False
    area = height * width
    if min_pixels <= area <= max_pixels:
        return True
    shrunk = area <= max_pixels < (height + factor) * (width + factor)
    grown = (height - factor) * (width - factor) < min_pixels <= area
    return shrunk or grown
