"""Metric functions on hand-computed cases, both L2 conventions."""

import math

import numpy as np
import pytest

from autovla_replay import metrics


def test_l2_conventions_on_a_hand_computed_case():
    # Errors 0.5 m apart per 0.5 s step: 0.1, 0.2, ..., 0.6 m at 0.5 .. 3.0 s.
    errors = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
    uniad = metrics.at_horizons(errors, 0.5, 'uniad')
    stp3 = metrics.at_horizons(errors, 0.5, 'stp3')
    # UniAD: the value at 1 s (step 2), 2 s (step 4), 3 s (step 6).
    assert (uniad['1s'], uniad['2s'], uniad['3s']) == pytest.approx((0.2, 0.4, 0.6))
    # ST-P3: mean of steps 1..2 = 0.15, 1..4 = 0.25, 1..6 = 0.35.
    assert (stp3['1s'], stp3['2s'], stp3['3s']) == pytest.approx((0.15, 0.25, 0.35))
    assert stp3['avg'] == pytest.approx(0.25) and uniad['avg'] == pytest.approx(0.4)


def test_l2_averages_over_frames_and_skips_missing_steps():
    errors = np.array([[1.0, 3.0], [2.0, math.nan]])
    uniad = metrics.at_horizons(errors, 0.5, 'uniad', horizons=(0.5, 1.0))
    assert uniad['0.5s'] == pytest.approx(1.5)      # (1 + 2) / 2
    assert uniad['1s'] == pytest.approx(3.0)        # second frame has no 1 s step
    assert metrics.per_step_l2([[3.0, 4.0]], [[0.0, 0.0]]) == pytest.approx([5.0])
    with pytest.raises(ValueError):
        metrics.at_horizons(errors, 0.5, 'nuplan')


def test_collision_uses_the_nuscenes_ego_box():
    # Ego box 4.084 m long, 1.85 m wide, centred on the waypoint, heading +x.
    # Agent 1 x 1 m box centred 2.5 m ahead: its rear edge at 2.0 m, the ego front at 2.042 m.
    touching = metrics.ego_collisions(np.array([[0.0, 0.0, 0.0]]), [[(2.5, 0.0, 0.0, 1.0, 1.0)]])
    # Same box 2.6 m ahead: rear edge at 2.1 m, clear of 2.042 m.
    clear = metrics.ego_collisions(np.array([[0.0, 0.0, 0.0]]), [[(2.6, 0.0, 0.0, 1.0, 1.0)]])
    # Beside the ego: lateral gap 1.85 / 2 = 0.925 m to the edge; box edge at 1.0 - 0.5 = 0.5.
    beside = metrics.ego_collisions(np.array([[0.0, 0.0, 0.0]]), [[(0.0, 1.0, 0.0, 1.0, 1.0)]])
    assert list(touching) == [1.0] and list(clear) == [0.0] and list(beside) == [1.0]


def test_collision_rates_in_both_conventions_are_percent():
    rows = [np.array([0.0, 1.0, 1.0, 1.0, 0.0, 0.0])]
    tables = metrics.summarize_scores([np.zeros(6)], rows, 0.5)
    # UniAD at 1 s = step 2 = 100 %; ST-P3 at 1 s = mean(steps 1, 2) = 50 %.
    assert tables['collision_uniad']['1s'] == pytest.approx(100.0)
    assert tables['collision_stp3']['1s'] == pytest.approx(50.0)
    # 3 s: UniAD step 6 = 0 %; ST-P3 mean of six steps = 3 / 6 = 50 %.
    assert tables['collision_uniad']['3s'] == pytest.approx(0.0)
    assert tables['collision_stp3']['3s'] == pytest.approx(50.0)


def test_jerk_of_a_constant_acceleration_plan_is_zero_and_of_a_step_is_hand_computed():
    dt = 0.5
    t = np.arange(1, 7) * dt
    accelerating = np.column_stack([0.5 * 2.0 * t ** 2, np.zeros(6)])
    assert metrics.max_jerk(accelerating, dt) == pytest.approx(0.0, abs=1e-9)
    # Speeds 2, 2, 4 m/s (segments of 1, 1, 2 m): second difference 2 m/s / 0.25 s^2 = 8.
    assert metrics.max_jerk(np.array([[1.0, 0.0], [2.0, 0.0], [4.0, 0.0]]), dt) == \
        pytest.approx(8.0)


def test_time_in_modes_percentiles_and_mode_counts():
    statuses = [(0, 'NOMINAL'), (1_500_000_000, 'FALLBACK'), (2_000_000_000, 'NOMINAL'),
                (4_000_000_000, 'NOMINAL')]
    assert metrics.time_in_modes(statuses) == pytest.approx({'NOMINAL': 3.5, 'FALLBACK': 0.5})
    stats = metrics.percentiles([10.0, 20.0, 30.0, 40.0, 50.0])
    assert stats['p50'] == pytest.approx(30.0) and stats['max'] == 50.0
    assert stats['p90'] == pytest.approx(46.0)      # numpy linear: 40 + 0.6 * 10
    counts = metrics.ModeCounts(fast=6, slow=2).as_dict()
    assert counts['fast_slow_ratio'] == pytest.approx(3.0)
    assert counts['fast_share'] == pytest.approx(0.75)
    assert metrics.share([True, False, False, True]) == pytest.approx(0.5)
