import math
from pathlib import Path

from autovla_common.rig import load_rig
from autovla_perception.core import (
    Calibration,
    EncodedFrame,
    PerceptionConfig,
    PerceptionCore,
    SOURCE_ROUTE,
    SOURCE_TOPIC,
)
from autovla_perception.ego import OdometrySample
from autovla_perception.health import InputHealth
import cv2
import numpy as np
import pytest

from autovla_perception import route

RIG = load_rig(Path(__file__).resolve().parents[3] / 'config' / 'rigs' / 'nuscenes.yaml')
SECOND = 1_000_000_000
PERIOD = SECOND // 12


def config(**overrides):
    values = dict(
        cameras=RIG.cameras[:3], anchor_camera='CAM_FRONT', planning_rate_hz=12.0,
        sync_tolerance_s=0.06,
        history_length=4, history_rate_hz=2.0, max_wait_s=0.1, late_camera_policy='skip',
        min_pixels=109760, max_pixels=109760, max_decode_upscale=1.0, mono16_policy='reject',
        odometry_tolerance_s=0.2, acceleration_time_constant_s=0.3, route_lookahead_m=50.0,
        route_spacing_m=2.0, command_lookahead_m=30.0, command_threshold_rad=0.5,
        command_timeout_s=5.0)
    values.update(overrides)
    return PerceptionConfig(**values)


def jpeg_of(value, width=1600, height=900):
    image = np.full((height, width, 3), value, np.uint8)
    return EncodedFrame(True, cv2.imencode('.jpg', image)[1].tobytes(), 'jpeg', 'cam_optical')


FRAMES = {camera.name: jpeg_of(40 * (i + 1)) for i, camera in enumerate(RIG.cameras)}


class Harness:
    def __init__(self, **overrides):
        self.clock = [0.0]
        self.warnings = []
        self.core = PerceptionCore(config(**overrides), InputHealth(5.0, lambda: self.clock[0]),
                                   self.warnings.append)

    def feed(self, start_n, count, frames=FRAMES, skip=()):
        """Cameras at 12 Hz (arrival = stamp) and odometry at each camera tick."""
        for n in range(start_n, start_n + count):
            stamp = n * PERIOD
            for camera in self.core.config.cameras:
                if camera.name not in skip:
                    self.core.on_image(camera.name, stamp, stamp, frames[camera.name])
            self.core.on_odometry(OdometrySample(stamp, n * 0.5, 0.0, 0.0, 6.0, 0.0, 0.0),
                                  'odom')
        return (start_n + count - 1) * PERIOD


def test_complete_observation():
    h = Harness()
    left_turn = np.array([[0.0, 0.0], [20.0, 0.0], [30.0, 10.0], [30.0, 80.0]])
    h.core.on_route(left_turn, 'odom')
    anchor = h.feed(0, 30)
    result = h.core.step(anchor)
    assert result.status == 'ready'
    obs = result.observation
    assert obs.stamp_ns == anchor
    assert [c.spec.name for c in obs.cameras] == ['CAM_FRONT', 'CAM_FRONT_LEFT',
                                                  'CAM_FRONT_RIGHT']
    for index, camera in enumerate(obs.cameras):
        # 12 Hz: the frames 6 apart (0.5 s) from the anchor, frame 29.
        assert [f.stamp_ns for f in camera.frames] == [n * PERIOD for n in (11, 17, 23, 29)]
        for frame in camera.frames:
            assert (frame.image.width, frame.image.height) == (420, 224)
            assert abs(int(frame.image.view().mean()) - 40 * (index + 1)) <= 2
    fx, fy, cx, cy = obs.cameras[0].calibration.intrinsics
    assert fx == pytest.approx(1266.417203 * 420 / 1600)
    assert fy == pytest.approx(1266.417203 * 224 / 900)
    assert obs.ego.speed == pytest.approx(6.0)
    # Odometry put the car at x = 14.5 m: 5.5 m before the left bend.
    assert obs.command == route.TURN_LEFT and obs.command_source == SOURCE_ROUTE
    np.testing.assert_allclose(obs.route_points[0], [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(obs.route_points[1], [2.0, 0.0], atol=1e-9)
    assert h.core.step(anchor).status == 'no_new_anchor'


def test_history_frames_are_decoded_once_and_reused():
    h = Harness()
    anchor = h.feed(0, 30)
    first = h.core.step(anchor).observation
    anchor = h.feed(30, 6)    # 0.5 s later
    second = h.core.step(anchor).observation
    # The newest three frames of the first history are the oldest three of the second.
    assert [f.image.data for f in second.cameras[0].frames[:3]] == \
        [f.image.data for f in first.cameras[0].frames[1:]]
    assert second.cameras[0].frames[0].image.data is first.cameras[0].frames[1].image.data


def test_corrupt_frame_is_dropped_and_counted():
    h = Harness(late_camera_policy='publish_missing')
    anchor = h.feed(0, 29)
    broken = dict(FRAMES, CAM_FRONT_LEFT=EncodedFrame(
        True, FRAMES['CAM_FRONT_LEFT'].data[:5000], 'jpeg', 'cam'))  # truncated
    anchor = h.feed(29, 1, frames=broken)
    result = h.core.step(anchor + SECOND)
    assert result.status == 'ready'
    assert result.observation.cameras[1].missing
    assert not result.observation.cameras[0].missing
    assert h.core.health.counters['corrupt_image'] == 1
    assert h.core.health.counters['camera_missing'] == 1
    assert any('CAM_FRONT_LEFT' in w and 'corrupt_image' in w for w in h.warnings)
    # The hole stays in the history for 1.5 s; once it has passed, complete again.
    assert h.core.step(h.feed(30, 6)).status == 'waiting'
    anchor = h.feed(36, 18)
    assert not any(c.missing for c in h.core.step(anchor).observation.cameras)


@pytest.mark.parametrize('frame,reason', [
    (jpeg_of(10, 800, 450), 'size_mismatch'),
    (EncodedFrame(True, b'\x00' * 100, 'h264', 'cam'), 'unknown_encoding'),
    (EncodedFrame(True, b'\x00' * 100, 'jpeg', 'cam'), 'corrupt_image'),
    (EncodedFrame(False, b'', 'rgb8', 'cam', 0, 0, 0), 'zero_size'),
    (EncodedFrame(False, bytes(1600 * 900), 'bgra8', 'cam', 1600, 900, 6400), 'unknown_encoding'),
])
def test_bad_frames_never_enter_the_buffer(frame, reason):
    h = Harness()
    h.core.on_image('CAM_FRONT', 5, 5, frame)
    assert h.core.health.counters == {reason: 1}
    assert not h.core.sync.buffers['CAM_FRONT'].frames


def test_raw_frames_are_converted_on_arrival():
    h = Harness(cameras=RIG.cameras[:1], history_length=1)
    bgr = np.zeros((900, 1600, 3), np.uint8)
    bgr[..., 0] = 255
    h.core.on_image('CAM_FRONT', SECOND, SECOND, EncodedFrame(
        False, bgr.tobytes(), 'bgr8', 'cam', 1600, 900, 4800))
    h.core.on_odometry(OdometrySample(SECOND, 0, 0, 0, 0, 0, 0), 'odom')
    frame = h.core.step(SECOND).observation.cameras[0].frames[0]
    assert (frame.image.view() == [0, 0, 255]).all()


def test_late_camera_skips_after_the_deadline():
    h = Harness()
    anchor = h.feed(0, 30, skip=('CAM_FRONT_RIGHT',))
    assert h.core.step(anchor + 50_000_000).status == 'waiting'
    assert h.core.step(anchor + 100_000_000).status == 'skipped'
    assert h.core.health.counters['camera_missing'] == 1


def test_stale_or_nan_odometry_blocks_the_observation():
    h = Harness()
    anchor = h.feed(0, 30)
    h.core.on_odometry(OdometrySample(anchor + 1, math.nan, 0, 0, 1, 0, 0), 'odom')
    assert h.core.health.counters['bad_odometry'] == 1
    later = h.feed(30, 12)   # 1 s more of frames ...
    h.core.ego.reset()       # ... but the last odometry is from before them
    h.core.on_odometry(OdometrySample(anchor, 0, 0, 0, 1, 0, 0), 'odom')
    assert h.core.step(later).status == 'waiting'
    assert h.core.step(later + SECOND).status == 'stale_odometry'


def test_odometry_running_ahead_of_late_frames_after_a_jump_back_is_matched_by_stamp():
    """Issue 15 bug 5: after a backwards jump every anchor was skipped as stale_odometry.

    The newest odometry was compared with the anchor: odometry (50 Hz, small) arrives as it
    is stamped, camera frames arrive late, so it led the anchor by more than the tolerance.
    """
    h = Harness()
    h.feed(100, 30)                          # the old timeline, then the clock jumps back
    odometry_stamp = 0
    statuses = []
    for n in range(0, 30):
        stamp = n * PERIOD
        # Odometry is 0.4 s ahead of the frames that are arriving now.
        while odometry_stamp <= stamp + 400_000_000:
            h.core.on_odometry(OdometrySample(odometry_stamp, odometry_stamp * 6e-9, 0.0,
                                              0.0, 6.0, 0.0, 0.0), 'odom')
            odometry_stamp += 20_000_000
        for camera in h.core.config.cameras:
            h.core.on_image(camera.name, stamp, stamp, FRAMES[camera.name])
        result = h.core.step(stamp + 150_000_000)   # past max_wait
        statuses.append(result.status)
    assert 'stale_odometry' not in statuses, statuses
    assert statuses[-1] == 'ready'
    assert abs(result.observation.ego.stamp_ns - result.observation.stamp_ns) <= 10_000_000
    assert result.observation.ego.pose[0] == pytest.approx(29 * PERIOD * 6e-9, abs=0.07)


def test_bag_loop_resets_buffers_and_recovers():
    h = Harness()
    anchor = h.feed(0, 30)
    assert h.core.step(anchor).status == 'ready'
    h.feed(0, 12)   # the bag starts over
    assert h.core.health.counters['stamp_backwards'] >= 1
    assert h.core.step(anchor).status == 'warming_up'
    anchor = h.feed(12, 18)
    assert h.core.step(anchor).status == 'ready'


def test_explicit_command_wins_until_it_times_out():
    h = Harness()
    h.core.on_route(np.array([[0.0, 0.0], [200.0, 0.0]]), 'odom')
    anchor = h.feed(0, 30)
    h.core.on_command(route.TURN_RIGHT, 'take the exit', 7, anchor)
    obs = h.core.step(anchor).observation
    assert (obs.command, obs.command_source, obs.command_text) == (
        route.TURN_RIGHT, SOURCE_TOPIC, 'take the exit')
    anchor = h.feed(30, 6)
    obs = h.core.step(anchor + 6 * SECOND).observation
    assert (obs.command, obs.command_source) == (route.KEEP_FORWARD, SOURCE_ROUTE)
    h.core.on_command(9, '', 0, 0)
    assert h.core.health.counters['bad_command'] == 1


def test_camera_info_of_an_unusable_size_is_ignored_and_counted():
    h = Harness()
    before = h.core.calibrations['CAM_FRONT']
    h.core.set_calibration('CAM_FRONT', Calibration(5000, 10, (500.0, 500.0, 2500.0, 5.0)))
    assert h.core.health.counters == {'bad_camera_info': 1}
    assert h.core.calibrations['CAM_FRONT'] is before
    assert 'aspect ratio' in h.warnings[-1]
