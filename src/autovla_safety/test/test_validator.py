"""Each validator check fires on the fault it names, with its reason, and not on a good plan."""

import dataclasses
import math

from autovla_safety.trajectory import EgoState, Plan
from autovla_safety.validator import validate_plan
import numpy as np
import pytest

NOW = 100.0


def straight_plan(speed=5.0, count=10, **changes):
    """10 points 0.5 s apart along +x at a constant speed, stamped 0.2 s ago."""
    t = 0.5 * np.arange(1, count + 1)
    zeros = np.zeros(count)
    plan = Plan(stamp=NOW - 0.2, frame_id='base_link', t=t, x=speed * t, y=zeros.copy(),
                yaw=zeros.copy(), velocity=np.full(count, speed), acceleration=zeros.copy(),
                curvature=zeros.copy(), confidence=0.9)
    return dataclasses.replace(plan, **changes)


def ego(speed=5.0):
    return EgoState(NOW - 0.2, 10.0, 20.0, 0.3, speed)


def names(plan, config, ego_state=None, route=None, validator=None):
    faults = validate_plan(plan, NOW, ego_state or ego(), route, config.vehicle,
                           validator or config.validator)
    return {fault.name: fault.reason for fault in faults}


def with_point(values, index, value):
    values = values.copy()
    values[index] = value
    return values


def test_a_drivable_plan_passes(config):
    assert names(straight_plan(), config) == {}


def circle_plan(radius, speed):
    t = 0.5 * np.arange(1, 11)
    angle = speed * t / radius
    return straight_plan(speed=speed, x=radius * np.sin(angle),
                         y=radius - radius * np.cos(angle), yaw=angle)


BASE = straight_plan()
CASES = {
    'frame': dict(frame_id='map'),
    'nan_or_inf': dict(y=with_point(BASE.y, 4, math.nan)),
    'point_count': dict(t=BASE.t[:1], x=BASE.x[:1], y=BASE.y[:1], yaw=BASE.yaw[:1],
                        velocity=BASE.velocity[:1], acceleration=BASE.acceleration[:1],
                        curvature=BASE.curvature[:1]),
    'time_not_monotonic': dict(t=with_point(BASE.t, 5, BASE.t[4])),
    'point_spacing': dict(t=with_point(BASE.t, 9, BASE.t[8] + 2.0)),
    'speed_limit': dict(velocity=np.full(10, 20.0)),
    'reverse_motion': dict(velocity=with_point(BASE.velocity, 9, -1.0)),
    'acceleration': dict(acceleration=with_point(BASE.acceleration, 3, 4.0)),
    'jerk': dict(acceleration=np.array([0, 2.4, -4.0, 2.4, 0, 0, 0, 0, 0, 0])),
    'curvature': dict(curvature=np.full(10, 0.5)),
    'lateral_acceleration': dict(curvature=np.full(10, 0.15)),  # 25 * 0.15 = 3.75 m/s^2
    'steering_rate': dict(curvature=np.array([0, 0.2, 0, 0.2, 0, 0.2, 0, 0.2, 0, 0.2])),
    'first_point_deviation': dict(y=with_point(BASE.y, 0, 3.0)),
    'low_confidence': dict(confidence=0.1),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_each_check_names_its_fault(config, name):
    found = names(dataclasses.replace(BASE, **CASES[name]), config)
    assert name in found, found
    assert found[name]


def test_nan_reason_names_the_field(config):
    found = names(straight_plan(y=with_point(BASE.y, 4, math.nan), confidence=math.inf), config)
    assert found == {'nan_or_inf': 'non-finite values in y, confidence'}


def test_speed_is_also_checked_from_the_geometry(config):
    # Reported 5 m/s, but the points are 20 m/s apart: the geometry gives it away.
    found = names(straight_plan(x=20.0 * BASE.t), config)
    assert 'speed_limit' in found and '20.00' in found['speed_limit']


def test_acceleration_is_also_checked_from_the_speeds(config):
    velocity = np.array([5, 5, 5, 8, 8, 8, 8, 8, 8, 8.0])  # +3 m/s in 0.5 s = 6 m/s^2
    found = names(straight_plan(velocity=velocity), config, ego_state=ego(5.0))
    assert 'acceleration' in found and '6.00' in found['acceleration']


def test_curvature_is_also_checked_from_the_headings(config):
    # Radius 3 m, tighter than the 4.6 m the steering allows; reported curvature is zero.
    found = names(circle_plan(3.0, 3.0), config, ego_state=ego(3.0))
    assert 'curvature' in found


def test_a_feasible_curve_passes(config):
    # Radius 20 m at 5 m/s: 1.25 m/s^2 lateral, curvature 0.05 < 0.218.
    plan = dataclasses.replace(circle_plan(20.0, 5.0), curvature=np.full(10, 0.05))
    assert names(plan, config) == {}


@pytest.mark.parametrize('stamp,words', [(NOW - 3.0, 'old'), (NOW + 1.0, 'future')])
def test_trajectory_age(config, stamp, words):
    found = names(straight_plan(stamp=stamp), config)
    assert 'trajectory_age' in found and words in found['trajectory_age']


def test_unknown_pose_at_stamp_is_a_fault(config):
    faults = validate_plan(straight_plan(), NOW, None, None, config.vehicle, config.validator)
    assert [fault.name for fault in faults] == ['no_pose_at_stamp']


def test_route_deviation_is_optional(config):
    # Ego at (10, 20) heading 0.3 rad; the plan runs 2.5..25 m ahead along that heading.
    along = np.column_stack([10.0 + np.cos(0.3) * np.arange(0, 60.0),
                             20.0 + np.sin(0.3) * np.arange(0, 60.0)])
    beside = along + 5.0 * np.array([-math.sin(0.3), math.cos(0.3)])
    assert names(straight_plan(), config, route=beside) == {}  # off by default
    checking = dataclasses.replace(config.validator, max_route_deviation=1.0)
    assert names(straight_plan(), config, route=along, validator=checking) == {}
    found = names(straight_plan(), config, route=beside, validator=checking)
    assert 'route_deviation' in found and '5.00' in found['route_deviation']
