"""The benchmark record every ``make bench`` benchmark writes (one JSON file per benchmark)."""

import json
import os
from pathlib import Path
import platform
import statistics
import time
from typing import Any, Callable


def results_dir() -> Path:
    """Where records go: $AUTOVLA_BENCH_DIR, else ./bench_results."""
    return Path(os.environ.get('AUTOVLA_BENCH_DIR', 'bench_results'))


def write_result(name: str, unit: str, value: float, baseline: float, summary: str,
                 **extra: Any) -> Path:
    """Write ``bench_results/<name>.json`` with value, baseline and ratio; print the summary."""
    record = {
        'name': name,
        'unit': unit,
        'value': value,
        'baseline': baseline,
        'ratio': value / baseline if baseline else float('nan'),
        'summary': summary,
        'machine': {'cpus': os.cpu_count(), 'python': platform.python_version()},
        'time': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
        **extra,
    }
    out_dir = results_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f'{name}.json'
    path.write_text(json.dumps(record, indent=2, default=float) + '\n', encoding='utf-8')
    print(f'[bench] {name}: {summary}')
    return path


def median_us(function: Callable[[], Any], repeats: int = 1000) -> float:
    """Median wall time of one call of ``function``, in microseconds."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return 1e6 * statistics.median(samples)
