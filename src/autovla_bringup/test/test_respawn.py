"""Respawn policy of autovla_bringup: backoff, and giving up a crash-looping node."""

from autovla_bringup.respawn import (
    RESPAWN_DELAY_S,
    RESPAWN_MAX_DELAY_S,
    RESPAWN_STABLE_S,
    RespawnPolicy,
    RestartRecord,
)
import pytest


def test_backoff_doubles_per_short_run_and_a_stable_run_starts_it_again():
    record = RestartRecord(RespawnPolicy(max_restarts=100, window_s=1.0))
    delays = [record.after_exit(now=10.0 * k, ran_s=0.5) for k in range(8)]
    assert delays == [min(RESPAWN_DELAY_S * 2 ** k, RESPAWN_MAX_DELAY_S) for k in range(8)]
    assert record.after_exit(now=100.0, ran_s=RESPAWN_STABLE_S + 1.0) == RESPAWN_DELAY_S


def test_a_node_restarted_max_times_within_the_window_is_given_up():
    record = RestartRecord(RespawnPolicy(max_restarts=2, window_s=60.0))
    assert record.after_exit(now=0.0, ran_s=1.0) is not None
    assert record.after_exit(now=5.0, ran_s=1.0) is not None
    assert record.after_exit(now=20.0, ran_s=1.0) is None
    assert record.restarts_in_window == 2


def test_restarts_older_than_the_window_do_not_count():
    record = RestartRecord(RespawnPolicy(max_restarts=2, window_s=60.0))
    assert record.after_exit(now=0.0, ran_s=1.0) is not None
    assert record.after_exit(now=30.0, ran_s=1.0) is not None
    # The restart at 0 s left the window: one restart counts, a third is allowed.
    assert record.after_exit(now=61.0, ran_s=1.0) is not None
    assert record.after_exit(now=75.0, ran_s=1.0) is None


def test_zero_restarts_gives_up_at_the_first_exit():
    assert RestartRecord(RespawnPolicy(max_restarts=0)).after_exit(0.0, 100.0) is None


@pytest.mark.parametrize('restarts, window', [(-1, 10.0), (3, 0.0), (3, float('nan'))])
def test_bad_policies_are_refused(restarts, window):
    with pytest.raises(ValueError):
        RespawnPolicy(restarts, window)
