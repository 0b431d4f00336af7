"""A plan's explanation: the model's own reasoning in slow mode, and its short RViz form.

The explanation topic and PlannedTrajectory.explanation carry the whole text: in slow mode
"Slow thinking: " and the reasoning the model generated (its opening "this is a complex
scenario" sentence dropped: the prefix says it), in fast mode the meta-action sentence
(trajectory.fast_explanation). The RViz text marker floats above the car, so it gets a short
form: for reasoning in the five-part structure the intent and final-action parts (the
decision and why), otherwise the reasoning's last sentences; at most MARKER_CHARS characters,
cut at a word with an ellipsis.
"""

import re
from typing import List

SLOW_PREFIX = 'Slow thinking: '
MARKER_CHARS = 240
MARKER_WIDTH = 60
# The decision parts of the five-part structure ("4. Intent: ...", "5. Final action: ...").
DECISION_PARTS = re.compile(r'^\s*[45]\.\s', re.MULTILINE)


def slow_explanation(reasoning: str, slow_sentence: str) -> str:
    """Return the explanation of a slow plan: its reasoning without the mode sentence."""
    body = reasoning.strip()
    if body.startswith(slow_sentence.strip()):
        body = body[len(slow_sentence.strip()):].strip()
    return SLOW_PREFIX + (body or '(no reasoning generated)')


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = re.split(r'\s(?=\S*$)', text[:limit - 1])[0]
    return cut.rstrip(' ,;:') + '…'


def marker_text(mode: str, explanation: str) -> str:
    """Short, wrapped form of ``explanation`` for the RViz text marker."""
    text = explanation
    if text.startswith(SLOW_PREFIX):
        reasoning = text[len(SLOW_PREFIX):]
        starts = [match.start() for match in DECISION_PARTS.finditer(reasoning)]
        if starts:
            text = reasoning[starts[0]:]
        else:
            sentences = re.split(r'(?<=[.!?])\s+', reasoning.strip())
            text = ' '.join(sentences[-2:])
    lines = [' '.join(line.split()) for line in text.splitlines() if line.strip()]
    return wrap(f'[{mode}] ' + _shorten('\n'.join(lines), MARKER_CHARS), MARKER_WIDTH)


def wrap(text: str, width: int) -> str:
    """Wrap ``text`` at word boundaries to lines of at most ``width`` characters."""
    lines: List[str] = []
    for paragraph in text.splitlines():
        current = ''
        for word in paragraph.split():
            if current and len(current) + 1 + len(word) > width:
                lines.append(current)
                current = word
            else:
                current = f'{current} {word}'.strip()
        lines.append(current)
    return '\n'.join(lines)
