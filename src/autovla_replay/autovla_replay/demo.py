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
import sys
import time
from typing import Optional, Sequence

from autovla_common.domain import isolate_ros_domain
from autovla_scenarios.generator import generate_set, scenario_topic_map
from autovla_sim.demo import run_section, STACK_SCENARIOS

from autovla_replay.pipeline import LockstepConfig
from autovla_replay.regression import (
    run_jobs,
    scenario_jobs,
    STACK_NAMESPACE,
    StackSpec,
    start_stack,
    stop_stack,
)
from autovla_replay.report import summary_text, write_report

UNTRAINED_NOTE = ('The planner ran a tiny Qwen2.5-VL with random (untrained) weights, so the '
                  'trajectories (and the L2/collision figures) show the pipeline working, not '
                  'driving quality. The bundled default (empty --model-path) is the trained '
                  'autovla-tiny-sim-sft; real weights: --model-path (README, Planner).')


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
                        help='ROS_DOMAIN_ID for the demo (default: an exported ROS_DOMAIN_ID, '
                             'else a free one of 1..100 with no DDS participant on it)')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo; exit 0 when every scenario was replayed and the stack stopped cleanly."""
    args = build_parser().parse_args(argv)
    if args.domain_id is not None:
        os.environ['ROS_DOMAIN_ID'] = str(args.domain_id)
    domain = isolate_ros_domain()   # exported (or --domain-id) as given, else a free one
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

    spec = StackSpec(rig_file=str(scenario_dir / scenarios['rig']), model_path=args.model_path,
                     device=args.device)
    say(f'starting the stack (log: {out / "stack.log"})')
    stack = start_stack(spec, out / 'stack.log')
    # The scenarios' map is the stack's own names, plus their agents' boxes for scoring.
    topic_map = scenario_topic_map()
    jobs = scenario_jobs(scenario_dir, names)
    try:
        config = LockstepConfig(namespace=STACK_NAMESPACE, frame_timeout=args.frame_timeout,
                                topic_map=topic_map)
        results = run_jobs(jobs, run_dir, config, None, [], log=lambda m: say(m))
    finally:
        stack_code = stop_stack(stack)
    say(f'stack stopped with exit code {stack_code}')

    model_ids = {model_id for result in results.values()
                 for model_id in result.get('model_ids', [])}
    note = UNTRAINED_NOTE if any('untrained' in model_id for model_id in model_ids) else ''
    summary = write_report([(job.name, job.bag) for job in jobs], run_dir, out / 'report.html',
                           topic_map, note=note)
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
