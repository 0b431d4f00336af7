import math

from autovla_planner.action_codebook import ActionCodebook, default_codebook_path
import autovla_planner.codebook_builder as builder
import numpy as np
import pytest

TOL = 0.05
DT = 1.0 / 12.0  # sub-step period
# Box corners front-left, front-right, rear-right, rear-left of a 4.8 x 2.0 m box at the origin.
ORIGIN_BOX = np.array([[2.4, 1.0], [2.4, -1.0], [-2.4, -1.0], [-2.4, 1.0]])


def box_at(x, y, yaw):
    """Corners written out by hand: rotate the origin box by yaw, then shift."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c * px - s * py + x, s * px + c * py + y] for px, py in ORIGIN_BOX])


def straight_segment(length):
    """Segment of a car moving ``length`` m straight ahead at constant speed in 0.5 s."""
    return np.stack([box_at(length * k / 6, 0.0, 0.0) for k in range(1, 7)])


def arc_segment(radius, angle):
    """Segment of a car turning left by ``angle`` on a circle of ``radius`` in 0.5 s."""
    return np.stack([box_at(radius * math.sin(angle * k / 6),
                            radius * (1 - math.cos(angle * k / 6)), angle * k / 6)
                     for k in range(1, 7)])


def brute_force_k_disk(segments, size, tolerance, seed):
    """Textbook greedy K-disk: compare every token with every segment, corner by corner."""
    tokens = [np.stack([ORIGIN_BOX] * 6)]
    covered = np.zeros(len(segments), dtype=bool)

    def cover(token):
        for i, segment in enumerate(segments):
            distances = [math.dist(segment[s, c], token[s, c]) for s in range(6) for c in range(4)]
            if sum(distances) / 24 <= tolerance:
                covered[i] = True

    cover(tokens[0])
    for index in np.random.default_rng(seed).permutation(len(segments)):
        if len(tokens) >= size:
            break
        if not covered[index]:
            tokens.append(segments[index])
            cover(segments[index])
    return np.stack(tokens), covered


@pytest.fixture
def three_groups():
    """50 noisy copies each of three far-apart motions; noise keeps each group within TOL."""
    rng = np.random.default_rng(7)
    centres = [straight_segment(2.0), straight_segment(5.0), arc_segment(12.0, 0.3)]
    groups = []
    for centre in centres:
        # A rigid shift of at most 0.02 m moves every corner by that much, so two members of a
        # group are at most 0.04 m apart and members of different groups are metres apart.
        shifts = rng.normal(size=(50, 2))
        shifts *= rng.uniform(0, 0.02, (50, 1)) / np.linalg.norm(shifts, axis=1, keepdims=True)
        groups.append(centre + shifts[:, None, None, :])
    return centres, np.concatenate(groups)


def test_three_separated_groups_give_still_plus_three_tokens(three_groups):
    centres, segments = three_groups
    result = builder.k_disk_cluster(segments, 2048, TOL, seed=0)
    assert len(result.tokens) == 4
    assert result.covered == result.segments == 150
    assert result.coverage == 1.0
    np.testing.assert_allclose(result.tokens[0], np.stack([ORIGIN_BOX] * 6))
    # One token per group, each within 0.02 m of its group centre.
    for centre in centres:
        distances = np.linalg.norm(result.tokens - centre, axis=-1).mean(axis=(1, 2))
        assert np.sum(distances <= 0.0201) == 1


def test_size_limit_stops_early_and_reports_partial_coverage(three_groups):
    _, segments = three_groups
    result = builder.k_disk_cluster(segments, 2, TOL, seed=0)
    assert len(result.tokens) == 2
    assert result.covered == 50   # still token covers none; the second token one group
    assert result.coverage == pytest.approx(1 / 3)


def test_still_segments_are_covered_by_token_zero():
    segments = np.stack([np.stack([ORIGIN_BOX] * 6)] * 5 + [straight_segment(3.0)])
    result = builder.k_disk_cluster(segments, 10, TOL, seed=3)
    assert len(result.tokens) == 2
    np.testing.assert_allclose(result.tokens[1], straight_segment(3.0))


@pytest.fixture(scope='module')
def drive_segments():
    trajectories = builder.synthetic_trajectories(12, seed=5, seconds=6.0)
    return np.concatenate([builder.extract_segments(t, stride=2) for t in trajectories])


def test_pruned_clustering_matches_brute_force(drive_segments):
    for size in (5, 40, 10_000):
        tokens, covered = brute_force_k_disk(drive_segments, size, TOL, seed=11)
        result = builder.k_disk_cluster(drive_segments, size, TOL, seed=11)
        np.testing.assert_array_equal(result.tokens, tokens)
        assert result.covered == covered.sum()


def test_every_segment_is_within_tolerance_when_k_is_large(drive_segments):
    result = builder.k_disk_cluster(drive_segments, 10_000, TOL, seed=2)
    assert len(result.tokens) < 10_000 and result.coverage == 1.0
    for segment in drive_segments:
        nearest = min(np.mean(np.hypot(*(segment - token).reshape(-1, 2).T))
                      for token in result.tokens)
        assert nearest <= TOL


def test_seed_makes_clustering_deterministic(drive_segments):
    first = builder.k_disk_cluster(drive_segments, 50, TOL, seed=4).tokens
    again = builder.k_disk_cluster(drive_segments, 50, TOL, seed=4).tokens
    other = builder.k_disk_cluster(drive_segments, 50, TOL, seed=5).tokens
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_straight_constant_speed_segments_end_at_v_times_half_a_second():
    speed = 10.0
    times = np.arange(0, 49) * DT
    trajectory = np.column_stack([speed * times, np.zeros_like(times), np.zeros_like(times)])
    segments = builder.extract_segments(trajectory)
    assert segments.shape == (8, 6, 4, 2)
    for segment in segments:
        np.testing.assert_allclose(segment, straight_segment(5.0), atol=1e-9)


def test_segments_are_in_the_start_frame_of_a_rotated_drive():
    # Straight at 6 m/s heading 2.0 rad from (30, -7): in every start frame it goes along +x.
    heading, times = 2.0, np.arange(0, 25) * DT
    trajectory = np.column_stack([30 + 6 * times * math.cos(heading),
                                  -7 + 6 * times * math.sin(heading),
                                  np.full_like(times, heading)])
    for segment in builder.extract_segments(trajectory, stride=1):
        np.testing.assert_allclose(segment, straight_segment(3.0), atol=1e-9)


def test_constant_turn_segment_follows_the_circle():
    radius, rate = 15.0, 0.4   # rad/s
    angles = rate * np.arange(0, 13) * DT + 1.0
    trajectory = np.column_stack([radius * np.sin(angles), -radius * np.cos(angles), angles])
    for segment in builder.extract_segments(trajectory):
        np.testing.assert_allclose(segment, arc_segment(radius, rate * 0.5), atol=1e-9)


def test_resample_from_ten_hertz_keeps_a_straight_drive_exact():
    times = np.arange(0, 31) * 0.1
    trajectory = np.column_stack([4 * times, 2 * times, np.full_like(times, math.atan2(2, 4))])
    resampled = builder.resample(trajectory, 0.1)
    assert len(resampled) == 37   # 3 s every 1/12 s, both ends included
    np.testing.assert_allclose(resampled[:, 0], 4 * np.arange(37) * DT, atol=1e-9)
    np.testing.assert_allclose(resampled[:, 1], 2 * np.arange(37) * DT, atol=1e-9)


def test_synthetic_drives_respect_speed_and_lateral_limits():
    trajectories = builder.synthetic_trajectories(300, seed=1)
    np.testing.assert_array_equal(trajectories, builder.synthetic_trajectories(300, seed=1))
    assert trajectories.shape == (300, 97, 3)
    steps = np.diff(trajectories, axis=1)
    distance = np.hypot(steps[..., 0], steps[..., 1])
    turn = np.abs((steps[..., 2] + np.pi) % (2 * np.pi) - np.pi)
    speed = distance / DT
    assert speed.max() <= 25.0 + 1e-9
    assert (speed < 0.01).any() and (speed > 20).any()      # stops and fast driving
    moving = distance > 0.01
    assert np.all(turn[moving] / distance[moving] <= 1 / 6 + 1e-6)   # 6 m minimum radius
    assert (turn[moving] / distance[moving]).max() > 0.1           # tight turns happen
    assert np.all(turn / DT * speed <= 4.5 + 0.1)                   # lateral acceleration


# ---------------------------------------------------------------- the shipped codebook

@pytest.fixture(scope='module')
def default_codebook():
    return ActionCodebook.load(default_codebook_path())


def test_default_codebook_shape_and_still_token(default_codebook):
    raw = np.load(default_codebook_path())
    assert raw.dtype == np.float32 and raw.shape == (2048, 6, 4, 2)
    np.testing.assert_allclose(raw[0], np.stack([ORIGIN_BOX] * 6))
    np.testing.assert_allclose(default_codebook.decode([0] * 10), 0.0, atol=1e-6)


def _ade(codebook, poses):
    decoded = codebook.decode(codebook.encode(poses))
    return np.linalg.norm(decoded[:, :2] - poses[:, :2], axis=1).mean()


def test_default_codebook_round_trips_hand_made_drives(default_codebook):
    times = 0.5 * np.arange(1, 11)
    straight = np.column_stack([10 * times, np.zeros(10), np.zeros(10)])
    radius, speed = 20.0, 6.0
    angles = speed * times / radius
    turn = np.column_stack([radius * np.sin(angles), radius * (1 - np.cos(angles)), angles])
    stopping = np.minimum(times, 4.0)              # 8 m/s braking at 2 m/s^2 stops after 4 s
    stop = np.column_stack([8 * stopping - stopping ** 2, np.zeros(10), np.zeros(10)])
    for poses in (straight, turn, stop):
        assert _ade(default_codebook, poses) < 0.1


# ---------------------------------------------------------------- command line

def test_cli_from_npz_builds_still_plus_one_token_per_speed(tmp_path, capsys):
    times = np.arange(0, 61) * 0.1
    drives = np.stack([np.column_stack([v * times, np.zeros(61), np.zeros(61)])
                       for v in (4.0, 4.0, 12.0)])
    parked = np.column_stack([np.full(41, 3.0), np.full(41, 1.0), np.full(41, 0.5)])
    np.savez(tmp_path / 'drives.npz', batch=drives, parked=parked)
    out, pickled = tmp_path / 'cb.npy', tmp_path / 'cb.pkl'
    code = builder.main(['--trajectories', str(tmp_path / 'drives.npz'), '--holdout', '0',
                         '--out', str(out), '--out-pickle', str(pickled)])
    assert code == 0
    tokens = np.load(out)
    assert tokens.shape == (3, 6, 4, 2)
    np.testing.assert_allclose(tokens[0], np.stack([ORIGIN_BOX] * 6), atol=1e-6)
    ends = sorted(ActionCodebook(tokens).steps[1:, 0])
    np.testing.assert_allclose(ends, [2.0, 6.0], atol=1e-5)
    np.testing.assert_array_equal(ActionCodebook.load(pickled).tokens, tokens)
    captured = capsys.readouterr()
    assert 'only 3 tokens' in captured.err
    # 6 s drives hold 12 segments of 0.5 s each, the 4 s parked one 8: 3 * 12 + 8.
    assert '3 tokens, 100.00 % of 44 segments' in captured.out


def test_cli_synthetic_reports_held_out_ade(tmp_path, capsys):
    out = tmp_path / 'small.npy'
    assert builder.main(['--synthetic', '60', '--size', '64', '--seed', '3',
                         '--out', str(out)]) == 0
    assert np.load(out).shape == (64, 6, 4, 2)
    summary = capsys.readouterr().out
    assert 'round-trip ADE' in summary and 'on 6 held-out 5 s windows' in summary


def test_cli_rejects_bad_npz(tmp_path, capsys):
    np.savez(tmp_path / 'bad.npz', poses=np.zeros((10, 2)))
    assert builder.main(['--trajectories', str(tmp_path / 'bad.npz'),
                         '--out', str(tmp_path / 'x.npy')]) == 1
    assert 'expected (T, 3)' in capsys.readouterr().err
    assert not (tmp_path / 'x.npy').exists()
