"""Explanations: the reasoning itself in slow mode, and its short form for the RViz marker."""

from autovla_planner.explanation import (
    MARKER_CHARS,
    marker_text,
    MARKER_WIDTH,
    slow_explanation,
)

SLOW_SENTENCE = 'This is a complex scenario requiring additional reasoning.\n'
FIVE_PARTS = ('1. Scene analysis: A straight two-lane road; a zebra crossing lies 26 m ahead. '
              'It is daytime. We are travelling at 6.9 m/s.\n'
              '2. Critical objects: a pedestrian 26 m ahead on the right.\n'
              '3. Prediction: The pedestrian is walking across the road.\n'
              '4. Intent: we should slow down so the pedestrian can cross safely.\n'
              '5. Final action: move forward, deceleration.')


def test_slow_explanation_is_the_reasoning_without_the_mode_sentence():
    explanation = slow_explanation((SLOW_SENTENCE + FIVE_PARTS).strip(), SLOW_SENTENCE)
    assert explanation == 'Slow thinking: ' + FIVE_PARTS
    assert slow_explanation(SLOW_SENTENCE.strip(), SLOW_SENTENCE) == \
        'Slow thinking: (no reasoning generated)'


def test_marker_shows_the_decision_parts_of_structured_reasoning():
    text = marker_text('slow', 'Slow thinking: ' + FIVE_PARTS)
    assert text.startswith('[slow] 4. Intent: we should slow down')
    assert 'Scene analysis' not in text and 'deceleration.' in text
    assert all(len(line) <= MARKER_WIDTH for line in text.split('\n'))
    assert any(line.startswith('5. Final action:') for line in text.split('\n'))


def test_marker_shortens_free_text_at_a_word_and_keeps_fast_sentences_whole():
    rambling = 'Slow thinking: ' + ' '.join(f'word{i}' for i in range(200))
    text = marker_text('slow', rambling)
    flat = text.replace('\n', ' ')
    assert flat.endswith('…') and len(flat) <= len('[slow] ') + MARKER_CHARS
    assert flat[:-1].split()[-1].startswith('word')            # cut between words
    fast = 'Fast thinking: move forward, deceleration (target speed 3.0 m/s, now 6.0 m/s).'
    assert marker_text('fast', fast).replace('\n', ' ') == '[fast] ' + fast
