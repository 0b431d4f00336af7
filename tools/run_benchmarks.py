#!/usr/bin/env python3
"""Run every benchmark script (bench/bench_*.py), then print the summaries they recorded.

Each benchmark writes bench_results/<name>.json through autovla_common.bench.write_result
(fields: name, unit, value, baseline, ratio = value / baseline, summary). Benchmarks run one
after another, never in parallel: on a 2-core machine they would disturb each other.
"""

import argparse
import json
from pathlib import Path
import subprocess
import sys
import time

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    """Run the selected benchmarks; exit non-zero if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-k', default='', help='only run benchmarks whose file name contains this')
    args = parser.parse_args()
    scripts = sorted(p for p in (ROOT / 'bench').glob('bench_*.py') if args.k in p.name)
    if not scripts:
        print('[bench] no benchmark matched')
        return 1
    results_dir = ROOT / 'bench_results'
    results_dir.mkdir(exist_ok=True)
    started = time.time()
    failed = []
    for index, script in enumerate(scripts, 1):
        print(f'[bench] ({index}/{len(scripts)}) {script.name}', flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=ROOT).returncode != 0:
            failed.append(script.name)
    print('\n[bench] summaries')
    for path in sorted(results_dir.glob('*.json')):
        if path.stat().st_mtime >= started:
            record = json.loads(path.read_text())
            print(f"  {record['name']:<40} ratio {record['ratio']:.3f}  {record['summary']}")
    if failed:
        print(f'[bench] FAILED: {", ".join(failed)}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
