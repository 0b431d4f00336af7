#!/usr/bin/env python3
"""A fast-mode plan while other processes keep the CPU busy: spinning vs sleeping OpenMP threads.

torch's OpenMP runtime reads OMP_WAIT_POLICY once, when it loads. ``autovla_planner`` sets
PASSIVE (idle threads sleep) before that, unless the user set a policy; the baseline is the
runtime's own default, had by loading torch before ``autovla_planner``. Each measurement is a
fresh process: the bundled default model, fast thinking, greedy, the median of 8 plans of
noise observations after a warm-up. The two policies alternate, 3 rounds each, first on an
idle machine, then with a busy-looping process on every core but one.
"""

import json
import os
from pathlib import Path
import statistics
import subprocess
import sys

from autovla_common.bench import write_result

ROUNDS = 3
BENCH_DIR = Path(__file__).resolve().parent
CHILD = f"""
import json, sys, time
sys.path.insert(0, {str(BENCH_DIR)!r})
if sys.argv[1] == 'library':
    import torch  # noqa: F401 - loaded first: OMP_WAIT_POLICY is the runtime's default
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
from bench_batching import request_observations
runtime = PlannerRuntime('', 'cpu', settings=DecodingSettings(reasoning_mode='fast'))
observations = request_observations()
runtime.plan(observations[0])
times = []
for observation in observations:
    started = time.perf_counter()
    runtime.plan(observation)
    times.append(time.perf_counter() - started)
print(json.dumps(sorted(times)[len(times) // 2] * 1000))
"""


def plan_ms(policy: str) -> float:
    """Median fast-mode plan time (ms) in a fresh process with ``policy`` ('library'/'passive')."""
    env = {key: value for key, value in os.environ.items() if key != 'OMP_WAIT_POLICY'}
    result = subprocess.run([sys.executable, '-c', CHILD, policy], env=env, check=True,
                            capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(condition: str) -> dict:
    """Both policies, alternating; medians over the rounds."""
    times = {'library': [], 'passive': []}
    for round_number in range(1, ROUNDS + 1):
        for policy in times:
            times[policy].append(plan_ms(policy))
        print(f'[bench] cpu contention, {condition}: round {round_number}/{ROUNDS}: '
              f'library default {times["library"][-1]:.0f} ms, '
              f'passive {times["passive"][-1]:.0f} ms', flush=True)
    return {policy: statistics.median(values) for policy, values in times.items()}


def main() -> int:
    """Measure idle, then with busy loops on the other cores; write one record each."""
    conditions = [('idle', 0), ('other cores busy', max(1, (os.cpu_count() or 2) - 1))]
    for condition, busy_count in conditions:
        busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
                for _ in range(busy_count)]
        try:
            result = measure(condition)
        finally:
            for process in busy:
                process.kill()
                process.wait()
        write_result(
            f'cpu_contention_{"busy" if busy_count else "idle"}', 'ms', result['passive'],
            result['library'],
            f'{condition} ({busy_count} busy-loop process(es)): fast-mode plan, median of '
            f'{ROUNDS} fresh processes, OMP_WAIT_POLICY=PASSIVE (autovla_planner default) '
            f'{result["passive"]:.0f} ms vs the OpenMP runtime default '
            f'{result["library"]:.0f} ms ({result["library"] / result["passive"]:.1f}x)',
            busy_processes=busy_count, rounds=ROUNDS, **result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
