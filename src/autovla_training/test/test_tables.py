"""rft_tables: the columns from frame rows, and rows reused only for the same weights."""

import math

from autovla_training.tables import cached, closed_loop_summary, markdown, summary
import pytest


def frame(pdms, collision, complex_, slow, latency_ms, l2=1.0):
    return {'scenario': 'curve', 'seed': 0, 'pdms': pdms, 'collision': collision,
            'comfort': 1.0, 'complex': complex_, 'slow': slow, 'l2_3s': l2,
            'latency_ms': latency_ms}


def test_columns_split_complex_and_simple_frames():
    rows = [frame(1.0, 0.0, True, 1.0, 100.0), frame(0.0, 1.0, True, 0.0, 300.0),
            frame(0.5, 0.0, False, 0.0, 200.0), frame(0.5, 0.0, False, 0.0, 400.0)]
    columns = summary(rows)
    assert columns['frames'] == 4
    assert columns['PDMS'] == pytest.approx(0.5)
    assert columns['PDMS complex'] == pytest.approx(0.5)
    assert columns['collisions'] == pytest.approx(0.25)
    assert columns['slow complex'] == pytest.approx(0.5)
    assert columns['slow simple'] == pytest.approx(0.0)
    assert columns['latency mean (ms)'] == pytest.approx(250.0)
    assert columns['latency p95 (ms)'] == pytest.approx(385.0)   # numpy's linear percentile
    table = markdown('t', {'m': columns})
    assert '| m | 4 | 0.500 | 0.500 | 0.250 |' in table


def test_a_row_is_measured_again_only_when_weights_or_settings_change(tmp_path):
    calls = []

    def measure():
        calls.append(1)
        return [len(calls)]

    path = tmp_path / 'row.json'
    assert cached(path, {'sha256': 'a', 'stride': 3}, measure) == [1]
    assert cached(path, {'sha256': 'a', 'stride': 3}, measure) == [1]
    assert cached(path, {'sha256': 'b', 'stride': 3}, measure) == [2]
    assert cached(path, {'sha256': 'b', 'stride': 2}, measure) == [3]
    assert len(calls) == 3


def test_closed_loop_rows_pool_the_answer_latencies_of_all_runs():
    runs = [{'driving_score': 100.0, 'pdms': 1.0, 'at_fault_collisions': 0, 'slow_share': 0.0,
             'answer_ms': [100.0, 300.0]},
            {'driving_score': 50.0, 'pdms': 0.0, 'at_fault_collisions': 1, 'slow_share': 0.5,
             'answer_ms': [200.0]}]
    row = closed_loop_summary(runs)
    assert row['runs'] == 2 and row['driving score'] == 75.0 and row['at-fault collisions'] == 1
    assert row['answer mean (ms)'] == 200.0
    assert row['answer p95 (ms)'] == pytest.approx(290.0)
    stored_before_latencies = [{k: v for k, v in runs[0].items() if k != 'answer_ms'}]
    assert math.isnan(closed_loop_summary(stored_before_latencies)['answer mean (ms)'])
