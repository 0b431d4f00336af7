#!/usr/bin/env python3
"""A fast-mode plan while other processes keep the CPU busy: planner ``cpu_threads`` 1 vs 0.

0 is torch's default, one intra-op thread per core; its OpenMP threads spin while they wait
for each other, so a thread whose core another process holds stalls every parallel region.
Each measurement is a fresh process: the bundled default model, fast thinking, greedy, the
median of 8 plans of noise observations after a warm-up. The two settings alternate, 3
rounds each, first on an idle machine, then with a busy-looping process on every core but one.
"""

import json
import os
from pathlib import Path
import statistics
import subprocess
import sys

from autovla_common.bench import write_result

ROUNDS = 3
SETTINGS = (1, 0)
BENCH_DIR = Path(__file__).resolve().parent
CHILD = f"""
import json, sys, time
sys.path.insert(0, {str(BENCH_DIR)!r})
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
from bench_batching import request_observations
runtime = PlannerRuntime('', 'cpu', settings=DecodingSettings(reasoning_mode='fast'),
                         cpu_threads=int(sys.argv[1]))
observations = request_observations()
runtime.plan(observations[0])
times = []
for observation in observations:
    started = time.perf_counter()
    runtime.plan(observation)
    times.append(time.perf_counter() - started)
print(json.dumps(sorted(times)[len(times) // 2] * 1000))
"""


def plan_ms(cpu_threads: int) -> float:
    """Median fast-mode plan time (ms) in a fresh process with ``cpu_threads``."""
    result = subprocess.run([sys.executable, '-c', CHILD, str(cpu_threads)], check=True,
                            capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(condition: str) -> dict:
    """Both settings, alternating; medians over the rounds."""
    times = {threads: [] for threads in SETTINGS}
    for round_number in range(1, ROUNDS + 1):
        for threads in SETTINGS:
            times[threads].append(plan_ms(threads))
        print(f'[bench] cpu contention, {condition}: round {round_number}/{ROUNDS}: '
              + ', '.join(f'cpu_threads {threads}: {values[-1]:.0f} ms'
                          for threads, values in times.items()), flush=True)
    return {threads: statistics.median(values) for threads, values in times.items()}


def main() -> int:
    """Measure idle, then with busy loops on the other cores; write one record each."""
    spare = max(1, (os.cpu_count() or 2) - 1)
    for condition, busy_count in (('idle', 0), ('other cores busy', spare)):
        busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
                for _ in range(busy_count)]
        try:
            result = measure(condition)
        finally:
            for process in busy:
                process.kill()
                process.wait()
        one, default = result[1], result[0]
        write_result(
            f'cpu_contention_{"busy" if busy_count else "idle"}', 'ms', one, default,
            f'{condition} ({busy_count} busy-loop process(es)): fast-mode plan, median of '
            f'{ROUNDS} fresh processes: cpu_threads 1 (planner default) {one:.0f} ms vs 0 '
            f'(torch default, {os.cpu_count()} threads) {default:.0f} ms '
            f'({default / one:.1f}x)',
            busy_processes=busy_count, rounds=ROUNDS, one_thread_ms=one, torch_default_ms=default)
    return 0


if __name__ == '__main__':
    sys.exit(main())
