"""Localization jump check: poses against the measured motion (expected values by hand)."""

import math

from autovla_safety.localization import localization_jump
from autovla_safety.trajectory import EgoState
import pytest


@pytest.fixture
def check(config):
    # Defaults: 1.0 m, 0.1 rad; vehicle: 2.5 / 5.0 m/s^2, max curvature tan(0.55) / 2.8.
    return lambda previous, current: localization_jump(previous, current, config.localization,
                                                       config.vehicle)


def test_driving_at_the_measured_speed_is_consistent(check):
    previous = EgoState(10.0, 0.0, 0.0, 0.0, 10.0)
    assert check(previous, EgoState(10.02, 0.2, 0.0, 0.0, 10.0)) is None
    # Heading 90 deg: the same 0.2 m, along y.
    north = EgoState(10.0, 5.0, 5.0, math.pi / 2, 10.0)
    assert check(north, EgoState(10.02, 5.0, 5.2, math.pi / 2, 10.0)) is None
    assert check(None, previous) is None


def test_a_teleport_sideways_and_a_standing_car_moving_are_jumps(check):
    previous = EgoState(10.0, 0.0, 0.0, 0.0, 10.0)
    reason = check(previous, EgoState(10.02, 0.2, 100.0, 0.0, 10.0))
    assert reason is not None and 'moved 100.00 m' in reason
    standing = EgoState(10.0, 0.0, 0.0, 0.0, 0.0)
    assert check(standing, EgoState(10.02, 1.2, 0.0, 0.0, 0.0)) is not None
    assert check(standing, EgoState(10.02, 0.9, 0.0, 0.0, 0.0)) is None   # within 1.0 m


def test_heading_jump_beyond_what_the_steering_allows(check):
    previous = EgoState(10.0, 0.0, 0.0, 0.0, 10.0)
    # Allowed: 0.1 + 0.218 1/m * 10 m/s * 0.02 s = 0.144 rad.
    assert check(previous, EgoState(10.02, 0.2, 0.0, 0.14, 10.0)) is None
    reason = check(previous, EgoState(10.02, 0.2, 0.0, 0.5, 10.0))
    assert reason is not None and 'heading turned 0.500 rad' in reason


def test_a_gap_allows_for_acceleration_and_a_stamp_going_back_is_not_judged(check):
    previous = EgoState(10.0, 0.0, 0.0, 0.0, 0.0)
    # 1 s at 5 m/s^2 braking/accelerating: 2.5 m + 1.0 m tolerance.
    assert check(previous, EgoState(11.0, 3.4, 0.0, 0.0, 0.0)) is None
    assert check(previous, EgoState(11.0, 3.6, 0.0, 0.0, 0.0)) is not None
    assert check(previous, EgoState(5.0, 500.0, 0.0, 0.0, 0.0)) is None
