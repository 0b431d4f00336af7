"""The main job (`make demo`): scenarios -> the real stack over DDS, in lock-step -> report.

1. Generates the default scenario set (seeded, a few seconds) unless it is already there.
2. Starts the stack with ``autovla_bringup`` (perception, planner, safety, each in its own
   process, simulated time, namespace /autovla) on a DDS domain of its own.
3. Replays every scenario in deterministic lock-step and records the stack's outputs.
4. Stops the stack, writes ``report.html`` + ``summary.json`` and prints the summary.
5. Closed loop (``autovla_sim.demo``): expert and rule-based on every catalogue type, the
   full stack on a few, score table and frame strips in ``closed_loop/closed_loop.html``
   (linked from the report).
"""

import argparse
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Optional, Sequence

from autovla_common.testing import executable
from autovla_scenarios.generator import generate_set
from autovla_sim.demo import run_section, STACK_SCENARIOS

from autovla_replay.pipeline import LockstepConfig, run_suite
from autovla_replay.report import summary_text, write_report

NAMESPACE = '/autovla'
UNTRAINED_NOTE = ('The planner ran a tiny Qwen2.5-VL with random (untrained) weights, so the '
                  'trajectories (and the L2/collision figures) show the pipeline working, not '
                  'driving quality. The bundled default (empty --model-path) is the trained '
                  'autovla-tiny-sim-bc; real weights: --model-path (README, Planner).')


def say(message: str) -> None:
    """Print one progress line."""
    print(f'[demo] {message}', flush=True)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog='autovla_demo', description=__doc__.split('\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--out', default='out/demo', help='output directory')
    parser.add_argument('--only', default='', help='comma-separated scenario names (default all)')
    parser.add_argument('--regenerate', action='store_true',
                        help='generate the scenarios again even if present')
    parser.add_argument('--model-path', default='',
                        help='planner model directory (empty = bundled default)')
    parser.add_argument('--device', default='auto', choices=('auto', 'cuda', 'cpu'))
    parser.add_argument('--frame-timeout', type=float, default=60.0,
                        help='s to wait for the stack to answer one frame')
    parser.add_argument('--closed-loop', default=','.join(STACK_SCENARIOS),
                        help='types the full stack drives in closed loop (empty = skip the '
                        'closed-loop section; expert and rule-based drive every type)')
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID for the demo (default: one of its own, 1..100)')
    return parser


def start_stack(args: argparse.Namespace, rig_file: Path, log_path: Path) -> subprocess.Popen:
    """Start the three nodes through the bring-up command; their output goes to log_path."""
    command = [executable('autovla_bringup', 'autovla_bringup'), '--use-sim-time',
               '--namespace', NAMESPACE, '--device', args.device, '--rig-file', str(rig_file)]
    if args.model_path:
        command += ['--model-path', args.model_path]
    say(f'starting the stack: {" ".join(command)} (log: {log_path})')
    log = open(log_path, 'w', encoding='utf-8')  # noqa: SIM115 - lives as long as the stack
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, 'PYTHONUNBUFFERED': '1'})


def stop_stack(stack: subprocess.Popen, timeout: float = 30.0) -> int:
    """SIGINT the bring-up (it stops its nodes) and return its exit code."""
    if stack.poll() is None:
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(timeout)
        except subprocess.TimeoutExpired:
            stack.kill()
            stack.wait()
    return stack.returncode


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo; exit 0 when every scenario was replayed and the stack stopped cleanly."""
    args = build_parser().parse_args(argv)
    domain = args.domain_id if args.domain_id is not None else 1 + os.getpid() % 100
    os.environ['ROS_DOMAIN_ID'] = str(domain)
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    out = Path(args.out).resolve()
    scenario_dir, run_dir = out / 'scenarios', out / 'run'
    run_dir.mkdir(parents=True, exist_ok=True)
    names = [name for name in args.only.split(',') if name] or None
    started = time.monotonic()

    if args.regenerate or not (scenario_dir / 'index.json').exists():
        say(f'generating scenarios into {scenario_dir}')
        generate_set(scenario_dir, progress=lambda line: say(f'  {line}'))
    scenarios = json.loads((scenario_dir / 'index.json').read_text(encoding='utf-8'))
    say(f'{len(scenarios["scenarios"])} scenarios ready ({time.monotonic() - started:.0f} s); '
        f'ROS_DOMAIN_ID={domain}')

    stack = start_stack(args, scenario_dir / scenarios['rig'], out / 'stack.log')
    try:
        config = LockstepConfig(namespace=NAMESPACE, frame_timeout=args.frame_timeout)
        results = run_suite(scenario_dir, run_dir, config, names, log=lambda m: say(m))
    finally:
        stack_code = stop_stack(stack)
    say(f'stack stopped with exit code {stack_code}')

    model_ids = {model_id for result in results.values()
                 for model_id in result.get('model_ids', [])}
    note = UNTRAINED_NOTE if any('untrained' in model_id for model_id in model_ids) else ''
    summary = write_report(scenario_dir, run_dir, out / 'report.html', note)
    print(summary_text(summary), flush=True)
    if args.closed_loop:
        closed = run_section(out / 'closed_loop', device=args.device, model_path=args.model_path,
                             stack_scenarios=args.closed_loop.split(','), log=say)
        print(closed['table'], flush=True)
        report = out / 'report.html'
        report.write_text(report.read_text(encoding='utf-8').replace(
            '</body>', '<h2><a href="closed_loop/closed_loop.html">Closed loop: baselines and '
            'frame strips</a></h2></body>'), encoding='utf-8')
    say(f'report: {out / "report.html"}   summary: {out / "summary.json"}   '
        f'({time.monotonic() - started:.0f} s)')
    planless = [name for name, result in results.items() if not result.get('plans')]
    if planless:
        say(f'no plans for: {", ".join(planless)} (see {out / "stack.log"})')
    return 0 if stack_code == 0 and not planless else 1


if __name__ == '__main__':
    sys.exit(main())
