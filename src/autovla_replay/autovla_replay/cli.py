"""Command-line tools of autovla_replay; each has --help.

replay_bag, record_outputs, compute_metrics, compare_runs, make_report, run_regression.
"""

import argparse
import json
from pathlib import Path
import sys
import time
from typing import Dict, List, Optional, Sequence

from autovla_common.spin import spinning_node
from autovla_scenarios.generator import image_topic

from autovla_bringup import stack
from autovla_replay.bagdata import read_messages, split_frames, topic_types
from autovla_replay.compare import compare_run, Tolerances
from autovla_replay.pipeline import LockstepConfig, run_suite
from autovla_replay.report import summary_text, write_report
from autovla_replay.scoring import score_scenario


def _remaps(pairs: Sequence[str]) -> Dict[str, str]:
    remap = {}
    for pair in pairs:
        if ':=' not in pair:
            raise SystemExit(f'--remap expects FROM:=TO, got {pair!r}')
        source, target = pair.split(':=', 1)
        remap[source] = target
    return remap


def _topic_list(text: str) -> List[str]:
    return [t.strip() for t in text.split(',') if t.strip()]


def _lockstep_options(parser: argparse.ArgumentParser) -> None:
    defaults = LockstepConfig()
    parser.add_argument('--namespace', default='', help='namespace of the stack, e.g. /autovla')
    parser.add_argument('--anchor-camera', default=defaults.anchor_camera)
    parser.add_argument('--output-topic', default=defaults.output_topic,
                        help='lock-step: the stack output that ends a frame')
    parser.add_argument('--output-type', default=defaults.output_type)
    parser.add_argument('--frame-timeout', type=float, default=defaults.frame_timeout,
                        help='lock-step: seconds to wait for the output of one frame')
    parser.add_argument('--warmup-frames', type=int, default=defaults.warmup_frames,
                        help='lock-step: first frames published without waiting (history fill)')
    parser.add_argument('--warmup-pause', type=float, default=defaults.warmup_pause)
    parser.add_argument('--subscriber-timeout', type=float,
                        default=defaults.subscriber_timeout,
                        help='seconds to wait for the stack to subscribe to the anchor camera')


def build_replay_parser() -> argparse.ArgumentParser:
    """Options of ``replay_bag`` (autovla_bringup's replay command line is parsed with it)."""
    parser = argparse.ArgumentParser(prog='replay_bag', description=replay_main.__doc__)
    parser.add_argument('bag', help='rosbag2 directory (sqlite3 or MCAP)')
    parser.add_argument('--mode', choices=('rate', 'lockstep'), default='rate')
    parser.add_argument('--rate', type=float, default=1.0, help='rate mode: speed factor')
    parser.add_argument('--topics', default='', help='comma-separated topics to replay (all)')
    parser.add_argument('--exclude-prefix', default='ground_truth/',
                        help="topics starting with this are not replayed ('' replays all)")
    parser.add_argument('--remap', nargs='*', default=[], metavar='FROM:=TO')
    _lockstep_options(parser)
    return parser


def replay_main(argv: Optional[Sequence[str]] = None) -> int:
    """Replay a rosbag2 into the live graph (rate-scaled or lock-step) with /clock."""
    args = build_replay_parser().parse_args(argv)
    messages = read_messages(Path(args.bag), _topic_list(args.topics) or None)
    messages = [m for m in messages
                if not (args.exclude_prefix and m.topic.startswith(args.exclude_prefix))]
    from autovla_replay.live import BagReplayer, STACK_INPUT_TOPICS
    with spinning_node('autovla_replay', args.namespace) as node:
        replayer = BagReplayer(node, topic_types(messages), _remaps(args.remap))
        anchor = image_topic(args.anchor_camera)
        if args.mode == 'lockstep':
            replayer.watch_output(args.output_topic, args.output_type)
        missing = replayer.wait_for_stack(STACK_INPUT_TOPICS, args.subscriber_timeout)
        if missing:
            print(f'replay_bag: stack not ready: {", ".join(missing)}; replaying anyway')
        started = time.monotonic()
        if args.mode == 'rate':
            replayer.play_rate(messages, args.rate)
            print(f'replayed {len(messages)} messages in {time.monotonic() - started:.1f} s')
            return 0
        outcomes = replayer.play_lockstep(
            split_frames(messages, anchor), args.frame_timeout, args.warmup_frames,
            args.warmup_pause,
            lambda o: print(f'frame {o.index}: ' + ('answered' if o.answered else
                                                   'warm-up' if not o.waited else 'TIMEOUT')))
    timeouts = sum(o.waited and not o.answered for o in outcomes)
    print(f'{len(outcomes)} frames, {timeouts} timeouts, {time.monotonic() - started:.1f} s')
    return 0


def record_main(argv: Optional[Sequence[str]] = None) -> int:
    """Record what the stack publishes into an MCAP bag until Ctrl-C (or --duration)."""
    from autovla_replay.live import OutputRecorder
    parser = argparse.ArgumentParser(
        prog='record_outputs', description=record_main.__doc__,
        epilog="Default: every topic the stack's nodes publish, under absolute names (paths, "
               'markers, explanation, safety status, drive command, /diagnostics, /tf, '
               '/tf_static), not the observation (its images are in the input bag).')
    parser.add_argument('--out', required=True, help='new rosbag2 directory')
    parser.add_argument('--topics', default='',
                        help='comma-separated topics instead of the default: a stack topic '
                             '(relative to --namespace or absolute) or NAME:=pkg/msg/Type')
    parser.add_argument('--namespace', default=stack.DEFAULT_NAMESPACE,
                        help='namespace of the stack')
    parser.add_argument('--duration', type=float, default=0.0, help='seconds (0 = until Ctrl-C)')
    args = parser.parse_args(argv)
    known = stack.recorded_topics(args.namespace)
    topics = {} if args.topics else known
    for item in _topic_list(args.topics):
        name, _, type_name = item.partition(':=')
        name = stack.resolve_topic(args.namespace, name)
        if not type_name and name not in known:
            raise SystemExit(f'record_outputs: {name} is not a stack output; give its type as '
                             f'{name}:=pkg/msg/Type')
        topics[name] = type_name or known[name]
    with spinning_node('autovla_recorder') as node:
        recorder = OutputRecorder(node, Path(args.out), topics)
        print(f'recording {len(topics)} topics to {args.out}: {", ".join(sorted(topics))}',
              flush=True)
        started = time.monotonic()
        try:
            while not args.duration or time.monotonic() - started < args.duration:
                time.sleep(0.1)
        except KeyboardInterrupt:
            pass
        finally:
            recorder.close()
    print(f'recorded {recorder.counts} to {args.out}')
    return 0


def metrics_main(argv: Optional[Sequence[str]] = None) -> int:
    """Score a recorded outputs bag against the scenario bag's ground truth."""
    parser = argparse.ArgumentParser(prog='compute_metrics', description=metrics_main.__doc__)
    parser.add_argument('scenario_bag')
    parser.add_argument('outputs_bag')
    parser.add_argument('--out', help='write the metrics JSON here (default: stdout)')
    args = parser.parse_args(argv)
    text = json.dumps(score_scenario(Path(args.scenario_bag), Path(args.outputs_bag)),
                      indent=1, default=float)
    if args.out:
        Path(args.out).write_text(text + '\n', encoding='utf-8')
    else:
        print(text)
    return 0


def compare_main(argv: Optional[Sequence[str]] = None) -> int:
    """Compare a run with stored references; exit 1 on a regression."""
    parser = argparse.ArgumentParser(prog='compare_runs', description=compare_main.__doc__)
    parser.add_argument('run_dir', help='directory with one <scenario>/ per replayed scenario')
    parser.add_argument('--references', required=True, help='directory of <scenario>.json')
    parser.add_argument('--update-references', action='store_true',
                        help='write this run as the new references instead of comparing')
    parser.add_argument('--plan-tolerance', type=float, default=Tolerances().plan_tolerance_m,
                        help='m a waypoint may move')
    parser.add_argument('--metric-tolerance-scale', type=float, default=1.0)
    args = parser.parse_args(argv)
    results = compare_run(Path(args.run_dir), Path(args.references),
                          Tolerances(args.plan_tolerance, args.metric_tolerance_scale),
                          args.update_references)
    return _print_comparison(results, args.update_references)


def _print_comparison(results: Dict[str, List[str]], updated: bool) -> int:
    for scenario, problems in results.items():
        status = 'updated' if updated else ('ok' if not problems else 'REGRESSION')
        print(f'{scenario:20s} {status}')
        for problem in problems:
            print(f'    {problem}')
    return 1 if any(results.values()) else 0


def report_main(argv: Optional[Sequence[str]] = None) -> int:
    """Write the HTML report and summary.json of a run; print the summary."""
    parser = argparse.ArgumentParser(prog='make_report', description=report_main.__doc__)
    parser.add_argument('--scenarios', required=True, help='generated scenario directory')
    parser.add_argument('--run', required=True, help='run directory')
    parser.add_argument('--out', help='report path (default RUN/report.html)')
    parser.add_argument('--note', default='', help='line shown at the top (e.g. model status)')
    parser.add_argument('--max-frames', type=int, default=None, help='frames per scenario')
    args = parser.parse_args(argv)
    out = Path(args.out or Path(args.run) / 'report.html')
    summary = write_report(Path(args.scenarios), Path(args.run), out, args.note, args.max_frames)
    print(summary_text(summary))
    print(f'report: {out}')
    return 0


def regression_main(argv: Optional[Sequence[str]] = None) -> int:
    """Replay every scenario in lock-step through a running stack, score, report, compare."""
    parser = argparse.ArgumentParser(prog='run_regression', description=regression_main.__doc__)
    parser.add_argument('--scenarios', required=True, help='generated scenario directory')
    parser.add_argument('--out', required=True, help='run directory (created)')
    parser.add_argument('--only', default='', help='comma-separated scenario names')
    parser.add_argument('--references', help='compare with these references (exit 1 on a '
                                             'regression)')
    parser.add_argument('--update-references', action='store_true')
    parser.add_argument('--note', default='')
    _lockstep_options(parser)
    args = parser.parse_args(argv)
    config = LockstepConfig(args.namespace, args.anchor_camera, args.output_topic,
                            args.output_type, args.frame_timeout, args.warmup_frames,
                            args.warmup_pause, args.subscriber_timeout)
    run_suite(Path(args.scenarios), Path(args.out), config, _topic_list(args.only) or None)
    summary = write_report(Path(args.scenarios), Path(args.out), Path(args.out) / 'report.html',
                           args.note)
    print(summary_text(summary))
    print(f'report: {Path(args.out) / "report.html"}')
    if args.references:
        return _print_comparison(compare_run(Path(args.out), Path(args.references),
                                             update=args.update_references),
                                 args.update_references)
    return 0


if __name__ == '__main__':
    sys.exit(regression_main())
