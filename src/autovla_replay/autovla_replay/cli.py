"""Command-line tools of autovla_replay; each has --help.

replay_bag, record_outputs, compute_metrics, compare_runs, make_report, run_regression.
"""

import argparse
from dataclasses import replace
import os
from pathlib import Path
import time
from typing import Dict, List, Optional, Sequence

from autovla_common.domain import claim_free_domain, exported_domain, isolate_ros_domain
from autovla_common.runner import stop_requests
from autovla_common.spin import spinning_node
from autovla_common.topic_map import load_or_default, TopicMap
from autovla_scenarios.generator import RIG_FILE, scenario_topic_map

from autovla_bringup import stack
from autovla_replay import strict_json
from autovla_replay.bagdata import read_messages, split_frames, topic_types
from autovla_replay.compare import compare_run, Tolerances
from autovla_replay.pipeline import LockstepConfig
from autovla_replay.regression import bag_jobs, Job, run_jobs, run_on_ray, scenario_jobs, StackSpec
from autovla_replay.report import summary_text, write_report
from autovla_replay.scoring import score_bag


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
    parser.add_argument('--topic-map', default='',
                        help="topic map YAML naming the bag's input topics (config/topic_maps);"
                             " empty = the stack's own names")
    parser.add_argument('--anchor-camera', default=defaults.anchor_camera)
    parser.add_argument('--output-topic', default=defaults.output_topic,
                        help='lock-step: the stack output that ends a frame')
    parser.add_argument('--output-type', default=defaults.output_type)
    parser.add_argument('--frame-timeout', type=float, default=defaults.frame_timeout,
                        help='lock-step: seconds to wait for the output of one frame')
    parser.add_argument('--warmup-frames', type=int, default=defaults.warmup_frames,
                        help='lock-step: first frames published without waiting (history fill)')
    parser.add_argument('--warmup-pause', type=float, default=defaults.warmup_pause)
    parser.add_argument('--camera-tolerance', type=float, default=defaults.camera_tolerance_s,
                        help='lock-step: s a camera may be captured after the anchor and still '
                             'belong to its frame')
    parser.add_argument('--subscriber-timeout', type=float,
                        default=defaults.subscriber_timeout,
                        help='seconds to wait for the stack to subscribe to its inputs')


def _config(args: argparse.Namespace) -> LockstepConfig:
    try:
        topic_map = load_or_default(Path(args.topic_map) if args.topic_map else None)
        topic_map.camera(args.anchor_camera)
    except (ValueError, KeyError) as error:
        raise SystemExit(f'{error}') from error
    return LockstepConfig(args.namespace, args.anchor_camera, args.output_topic,
                          args.output_type, args.frame_timeout, args.warmup_frames,
                          args.warmup_pause, args.subscriber_timeout,
                          camera_tolerance_s=args.camera_tolerance, topic_map=topic_map)


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
    parser.add_argument('--namespace', default='', help='namespace of the stack, e.g. /autovla')
    _lockstep_options(parser)
    return parser


def replay_main(argv: Optional[Sequence[str]] = None) -> int:
    """Replay a rosbag2 into the live graph (rate-scaled or lock-step) with /clock."""
    args = build_replay_parser().parse_args(argv)
    config = _config(args)
    topic_map = config.topic_map
    messages = read_messages(Path(args.bag), _topic_list(args.topics) or None)
    messages = [m for m in messages
                if not (args.exclude_prefix and m.topic.startswith(args.exclude_prefix))]
    from autovla_replay.live import BagReplayer
    with spinning_node('autovla_replay', args.namespace) as node:
        replayer = BagReplayer(node, topic_types(messages), _remaps(args.remap),
                               latched=[topic_map.route] if topic_map.route else [])
        if args.mode == 'lockstep':
            replayer.watch_output(args.output_topic, args.output_type)
        missing = replayer.wait_for_stack(topic_map.input_topics(), args.subscriber_timeout)
        if missing:
            print(f'replay_bag: stack not ready: {", ".join(missing)}; replaying anyway')
        started = time.monotonic()
        if args.mode == 'rate':
            replayer.play_rate(messages, args.rate)
            print(f'replayed {len(messages)} messages in {time.monotonic() - started:.1f} s')
            return 0
        outcomes = replayer.play_lockstep(
            split_frames(messages, topic_map.camera(args.anchor_camera).image,
                         set(topic_map.image_topics), int(args.camera_tolerance * 1e9)),
            args.frame_timeout, args.warmup_frames,
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
    # SIGINT and SIGTERM (ros2 launch's escalation, docker stop) end the recording like Ctrl-C:
    # the bag is finished either way, never left without its metadata. Set explicitly: a job
    # started in the background by a script inherits SIGINT ignored, and Python keeps that.
    # The handlers only record the request: an exception raised wherever the signal lands
    # (it once landed inside the "recording" print) would skip the bag's finishing.
    requested = stop_requests()
    with spinning_node('autovla_recorder') as node:
        recorder = OutputRecorder(node, Path(args.out), topics)
        try:
            print(f'recording {len(topics)} topics to {args.out}: '
                  f'{", ".join(sorted(topics))}', flush=True)
            started = time.monotonic()
            while node.context.ok() and not requested and (
                    not args.duration or time.monotonic() - started < args.duration):
                time.sleep(0.1)
        finally:
            recorder.close()
    print(f'recorded {recorder.counts} to {args.out}')
    return 0


def metrics_main(argv: Optional[Sequence[str]] = None) -> int:
    """Score a recorded outputs bag against the replayed bag's own odometry (strict JSON)."""
    parser = argparse.ArgumentParser(prog='compute_metrics', description=metrics_main.__doc__)
    parser.add_argument('bag', help='the replayed rosbag2 (scenario or recording)')
    parser.add_argument('outputs_bag')
    parser.add_argument('--topic-map', default='', help='topic map YAML of the bag')
    parser.add_argument('--anchor-camera', default=LockstepConfig().anchor_camera)
    parser.add_argument('--out', help='write the metrics JSON here (default: stdout)')
    args = parser.parse_args(argv)
    topic_map = load_or_default(Path(args.topic_map) if args.topic_map else None)
    text = strict_json.dumps(score_bag(Path(args.bag), Path(args.outputs_bag), topic_map,
                                       args.anchor_camera))
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


def _jobs(args: argparse.Namespace) -> List[Job]:
    if bool(args.bags) == bool(args.scenarios):
        raise SystemExit('give either --bags BAG_OR_DIR... or --scenarios DIR')
    try:
        return bag_jobs(args.bags) if args.bags else \
            scenario_jobs(Path(args.scenarios), _topic_list(args.only) or None)
    except (ValueError, OSError) as error:
        raise SystemExit(str(error)) from error


def _input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--bags', nargs='+', default=[], metavar='BAG_OR_DIR',
                        help='rosbag2 directories, or directories holding them')
    parser.add_argument('--scenarios', help='generated scenario directory (index.json)')
    parser.add_argument('--only', default='', help='with --scenarios: comma-separated names')


def report_main(argv: Optional[Sequence[str]] = None) -> int:
    """Write the HTML report and summary.json of a run; print the summary."""
    parser = argparse.ArgumentParser(prog='make_report', description=report_main.__doc__)
    _input_options(parser)
    parser.add_argument('--run', required=True, help='run directory')
    parser.add_argument('--topic-map', default='', help='topic map YAML of the bags')
    parser.add_argument('--anchor-camera', default=LockstepConfig().anchor_camera)
    parser.add_argument('--out', help='report path (default RUN/report.html)')
    parser.add_argument('--note', default='', help='line shown at the top (e.g. model status)')
    parser.add_argument('--max-frames', type=int, default=None, help='frames per bag')
    args = parser.parse_args(argv)
    jobs = _jobs(args)
    topic_map = _scoring_map(args.topic_map, bool(args.scenarios))
    out = Path(args.out or Path(args.run) / 'report.html')
    summary = write_report([(job.name, job.bag) for job in jobs], Path(args.run), out,
                           topic_map, args.anchor_camera, args.note, args.max_frames)
    print(summary_text(summary))
    print(f'report: {out}')
    return 0


def _scoring_map(path: str, scenarios: bool) -> TopicMap:
    """Return the map of the bags; generated scenarios also carry their agents' boxes."""
    topic_map = load_or_default(Path(path) if path else None)
    return scenario_topic_map() if scenarios and not path else topic_map


def _domains(text: str, workers: int, own_stacks: bool) -> List[int]:
    """DDS domains for the replays: as given, else free ones when we start the stacks.

    A stack we start must never share a domain with a live one (a car's stack on the
    default domain 0): an exported ROS_DOMAIN_ID is honoured for one job, otherwise every
    worker gets a domain no DDS participant uses. A running stack (--namespace) is reached
    on the current domain.
    """
    if text:
        first, _, last = text.partition('-')
        return list(range(int(first), int(last or first) + 1))[:max(1, workers)]
    if not own_stacks:
        return [exported_domain(os.environ) or 0]
    if workers <= 1:
        return [isolate_ros_domain()]
    return [claim_free_domain() for _ in range(workers)]


def regression_main(argv: Optional[Sequence[str]] = None) -> int:
    """Replay bags in lock-step, score against their odometry, report; exit 1 on a regression.

    Without --namespace every bag gets a stack of its own (autovla_bringup with the same
    topic map) on a DDS domain of its own; --jobs N runs N such bags side by side.
    """
    parser = argparse.ArgumentParser(prog='run_regression', description=regression_main.__doc__)
    _input_options(parser)
    parser.add_argument('--out', required=True, help='run directory (created)')
    parser.add_argument('--references', help='compare with these references (exit 1 on a '
                                             'regression)')
    parser.add_argument('--update-references', action='store_true')
    parser.add_argument('--note', default='')
    parser.add_argument('--namespace', default='',
                        help='use the stack already running in this namespace instead of '
                             'starting one per bag')
    parser.add_argument('--rig-file', default='', help='stack: camera rig YAML (calibration)')
    parser.add_argument('--model-path', default='', help='stack: planner model directory')
    parser.add_argument('--device', default='cpu', help='stack: planner device')
    parser.add_argument('--params-override', action='append', default=[],
                        metavar='NODE.PARAM=VALUE', help='stack: parameter override; repeatable')
    parser.add_argument('--jobs', type=int, default=1, help='bags replayed side by side')
    parser.add_argument('--domains', default='',
                        help='DDS domains for the stacks, e.g. 50-57 (default: an exported '
                             'ROS_DOMAIN_ID for one job, else free ones)')
    parser.add_argument('--ray', metavar='ADDRESS', default='',
                        help="run the bags on this Ray cluster: 'local' starts one for the run, "
                             "'auto' joins `ray start --head`; --jobs actors, one DDS domain "
                             'each (optional extra: pip install -r requirements/optional.txt)')
    _lockstep_options(parser)
    args = parser.parse_args(argv)
    jobs = _jobs(args)
    config = replace(_config(args), topic_map=_scoring_map(args.topic_map, bool(args.scenarios)))
    rig = args.rig_file or (str(Path(args.scenarios) / RIG_FILE) if args.scenarios else '')
    stack = None if args.namespace else StackSpec(
        args.topic_map, rig, args.model_path, args.device, tuple(args.params_override))
    domains = _domains(args.domains, args.jobs, stack is not None)
    out = Path(args.out)
    if args.ray:
        run_on_ray(args.ray, jobs, out, config, stack, domains)
    else:
        run_jobs(jobs, out, config, stack, domains)
    summary = write_report([(job.name, job.bag) for job in jobs], out, out / 'report.html',
                           config.topic_map, args.anchor_camera, args.note)
    print(summary_text(summary))
    print(f'report: {out / "report.html"}   summary: {out / "summary.json"}')
    if args.references:
        return _print_comparison(compare_run(out, Path(args.references),
                                             update=args.update_references),
                                 args.update_references)
    return 0


if __name__ == '__main__':
    raise SystemExit('autovla_replay.cli holds several tools; run one of replay_bag, '
                     'record_outputs, compute_metrics, compare_runs, make_report, '
                     'run_regression (each has --help)')
