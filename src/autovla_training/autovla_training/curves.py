"""Training curves as a PNG, drawn with OpenCV (matplotlib is not a dependency)."""

from pathlib import Path
from typing import Dict, Sequence

import numpy as np

WIDTH, HEIGHT, MARGIN = 900, 420, 60
COLOURS = [(200, 80, 30), (40, 150, 40), (30, 30, 210), (150, 50, 150)]   # BGR


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` values (NaN skipped)."""
    values = np.asarray(values, dtype=float)
    out = np.empty(len(values))
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1):i + 1]
        chunk = chunk[np.isfinite(chunk)]
        out[i] = chunk.mean() if len(chunk) else np.nan
    return out


def plot_curves(path: Path, steps: Sequence[float], series: Dict[str, Sequence[float]],
                title: str, window: int = 20) -> None:
    """Write ``series`` (values in [0, 1] per step; moving average of ``window``) as a PNG."""
    import cv2

    image = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    left, right, top, bottom = MARGIN, WIDTH - 20, 40, HEIGHT - MARGIN
    cv2.rectangle(image, (left, top), (right, bottom), (0, 0, 0), 1)
    for tick in np.linspace(0.0, 1.0, 6):
        y = int(bottom - tick * (bottom - top))
        cv2.line(image, (left, y), (right, y), (225, 225, 225), 1)
        cv2.putText(image, f'{tick:.1f}', (8, y + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    steps = np.asarray(steps, dtype=float)
    span = max(float(steps[-1] - steps[0]), 1.0) if len(steps) else 1.0
    for tick in np.linspace(0.0, 1.0, 5):
        x = int(left + tick * (right - left))
        label = f'{(steps[0] if len(steps) else 0) + tick * span:.0f}'
        cv2.putText(image, label, (x - 10, bottom + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, 'training step (observation groups)', (left + 250, HEIGHT - 12),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(image, title + f', moving mean of {window}', (left, 25),
                cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for number, (name, values) in enumerate(series.items()):
        colour = COLOURS[number % len(COLOURS)]
        smooth = np.clip(moving_average(values, window), 0.0, 1.0)
        points = [(int(left + (s - steps[0]) / span * (right - left)),
                   int(bottom - v * (bottom - top)))
                  for s, v in zip(steps, smooth) if np.isfinite(v)]
        if len(points) > 1:
            cv2.polylines(image, [np.array(points, np.int32)], False, colour,
                          max(1, 3 - number), cv2.LINE_AA)   # later series thinner, on top
        cv2.putText(image, name, (right - 330 + 110 * number, 25),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OSError(f'cannot write {path}')
