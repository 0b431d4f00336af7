"""``closed_loop``: drive the catalogue in closed loop and print the baseline table.

Baselines (same scenarios, same seeds):
- ``expert``: the scenario's privileged rule-based expert, through the vehicle model;
- ``rule``: the safety node's route following at the road's speed (+ AEB when available),
  no model;
- ``model``: the real stack over DDS, but the car tracks every plan as it is (the safety
  node's commands are ignored; measurement only);
- ``stack``: the real stack over DDS driving the car through the safety node's commands.
The stack is started fresh for every run (``autovla_bringup``, simulated time, namespace
/autovla), so every run starts from the same state: lock-step runs are deterministic.
Runs accumulate in ``<out>/results.json`` (a run replaces an earlier one of the same
baseline, scenario and seed; runs with other timing settings are dropped), so baselines run
one at a time into one directory end in one table, and an interrupted batch keeps its runs.
"""

import argparse
import json
import math
import os
from pathlib import Path
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from autovla_common.rig import load_rig, save_rig
from autovla_common.spin import spinning_node
from autovla_common.testing import executable, NodeProcess
from autovla_safety.config import load_shipped_config
from autovla_scenarios.catalogue import CATALOGUE, make_scenario
from autovla_scenarios.generator import default_rig_path
from autovla_scenarios.render import Renderer, scene_boxes, scene_ground
import numpy as np

from autovla_sim.drivers import ExpertDriver, PlanFollower, RouteFollower
from autovla_sim.loop import DriverLink, LoopConfig, run
from autovla_sim.node import CONTROL_MODEL, CONTROL_STACK, RosLink
from autovla_sim.scoring import score_rollout
from autovla_sim.simulator import ClosedLoopSim, SimConfig
from autovla_sim.vehicle import VehicleModel

NAMESPACE = '/autovla'
BASELINES = ('expert', 'rule', 'model', 'stack')
STACK_BASELINES = {'model': CONTROL_MODEL, 'stack': CONTROL_STACK}
TABLE_COLUMNS = ('PDMS', 'DS', 'collisions')
RUN_KEY = ('baseline', 'scenario', 'seed')
TIMING_KEYS = ('simulated_s', 'latency_aware', 'speed_factor')


def say(message: str) -> None:
    """Print one progress line."""
    print(f'[closed_loop] {message}', flush=True)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog='closed_loop', description=__doc__.split('\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--baselines', default=','.join(BASELINES),
                        help=f'comma-separated subset of {", ".join(BASELINES)}')
    parser.add_argument('--scenarios', default=','.join(CATALOGUE),
                        help='comma-separated catalogue types')
    parser.add_argument('--seeds', default='0', help='comma-separated scenario seeds')
    parser.add_argument('--out', default='out/closed_loop', help='output directory')
    parser.add_argument('--duration', type=float, default=10.0, help='simulated s per run')
    parser.add_argument('--width', type=int, default=800, help='camera width (px)')
    parser.add_argument('--height', type=int, default=450, help='camera height (px)')
    parser.add_argument('--latency-aware', action='store_true',
                        help='planner time passes in simulated time (x --speed-factor)')
    parser.add_argument('--speed-factor', type=float, default=1.0,
                        help='simulated s per wall s of planner time (latency-aware mode)')
    parser.add_argument('--frame-timeout', type=float, default=60.0,
                        help='wall s to wait for the planner to answer a frame (lock-step)')
    parser.add_argument('--model-path', default='', help='planner model (empty = bundled)')
    parser.add_argument('--device', default='auto', choices=('auto', 'cuda', 'cpu'))
    parser.add_argument('--from-results', nargs='+', default=[], metavar='RESULTS_JSON',
                        help="run nothing: print the table of earlier runs' results.json files "
                        '(only the runs of --baselines and --scenarios)')
    parser.add_argument('--fresh', action='store_true',
                        help="discard the runs already in the output's results.json")
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID (default: the exported one, else 1 + pid %% 100)')
    return parser


class Scene:
    """Rendering of one scenario's world at the car's pose (cameras of ``rig``)."""

    def __init__(self, scenario, rig, width: int, height: int):
        self.scenario = scenario
        self.renderer = Renderer(rig, width, height)
        self.ground = scene_ground(scenario)

    def __call__(self, sim: ClosedLoopSim) -> Dict[str, np.ndarray]:
        """BGR image per camera."""
        poses = [(b.x, b.y, b.yaw) for b in sim.agent_boxes()]
        return self.renderer.render(sim.pose(), self.ground,
                                    scene_boxes(self.scenario, sim.time, poses),
                                    self.scenario.lighting)


def write_rig(path: Path, width: int, height: int) -> None:
    """Write the rig at the rendered resolution, for the stack's perception node."""
    save_rig(load_rig(default_rig_path()).resized(width, height), path,
             f'nuScenes rig at {width}x{height}, written by closed_loop')


def start_stack(args: argparse.Namespace, rig_file: Path) -> NodeProcess:
    """Start perception, planner and safety with simulated time in /autovla."""
    command = [executable('autovla_bringup', 'autovla_bringup'), '--use-sim-time',
               '--namespace', NAMESPACE, '--device', args.device, '--rig-file', str(rig_file),
               # The simulator publishes the TF tree itself, as a car's localization would.
               '--params-override', 'perception.publish_odom_tf=false',
               '--params-override', 'perception.publish_camera_frames=false']
    if args.model_path:
        command += ['--model-path', args.model_path]
    return NodeProcess(command)


def run_one(name: str, seed: int, baseline: str, args: argparse.Namespace, rig_file: Path,
            log_dir: Path, on_frame: Optional[Callable] = None) -> Dict[str, object]:
    """One closed-loop run; returns its scores, loop timings and plan summaries."""
    safety = load_shipped_config()
    scenario = make_scenario(name, seed)
    sim = ClosedLoopSim(scenario, VehicleModel(safety.vehicle),
                        SimConfig(duration=args.duration))
    loop_config = LoopConfig(args.latency_aware, args.speed_factor, args.frame_timeout)
    started = time.monotonic()
    plans: List[Dict[str, object]] = []
    if baseline in STACK_BASELINES:
        rig = load_rig(rig_file)
        scene = Scene(scenario, rig, args.width, args.height)
        stack = start_stack(args, rig_file)
        try:
            with spinning_node('closed_loop_sim', NAMESPACE) as node:
                follower = PlanFollower(safety) if baseline == 'model' else None
                link = RosLink(node, sim, rig, STACK_BASELINES[baseline], follower)
                missing = link.wait_for_stack(120.0)
                if missing:
                    say(f'{name}/{seed}: stack not ready: {", ".join(missing)}; running anyway')
                if not link.start_clock(30.0):
                    say(f'{name}/{seed}: no drive_command after the clock started; running '
                        'anyway')
                stats = run(sim, link, scene, loop_config,
                            (lambda sim, images: on_frame(sim, images, link)) if on_frame
                            else None)
                say(f'{name}/{seed}: waited {link.command_wait_s:.1f} s for commands')
                plans = [{'t': round(link.sim_time(p.header.stamp), 3),
                          'slow': p.reasoning_mode == 1, 'explanation': p.explanation,
                          'confidence': round(float(p.confidence), 3)} for p in link.plans]
        finally:
            code = stack.stop(30.0)
            log = log_dir / f'{name}_{seed}_{baseline}.log'
            log.write_text(stack.output(), encoding='utf-8')
        if code != 0:
            say(f'{name}/{seed}: the stack exited with {code} (log: {log})')
    else:
        driver = ExpertDriver(scenario, safety) if baseline == 'expert' else \
            RouteFollower(scenario, safety)
        stats = run(sim, DriverLink(driver, baseline), None, loop_config)
    wall = time.monotonic() - started
    scoring_started = time.monotonic()
    result = score_rollout(sim.rollout, sim.config.handover)
    scoring_s = time.monotonic() - scoring_started
    result.update({
        'scenario': name, 'seed': seed, 'baseline': baseline,
        'latency_aware': args.latency_aware, 'speed_factor': args.speed_factor,
        'wall_s': wall, 'simulated_s': args.duration,
        'timing_s': {'render': stats.render_s, 'stack': stats.stack_s, 'sim': stats.sim_s,
                     'scoring': scoring_s},
        'frames': stats.frames, 'answered': stats.answered, 'timeouts': stats.timeouts,
        'answer_wall_s': stats.answer_latency_s, 'answer_sim_delay_s': stats.answer_sim_delay_s,
        'plans': plans,
        'trajectory': [[round(v, 4) for v in row] for row in sim.rollout.ego_array()[::5]],
    })
    return result


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def baseline_table(results: Sequence[Dict[str, object]]) -> str:
    """Markdown: per scenario (mean over seeds) PDMS / DS / collisions of each baseline."""
    baselines = [b for b in BASELINES if any(r['baseline'] == b for r in results)]
    order = list(CATALOGUE)
    scenarios = sorted(set(r['scenario'] for r in results),
                       key=lambda name: order.index(name) if name in order else len(order))
    seeds = sorted(set(r['seed'] for r in results))
    header = '| scenario | ' + ' | '.join(f'{b} PDMS / DS / coll.' for b in baselines) + ' |'
    lines = [f'Seeds {", ".join(map(str, seeds))}; a cell: mean PDMS / mean driving score / '
             'at-fault collisions over the runs of that scenario (runs in the table below).',
             '', header, '|' + '---|' * (len(baselines) + 1)]

    def cell(rows) -> str:
        if not rows:
            return '-'
        return (f'{_mean([r["pdms"] for r in rows]):.2f} / '
                f'{_mean([r["driving_score"] for r in rows]):.0f} / '
                f'{sum(r["at_fault_collisions"] for r in rows)}')

    for scenario in scenarios:
        lines.append(f'| {scenario} | ' + ' | '.join(
            cell([r for r in results if r['scenario'] == scenario and r['baseline'] == b])
            for b in baselines) + ' |')
    lines.append('| **mean / total** | ' + ' | '.join(
        cell([r for r in results if r['baseline'] == b]) for b in baselines) + ' |')
    lines += ['', '| baseline | runs | PDMS | DS | at-fault collisions | red lights run | '
              'min TTC (s) | max lat. accel (m/s^2) | comfort | planner share | '
              'safety modes (s, mean per run) |', '|' + '---|' * 11]
    for b in baselines:
        rows = [r for r in results if r['baseline'] == b]
        modes: Dict[str, float] = {}
        for r in rows:
            for mode, seconds in r['safety_time_s'].items():
                modes[mode] = modes.get(mode, 0.0) + seconds / len(rows)
        min_ttc = min(r['min_ttc_s'] for r in rows)
        lines.append(
            f'| {b} | {len(rows)} | {_mean([r["pdms"] for r in rows]):.3f} | '
            f'{_mean([r["driving_score"] for r in rows]):.1f} | '
            f'{sum(r["at_fault_collisions"] for r in rows)} | '
            f'{sum(r["red_lights_run"] for r in rows)} | '
            f'{min_ttc:.1f} | '
            f'{max(r["comfort_figures"].get("max_abs_lat_accel", 0.0) for r in rows):.2f} | '
            f'{_mean([r["terms"]["comfort"] for r in rows]):.2f} | '
            f'{_mean([r["planner_share"] for r in rows]):.2f} | '
            + (', '.join(f'{m} {s:.1f}' for m, s in sorted(modes.items())) or '-') + ' |')
    return '\n'.join(lines)


def earlier_results(path: Path, args: argparse.Namespace) -> List[Dict[str, object]]:
    """Return the runs in ``path`` made with the same timing settings (none with --fresh)."""
    if args.fresh or not path.exists():
        return []
    earlier = json.loads(path.read_text(encoding='utf-8'))
    timing = {'simulated_s': args.duration, 'latency_aware': args.latency_aware,
              'speed_factor': args.speed_factor}
    kept = [r for r in earlier if all(r.get(key) == timing[key] for key in TIMING_KEYS)]
    say(f'{len(kept)} earlier runs kept from {path}'
        + (f'; {len(earlier) - len(kept)} with other timing settings dropped'
           if len(kept) < len(earlier) else ''))
    return kept


def merge_result(results: List[Dict[str, object]],
                 result: Dict[str, object]) -> List[Dict[str, object]]:
    """Return ``results`` with ``result`` replacing a run of its baseline, scenario, seed."""
    key = tuple(result[k] for k in RUN_KEY)
    return [r for r in results if tuple(r[k] for k in RUN_KEY) != key] + [result]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run every (baseline, scenario, seed); write results.json and table.md; print the table."""
    args = build_parser().parse_args(argv)
    baselines = [b for b in args.baselines.split(',') if b]
    names = [n for n in args.scenarios.split(',') if n]
    unknown = [b for b in baselines if b not in BASELINES] + \
        [n for n in names if n not in CATALOGUE]
    if unknown:
        print(f'closed_loop: unknown baseline or scenario: {", ".join(unknown)}', file=sys.stderr)
        return 2
    if args.from_results:
        results = [row for path in args.from_results
                   for row in json.loads(Path(path).read_text(encoding='utf-8'))
                   if row['baseline'] in baselines and row['scenario'] in names]
        print(baseline_table(results), flush=True)
        return 0
    seeds = [int(s) for s in args.seeds.split(',') if s]
    if args.domain_id is not None:
        os.environ['ROS_DOMAIN_ID'] = str(args.domain_id)
    os.environ.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rig_file = out / 'rig.yaml'
    write_rig(rig_file, args.width, args.height)
    results = earlier_results(out / 'results.json', args)
    for baseline in baselines:
        for name in names:
            for seed in seeds:
                result = run_one(name, seed, baseline, args, rig_file, out)
                results = merge_result(results, result)
                say(f'{baseline:6s} {name}/{seed}: PDMS {result["pdms"]:.2f}, DS '
                    f'{result["driving_score"]:.0f}, at-fault collisions '
                    f'{result["at_fault_collisions"]}, {result["wall_s"]:.1f} s wall')
                # After every run: a long batch interrupted keeps what it has done.
                (out / 'results.json').write_text(
                    json.dumps(results, indent=1, default=float) + '\n', encoding='utf-8')
    table = baseline_table(results)
    (out / 'table.md').write_text(table + '\n', encoding='utf-8')
    print(table, flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
