import math

from autovla_perception.ego import EgoEstimator, OdometrySample, yaw_from_quaternion
from autovla_perception.preprocess import FrameError
import numpy as np
import pytest

from autovla_perception import route

DT_NS = 20_000_000  # 50 Hz


def sample(n, vx, vy=0.0, yaw_rate=0.0, x=0.0):
    return OdometrySample(n * DT_NS, x, 0.0, 0.0, vx, vy, yaw_rate)


def test_constant_acceleration_is_recovered():
    estimator = EgoEstimator(time_constant_s=0.3)
    for n in range(150):   # 3 s at 2 m/s^2
        estimator.update(sample(n, 1.0 + 2.0 * n * DT_NS * 1e-9))
    state = estimator.state()
    assert state.acceleration_x == pytest.approx(2.0, abs=1e-3)
    assert state.acceleration == pytest.approx(2.0, abs=1e-3)
    assert state.speed == pytest.approx(1.0 + 2.0 * 149 * 0.02)


def test_steady_turn_shows_centripetal_acceleration():
    estimator = EgoEstimator(time_constant_s=0.3)
    for n in range(100):
        estimator.update(sample(n, 10.0, yaw_rate=0.2))
    state = estimator.state()
    assert state.acceleration_x == pytest.approx(0.0, abs=1e-9)
    assert state.acceleration == pytest.approx(2.0)   # v * omega = 10 * 0.2
    assert state.yaw_rate == 0.2


def test_noise_is_smoothed():
    rng = np.random.default_rng(0)
    estimator = EgoEstimator(time_constant_s=0.3)
    for n in range(200):
        estimator.update(sample(n, 10.0 + rng.normal(0, 0.05)))
    # Raw differences of 0.05 m/s noise at 50 Hz are ~3.5 m/s^2; filtered stays small.
    assert estimator.state().acceleration < 0.5


def test_nan_and_old_stamps_are_rejected():
    estimator = EgoEstimator(0.3)
    with pytest.raises(FrameError) as error:
        estimator.update(sample(0, float('nan')))
    assert error.value.reason == 'bad_odometry' and estimator.state() is None
    estimator.update(sample(5, 1.0))
    with pytest.raises(FrameError) as error:
        estimator.update(sample(4, 1.0))
    assert error.value.reason == 'stamp_backwards'


def test_yaw_from_quaternion():
    half = math.radians(90) / 2
    assert yaw_from_quaternion(0, 0, math.sin(half), math.cos(half)) == pytest.approx(math.pi / 2)


def test_to_base_link():
    local = route.to_base_link(np.array([[10.0, 15.0], [11.0, 5.0]]), (10.0, 5.0, math.pi / 2))
    np.testing.assert_allclose(local, [[10.0, 0.0], [0.0, -1.0]], atol=1e-12)


def test_route_ahead_starts_at_the_closest_point():
    line = np.array([[-10.0, 1.0], [100.0, 1.0]])
    ahead = route.route_ahead(line, lookahead_m=50.0, spacing_m=2.0)
    assert len(ahead) == 26
    np.testing.assert_allclose(ahead[0], [0.0, 1.0])
    np.testing.assert_allclose(ahead[-1], [50.0, 1.0])
    assert len(route.route_ahead(np.array([[1.0, 1.0], [1.0, 1.0]]), 50.0, 2.0)) == 0


def turn(sign):
    """Straight for 10 m, then a 90 degree arc of radius 10 m to the left (+1) or right (-1)."""
    angles = np.linspace(0, math.pi / 2, 20)
    arc = np.stack([10 + 10 * np.sin(angles), sign * 10 * (1 - np.cos(angles))], axis=1)
    return np.vstack([[[-5.0, 0.0], [0.0, 0.0]], arc, arc[-1] + [0.0, sign * 30.0]])


@pytest.mark.parametrize('points,expected', [
    (turn(+1), route.TURN_LEFT),
    (turn(-1), route.TURN_RIGHT),
    (np.array([[0.0, 0.0], [100.0, 0.0]]), route.KEEP_FORWARD),
    # Lane change: 3.5 m to the left over 20 m, then straight again.
    (np.array([[0.0, 0.0], [10.0, 0.0], [30.0, 3.5], [100.0, 3.5]]), route.KEEP_FORWARD),
    (np.array([[0.0, 0.0]]), route.UNKNOWN),
])
def test_command_from_route(points, expected):
    assert route.command_from_route(points, lookahead_m=30.0, threshold_rad=0.5) == expected
