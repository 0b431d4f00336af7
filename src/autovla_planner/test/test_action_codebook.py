import math
import os
import pickle

from autovla_planner.action_codebook import ActionCodebook, box_corners
import numpy as np
import pytest

RADIUS = 10.0
ARC = 0.1  # rad turned per token on the constant-turn token


def token_to(x, y, yaw, substeps=6):
    """Token whose sub-steps go linearly from the origin box to the box at (x, y, yaw)."""
    fractions = np.linspace(1.0 / substeps, 1.0, substeps)
    return np.stack([box_corners(f * x, f * y, f * yaw) for f in fractions])


@pytest.fixture
def codebook():
    return ActionCodebook(np.stack([
        token_to(0.0, 0.0, 0.0),                                               # 0: still
        token_to(2.0, 0.0, 0.0),                                               # 1: straight 2 m
        token_to(RADIUS * math.sin(ARC), RADIUS * (1 - math.cos(ARC)), ARC),   # 2: left arc
        token_to(1.0, 0.0, 0.0),                                               # 3: straight 1 m
    ]))


def test_straight_tokens_advance_along_x(codebook):
    poses = codebook.decode([1] * 10)
    np.testing.assert_allclose(poses[:, 0], 2.0 * np.arange(1, 11), atol=1e-9)
    np.testing.assert_allclose(poses[:, 1:], 0.0, atol=1e-9)


def test_constant_turn_stays_on_its_circle(codebook):
    poses = codebook.decode([2] * 10)
    angles = ARC * np.arange(1, 11)
    np.testing.assert_allclose(poses[:, 0], RADIUS * np.sin(angles), atol=1e-9)
    np.testing.assert_allclose(poses[:, 1], RADIUS * (1 - np.cos(angles)), atol=1e-9)
    np.testing.assert_allclose(poses[:, 2], angles, atol=1e-9)


def test_turn_then_straight_goes_along_the_new_heading(codebook):
    poses = codebook.decode([2, 1])
    x0, y0 = RADIUS * math.sin(ARC), RADIUS * (1 - math.cos(ARC))
    np.testing.assert_allclose(poses[1], [x0 + 2 * math.cos(ARC), y0 + 2 * math.sin(ARC), ARC],
                               atol=1e-9)


def test_still_token_stays_at_origin(codebook):
    np.testing.assert_allclose(codebook.decode([0] * 10), 0.0, atol=1e-12)


def test_invalid_ids_decode_as_the_still_token(codebook):
    np.testing.assert_allclose(codebook.decode([-3, 4, 99]), 0.0, atol=1e-12)
    np.testing.assert_allclose(codebook.decode([1, -1, 1])[-1], [4.0, 0.0, 0.0], atol=1e-9)


def test_encode_recovers_the_tokens_that_made_a_trajectory(codebook):
    ids = [1, 1, 2, 2, 3, 0, 2, 1, 3, 3]
    np.testing.assert_array_equal(codebook.encode(codebook.decode(ids)), ids)


def test_encode_picks_the_nearest_token_for_an_off_grid_pose(codebook):
    # 1.9 m straight ahead is nearest to the 2 m token, 1.2 m to the 1 m token.
    assert list(codebook.encode(np.array([[1.9, 0.0, 0.0], [3.1, 0.0, 0.0]]))) == [1, 3]


def test_npy_round_trip(codebook, tmp_path):
    codebook.save(tmp_path / 'cb.npy')
    loaded = ActionCodebook.load(tmp_path / 'cb.npy')
    np.testing.assert_allclose(loaded.decode([2, 1, 3]), codebook.decode([2, 1, 3]), atol=1e-5)


def test_official_pickle_layout_loads(codebook, tmp_path):
    path = tmp_path / 'agent_vocab.pkl'
    with open(path, 'wb') as stream:
        pickle.dump({'token_all': {'veh': codebook.tokens.astype(np.float32)}}, stream)
    assert ActionCodebook.load(path).size == 4


class _Exploit:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / 'evil.pkl'
    with open(path, 'wb') as stream:
        pickle.dump({'token_all': {'veh': _Exploit()}}, stream)
    with pytest.raises(pickle.UnpicklingError, match='refusing to load'):
        ActionCodebook.load(path)


@pytest.mark.parametrize('shape', [(4, 6, 3, 2), (4, 6, 4), (0, 6, 4, 2)])
def test_bad_shape_is_rejected(shape):
    with pytest.raises(ValueError, match='shape'):
        ActionCodebook(np.zeros(shape))


def test_nan_is_rejected():
    tokens = np.zeros((2, 6, 4, 2))
    tokens[1, 2, 0, 0] = np.nan
    with pytest.raises(ValueError, match='NaN'):
        ActionCodebook(tokens)


def test_same_motion_groups_tokens_that_end_close_together():
    tokens = np.stack([token_to(0.0, 0.0, 0.0), token_to(2.0, 0.0, 0.0),
                       token_to(2.1, 0.0, 0.0), token_to(2.0, 0.5, 0.0)])
    same = ActionCodebook(tokens).same_motion(0.25)
    # 2.0 m vs 2.1 m straight: every corner 0.1 m apart; 0.5 m sideways is another motion.
    expected = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=bool)
    np.testing.assert_array_equal(same, expected)
