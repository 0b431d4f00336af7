"""The report shows a slow plan's whole reasoning, line by line, and a fast plan's sentence."""

from autovla_replay.report import explanation_html


def test_reasoning_keeps_its_lines_and_is_escaped():
    reasoning = ('Slow thinking: 1. Scene analysis: a red light <50 m> ahead.\n'
                 '2. Critical objects: a traffic light 36 m ahead on the right.\n'
                 '5. Final action: move forward, deceleration.')
    rendered = explanation_html(reasoning)
    assert rendered.count('<br>') == 2
    assert '&lt;50 m&gt;' in rendered and '<50' not in rendered
    assert rendered.split('<br>')[2] == '5. Final action: move forward, deceleration.'


def test_fast_sentence_and_missing_explanation():
    fast = 'Fast thinking: move forward, stop (target speed 0.0 m/s, now 0.0 m/s).'
    assert explanation_html(fast) == fast
    assert explanation_html('') == '<i>none</i>'
