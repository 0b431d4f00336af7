#!/usr/bin/env python3
"""Cost of one DrivingObservation from six 1600x900 JPEG cameras vs bare decode + resize.

Value: sync + decode + resize + DrivingObservation build for six cameras (history of one
frame, so every observation decodes six new JPEGs), parameters from
config/perception.yaml. Baseline, measured in the same run and
interleaved with the value: cv2.imdecode + cv2.resize of the same six JPEGs to the same
size. Extra figures: the 4-frame 2 Hz history of the released model in steady state
(six new frames per observation, the rest reused), max_decode_upscale 1.0 (1/2 instead
of 1/4 DCT decode for 1600x900 -> 420x224), the message serialisation, and the peak traced
memory of each loop.
Uses the real nuScenes frames in ../shared/data when present, generated JPEGs otherwise.
"""

from pathlib import Path
import resource
import statistics
import time
import tracemalloc

from autovla_common.bench import write_result
from autovla_common.params import load_defaults
from autovla_common.rig import load_rig
from autovla_perception.conversions import observation_msg
from autovla_perception.core import EncodedFrame, PerceptionConfig, PerceptionCore
from autovla_perception.ego import OdometrySample
from autovla_perception.health import InputHealth
import cv2
import numpy as np
from rclpy.serialization import serialize_message

from autovla_msgs.msg import DrivingObservation

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / 'shared' / 'data' / 'nuscenes_mmdet3d_sample'
RIG = load_rig(ROOT / 'config' / 'rigs' / 'nuscenes.yaml')
DEFAULTS = load_defaults(ROOT / 'config' / 'perception.yaml', 'perception_node')
TARGET = (420, 224)
ROUNDS = 40
PERIOD_NS = 500_000_000


def camera_jpegs():
    """Six JPEGs in rig order: the real nuScenes sample, or generated street-like noise."""
    files = [next(DATA.glob(f'*__{name}__*.jpg'), None) for name in RIG.names] \
        if DATA.is_dir() else []
    if files and all(files):
        return [f.read_bytes() for f in files], 'nuScenes sample frames'
    rng = np.random.default_rng(0)
    jpegs = []
    for _ in RIG.names:
        noise = cv2.resize(rng.integers(0, 255, (90, 160, 3), dtype=np.uint8), (1600, 900))
        jpegs.append(cv2.imencode('.jpg', noise, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return jpegs, 'generated JPEGs'


def make_core(history_length, max_decode_upscale):
    """Build a core with the YAML defaults and the given overrides."""
    params = dict(DEFAULTS, history_length=history_length, max_decode_upscale=max_decode_upscale)
    return PerceptionCore(PerceptionConfig.from_params(params, RIG.cameras),
                          InputHealth(5.0, time.monotonic), print)


class Pipeline:
    """Feeds the six JPEGs every 0.5 s (stamps) and builds one message per round."""

    def __init__(self, jpegs, history_length=1,
                 max_decode_upscale=DEFAULTS['max_decode_upscale']):
        self.core = make_core(history_length, max_decode_upscale)
        self.frames = [EncodedFrame(True, data, 'jpeg', name.lower())
                       for name, data in zip(RIG.names, jpegs)]
        self.stamp = 0
        self.core.on_route(np.array([[0.0, 0.0], [100.0, 0.0]]), 'odom')
        for _ in range(history_length - 1):   # warm-up: fill the history
            self.observation()

    def observation(self) -> DrivingObservation:
        """Feed the next round of frames and odometry; return the message built."""
        self.stamp += PERIOD_NS
        for name, frame in zip(RIG.names, self.frames):
            self.core.on_image(name, self.stamp, self.stamp, frame)
        self.core.on_odometry(OdometrySample(self.stamp, 0, 0, 0, 5.0, 0, 0), 'odom')
        result = self.core.step(self.stamp)
        return observation_msg(result.observation, 'base_link') if result.observation else None


def floor(jpegs):
    """Bare decode + resize of the six JPEGs (what any pipeline must at least do)."""
    for data in jpegs:
        cv2.resize(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), TARGET)


def timed(function):
    """Return the seconds one call of ``function`` takes."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def peak_traced_mb(function, rounds=5):
    """Return the peak traced allocation (MB) over ``rounds`` calls of ``function``."""
    tracemalloc.start()
    for _ in range(rounds):
        function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def main():
    """Measure value and floor interleaved and write the record."""
    jpegs, source = camera_jpegs()
    single = Pipeline(jpegs)
    assert single.observation() is not None, 'the benchmark pipeline produced no observation'
    history = Pipeline(jpegs, history_length=4)
    strict = Pipeline(jpegs, max_decode_upscale=1.0)
    sample = history.observation()
    assert len(sample.cameras[0].frames) == 4 and sample.cameras[0].frames[0].width == 420
    times = {'value': [], 'floor': [], 'history4': [], 'strict': [], 'serialise': []}
    for _ in range(ROUNDS):   # interleaved, so load changes hit all alike
        times['floor'].append(timed(lambda: floor(jpegs)))
        times['value'].append(timed(single.observation))
        times['history4'].append(timed(history.observation))
        times['strict'].append(timed(strict.observation))
        times['serialise'].append(timed(lambda: serialize_message(sample)))
    ms = {key: statistics.median(values) * 1e3 for key, values in times.items()}
    memory = {'value': peak_traced_mb(single.observation),
              'history4': peak_traced_mb(history.observation),
              'floor': peak_traced_mb(lambda: floor(jpegs))}
    ratio = ms['value'] / ms['floor']
    write_result(
        'perception_observation', 'ms', ms['value'], ms['floor'],
        f'one observation from 6 x 1600x900 JPEG ({source}): {ms["value"]:.1f} ms vs bare '
        f'imdecode+resize {ms["floor"]:.1f} ms (ratio {ratio:.2f}, target <= 1.2); 4-frame '
        f'history steady state {ms["history4"]:.1f} ms; never enlarging (max_decode_upscale '
        f'1.0, 1/2 DCT decode) {ms["strict"]:.1f} ms; serialise 24-frame message '
        f'{ms["serialise"]:.1f} ms; '
        f'peak traced memory {memory["value"]:.1f} MB (floor {memory["floor"]:.1f} MB)',
        source=source, rounds=ROUNDS, median_ms=ms, peak_traced_mb=memory,
        max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == '__main__':
    main()
