#!/usr/bin/env python3
"""Dynamic batching: a plan server with batch size 1 vs dynamic batches, side by side.

Model: the bundled trained default (fast thinking, greedy, ``cpu_threads`` 1 as in the
planner node). Requests: 8 different noise observations (3 cameras x 4 frames of 56x112,
different speeds and commands), cycled.
1. Streams: requests arrive as a Poisson process at several rates, given as multiples of the
   measured one-plan service rate (0.5x, 1x, 2x: below, at and above what batch size 1 can
   serve). The same arrival schedule is replayed against a PlanServer with
   ``max_batch_size`` 1 and one with ``max_batch_size`` 8 and ``max_batch_wait_ms`` a quarter
   of a service time: throughput (requests / span from first arrival to last answer) and
   p50 / p99 latency (answer minus arrival).
2. Confidence samples of one plan: K = 8 sampled plans from the same answer start as one
   decode of 8 rows vs 8 decodes of 1 row.
"""

import statistics
import sys
import threading
import time

from autovla_common.bench import write_result
from autovla_planner.batching import PlanServer, sample_spread
from autovla_planner.observation import CameraVideo, Observation
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
import numpy as np

REQUESTS = 120
LOADS = (0.5, 1.0, 2.0)
MAX_BATCH = 8
SAMPLES = 8
COMMANDS = ('KEEP_FORWARD', 'TURN_LEFT', 'TURN_RIGHT', 'UNKNOWN')


def request_observations(count: int = 8) -> list:
    """Return ``count`` different observations (images, speeds, commands)."""
    rng = np.random.default_rng(1)
    return [Observation(tuple(CameraVideo(name, rng.integers(0, 255, (4, 56, 112, 3), np.uint8))
                              for name in ('CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT')),
                        float(rng.uniform(0.0, 25.0)), 0.2, COMMANDS[i % 4])
            for i in range(count)]


def replay(server: PlanServer, observations: list, arrivals: np.ndarray) -> dict:
    """Submit request i at ``arrivals[i]`` s; return throughput and latency percentiles."""
    answered = [0.0] * len(arrivals)
    all_done = threading.Event()
    remaining = [len(arrivals)]
    lock = threading.Lock()

    def finished(index):
        def record(future):
            future.result()                       # a failed plan fails the benchmark
            answered[index] = time.perf_counter()
            with lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    all_done.set()
        return record

    start = time.perf_counter()
    futures = []
    for index, offset in enumerate(arrivals):
        delay = start + offset - time.perf_counter()
        if delay > 0:
            time.sleep(delay)                      # the arrival schedule, not a wait on work
        future = server.submit(observations[index % len(observations)])
        future.add_done_callback(finished(index))
        futures.append(future)
    all_done.wait()
    for future in futures:
        future.result()
    latencies = [answered[i] - (start + arrivals[i]) for i in range(len(arrivals))]
    return {'throughput_per_s': len(arrivals) / (max(answered) - start),
            'p50_ms': 1000 * float(np.percentile(latencies, 50)),
            'p99_ms': 1000 * float(np.percentile(latencies, 99)),
            'batch_sizes': list(server.batch_sizes)}


def streams(runtime: PlannerRuntime, observations: list) -> list:
    """Replay each load's arrival schedule against both servers."""
    # The one-plan service time, timed on the path the servers plan on (their worker thread).
    server = PlanServer(runtime, 1, 0.0)
    try:
        for observation in observations:          # warm-up, fills the prefix cache
            server.plan(observation)
        service_s = statistics.median(
            _timed(lambda o=o: server.plan(o)) for o in observations[:4])
    finally:
        server.close()
    rng = np.random.default_rng(0)
    rows = []
    for load in LOADS:
        rate = load / service_s
        arrivals = np.cumsum(rng.exponential(1.0 / rate, REQUESTS)) - 1.0 / rate
        result = {'load': load, 'rate_per_s': rate, 'service_ms': 1000 * service_s}
        for name, size, wait_ms in (('single', 1, 0.0),
                                    ('batched', MAX_BATCH, 250.0 * service_s)):
            server = PlanServer(runtime, size, wait_ms)
            try:
                result[name] = replay(server, observations, arrivals)
            finally:
                server.close()
            result[name]['max_batch_wait_ms'] = wait_ms
        rows.append(result)
    return rows


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def confidence_samples(runtime: PlannerRuntime, observation) -> dict:
    """K sampled plans from one answer start: one K-row decode vs K one-row decodes."""
    torch = runtime._torch
    settings = runtime.settings
    batched, sequential = [], []
    with torch.inference_mode():
        _, inputs = runtime.prepare(observation)
        hidden, delta = runtime._prefill_prompt(inputs, runtime.fast_ids)
        answer_start = runtime._cache.get_seq_length()
        arguments = (hidden[None], answer_start, [answer_start + delta],
                     [np.zeros((runtime.descriptor.horizon, 3))], None)
        for _ in range(3):
            runtime.settings = DecodingSettings(**{**settings.__dict__,
                                                   'confidence_samples': SAMPLES})
            batched.append(_timed(lambda: sample_spread(runtime, *arguments)))
            runtime.settings = DecodingSettings(**{**settings.__dict__,
                                                   'confidence_samples': 1})
            sequential.append(_timed(lambda: [sample_spread(runtime, *arguments)
                                              for _ in range(SAMPLES)]))
        runtime.settings = settings
        runtime._truncate(len(runtime._prefix_ids))
    return {'batched_s': statistics.median(batched),
            'sequential_s': statistics.median(sequential), 'samples': SAMPLES}


def main() -> int:
    """Measure both parts and write one record per load plus the confidence-sample record."""
    runtime = PlannerRuntime('', 'cpu', settings=DecodingSettings(reasoning_mode='fast'),
                             cpu_threads=1)   # the planner node's default
    observations = request_observations()
    for row in streams(runtime, observations):
        single, batched = row['single'], row['batched']
        write_result(
            f'batching_streams_load_{row["load"]:g}x', 'requests/s',
            batched['throughput_per_s'], single['throughput_per_s'],
            f'{REQUESTS} requests at {row["rate_per_s"]:.1f}/s ({row["load"]:g}x the one-plan '
            f'rate, service {row["service_ms"]:.0f} ms): batched (max {MAX_BATCH}, wait '
            f'{batched["max_batch_wait_ms"]:.0f} ms) {batched["throughput_per_s"]:.2f}/s, p50 '
            f'{batched["p50_ms"]:.0f} ms, p99 {batched["p99_ms"]:.0f} ms vs batch size 1 '
            f'{single["throughput_per_s"]:.2f}/s, p50 {single["p50_ms"]:.0f} ms, p99 '
            f'{single["p99_ms"]:.0f} ms; batches {batched["batch_sizes"]}', **row)
    result = confidence_samples(runtime, observations[0])
    write_result(
        'batching_confidence_samples', 's', result['batched_s'], result['sequential_s'],
        f'{SAMPLES} confidence samples of one plan: one batched decode '
        f'{result["batched_s"] * 1000:.0f} ms vs {SAMPLES} sequential decodes '
        f'{result["sequential_s"] * 1000:.0f} ms '
        f'({result["sequential_s"] / result["batched_s"]:.1f}x faster)', **result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
