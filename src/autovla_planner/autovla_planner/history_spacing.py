"""Say when the frame history the model sees is spaced unlike what it was trained on.

AutoVLA was trained on 4 frames per camera at 2 Hz. Keyframe-only recordings can only give
frames further apart (perception then sets the observation's history_rate_hz to the real
spacing); the plan's explanation carries that, so nobody reads such a plan as nominal.
"""

import math

TRAINED_HISTORY_RATE_HZ = 2.0
SPACING_TOLERANCE_S = 0.05


def spacing_note(history_rate_hz: float,
                 trained_rate_hz: float = TRAINED_HISTORY_RATE_HZ) -> str:
    """Return a sentence on the real frame spacing, or '' when it matches training."""
    if not math.isfinite(history_rate_hz) or history_rate_hz <= 0:
        return ''
    seen, trained = 1.0 / history_rate_hz, 1.0 / trained_rate_hz
    if abs(seen - trained) <= SPACING_TOLERANCE_S:
        return ''
    return (f'History frames were {seen:.2f} s apart; the model was trained on '
            f'{trained:.2f} s.')
