"""``rft_tables``: the adaptive-reasoning / RFT tables on held-out seeds and the held-out type.

Rows: the bundled behaviour-cloned model (fast-only), the dual-mode SFT model, SFT + RFT,
and the final model forced fast, forced slow and adaptive (``auto``). Each model is
materialised from its compact weights in the planner's data directory exactly as the planner
does, and plans greedily on CPU (one torch thread).

Open loop, every ``--frame-stride``-th frame with a full history of the held-out sets (seeds
``--seeds`` of every catalogue type; the held-out type ``occluded_pedestrian`` is reported
apart): PDMS of the plan against the scenario's future (autovla_sim.scoring.score_plan, the
RFT reward without its penalty), at-fault collision share, comfort share, L2@3s to the expert,
slow-thinking share, mean and p95 planner latency. Closed loop (``--closed-loop``): the
``closed_loop`` runner's ``model`` baseline (the real stack over DDS, the car tracks every plan
as it is) on a few scenarios of the first seed: driving score, PDMS, at-fault collisions.
"""

import argparse
import json
import math
from pathlib import Path
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from autovla_planner.model_files import (
    bundled_files,
    bundled_model_dir,
    DATA_DIR,
    trained_weights_sha256,
)
from autovla_planner.reasoning_policy import SLOW
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
from autovla_scenarios.catalogue import CATALOGUE, HELD_OUT
import numpy as np

from autovla_training.dataset import bag_observations, frame_reasoning, l2_at, scenario_set
from autovla_training.reasoning_data import ScenarioReasoner
from autovla_training.reward import ScenarioReward
from autovla_training.train import command_line, generate, log

MODEL_CHOICE = 0.5   # slow_threshold of the model's own pick
MAIN_ROWS = (('BC fast-only (sim_bc)', 'sim_bc', 'auto', MODEL_CHOICE),
             ('dual-mode SFT (sim_sft)', 'sim_sft', 'auto', MODEL_CHOICE),
             ('SFT + RFT (sim_rft)', 'sim_rft', 'auto', MODEL_CHOICE))
ABLATIONS = ('fast', 'auto', 'slow')   # slow last: the longest row
COLUMNS = ('frames', 'PDMS', 'PDMS complex', 'collisions', 'comfort', 'L2@3s (m)',
           'slow share', 'slow complex', 'slow simple', 'latency mean (ms)', 'latency p95 (ms)')


def materialise(prefix: str, data_dir: Path) -> Optional[Tuple[Path, str]]:
    """Model directory and weights SHA-256 of the ``prefix`` model (None: not there).

    The planner's own materialisation (``bundled_model_dir``), from ``data_dir``'s files.
    """
    weights, record = bundled_files(prefix, data_dir)
    if not weights.is_file() or not record.is_file():
        return None
    return bundled_model_dir(prefix, data_dir), trained_weights_sha256(record)


def cached(path: Path, key: Dict, compute: Callable[[], object]):
    """``compute()``, stored in ``path`` with ``key`` and reused while the key is the same.

    The key holds the weights' SHA-256 and the evaluation settings, so a retrained model or
    other settings are measured again and an unchanged row is not.
    """
    if path.is_file():
        stored = json.loads(path.read_text(encoding='utf-8'))
        if stored.get('key') == key:
            log(f'reusing {path} (same weights and settings)')
            return stored['value']
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({'key': key, 'value': value}, indent=1) + '\n', encoding='utf-8')
    return value


def open_loop(runtime: PlannerRuntime, sets: Dict[int, Path], stride: int,
              reasoner: ScenarioReasoner) -> List[Dict]:
    """One row per evaluated frame: scenario, seed, label, PDMS, collision, comfort, L2, ms."""
    rows = []
    for seed, directory in sets.items():
        entries, rig = scenario_set(directory)
        for entry in entries:
            name = entry['name']
            reward = ScenarioReward(name, seed)
            frames = bag_observations(directory / name, rig, runtime.descriptor.horizon)
            for k, frame in enumerate(frames):
                if k % stride:
                    continue
                plan = runtime.plan(frame.observation)
                score = reward(frame.stamp_ns, plan.poses)
                rows.append({'scenario': name, 'seed': seed, 'pdms': score['pdms'],
                             'complex': frame_reasoning(reasoner, entry,
                                                        frame.stamp_ns).facts.complex,
                             'collision': score['collision'], 'comfort': score['comfort'],
                             'l2_3s': l2_at(plan.poses, frame.expert, 3.0),
                             'slow': float(plan.mode == SLOW),
                             'latency_ms': plan.latencies_ms['total']})
    return rows


def summary(rows: Sequence[Dict]) -> Dict[str, float]:
    """Table columns of some frame rows."""
    if not rows:
        return {}
    latency = np.array([r['latency_ms'] for r in rows])

    def mean(key: str, complex_frames: Optional[bool] = None) -> float:
        values = [r[key] for r in rows if complex_frames is None
                  or r['complex'] == complex_frames]
        return float(np.mean(values)) if values else math.nan

    return {'frames': len(rows), 'PDMS': mean('pdms'), 'PDMS complex': mean('pdms', True),
            'collisions': mean('collision'), 'comfort': mean('comfort'),
            'L2@3s (m)': mean('l2_3s'),
            'slow share': mean('slow'), 'slow complex': mean('slow', True),
            'slow simple': mean('slow', False),
            'latency mean (ms)': float(latency.mean()),
            'latency p95 (ms)': float(np.percentile(latency, 95))}


CLOSED_LOOP_COLUMNS = ('runs', 'driving score', 'PDMS', 'at-fault collisions', 'slow share',
                       'answer mean (ms)', 'answer p95 (ms)')


def closed_loop_summary(runs: Sequence[Dict]) -> Dict[str, float]:
    """Closed-loop columns of one model's runs (answer = wall time from frame to plan)."""
    answers = [ms for run in runs for ms in run.get('answer_ms', [])]
    return {'runs': len(runs),
            'driving score': float(np.mean([r['driving_score'] for r in runs])),
            'PDMS': float(np.mean([r['pdms'] for r in runs])),
            'at-fault collisions': sum(r['at_fault_collisions'] for r in runs),
            'slow share': float(np.nanmean([r['slow_share'] for r in runs])),
            'answer mean (ms)': float(np.mean(answers)) if answers else math.nan,
            'answer p95 (ms)': float(np.percentile(answers, 95)) if answers else math.nan}


def markdown(title: str, table: Dict[str, Dict[str, float]], columns=COLUMNS) -> str:
    """Format a markdown table: one row per model, ``columns`` as given."""
    lines = [f'{title}', '', '| model | ' + ' | '.join(columns) + ' |',
             '|---|' + '---:|' * len(columns)]
    for name, values in table.items():
        cells = []
        for column in columns:
            value = values.get(column, math.nan)
            cells.append(str(value) if isinstance(value, int) else
                         f'{value:.0f}' if 'ms' in column or 'score' in column else
                         f'{value:.3f}')
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def closed_loop_runs(model_dir: Path, scenarios: Sequence[str], seed: int, out: Path,
                     baseline: str, latency_aware: bool) -> List[Dict]:
    """``closed_loop`` runs of one model (baseline ``model`` or ``stack``)."""
    from autovla_sim import cli

    out.mkdir(parents=True, exist_ok=True)
    args = cli.build_parser().parse_args(['--model-path', str(model_dir), '--device', 'cpu']
                                         + ['--latency-aware'] * latency_aware)
    rig_file = out / 'rig.yaml'
    cli.write_rig(rig_file, args.width, args.height)
    results = []
    for name in scenarios:
        result = cli.run_one(name, seed, baseline, args, rig_file, out)
        log(f'closed loop {model_dir.name} {name}/{seed}: DS {result["driving_score"]:.0f}, '
            f'PDMS {result["pdms"]:.2f}, at-fault collisions {result["at_fault_collisions"]}')
        results.append({key: result[key] for key in ('scenario', 'seed', 'baseline', 'pdms',
                                                     'driving_score', 'at_fault_collisions')}
                       | {'slow_share': float(np.mean([p['slow'] for p in result['plans']]))
                          if result['plans'] else math.nan,
                          'answer_ms': [round(1e3 * s, 1) for s in result['answer_wall_s']]})
    return results


def parse_args(argv: Optional[Sequence[str]]):
    """Command line of rft_tables."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--work-dir', type=Path, default=None,
                        help='where held-out scenarios and model directories go (temp dir)')
    parser.add_argument('--out', type=Path, default=Path('out/rft_tables'),
                        help='where tables.md and results.json are written')
    parser.add_argument('--data-dir', type=Path, default=DATA_DIR,
                        help="models found here are used instead of the planner's data "
                        'directory (candidates before they ship)')
    parser.add_argument('--seeds', default='0,901',
                        help='held-out scenario seeds (train_sft_model holds out 0, 901, 902)')
    parser.add_argument('--ablation-seeds', default='',
                        help='seeds of the fast / slow / auto ablation rows (default: --seeds; '
                        'slow thinking costs seconds per plan on this CPU)')
    parser.add_argument('--frame-stride', type=int, default=3, help='evaluate every n-th frame')
    parser.add_argument('--final', default='sim_rft',
                        help='bundled model whose fast / slow / auto ablations are run')
    parser.add_argument('--slow-thresholds', default='0.1,0.02',
                        help='extra auto ablation rows of --final with these slow_threshold '
                        "values (the planner parameter; 0.5 is the model's own pick)")
    parser.add_argument('--closed-loop', default='stopped_vehicle,pedestrian_crossing,'
                        'occluded_pedestrian',
                        help='closed-loop scenarios on the first seed (empty: none)')
    parser.add_argument('--closed-loop-baseline', choices=('model', 'stack'), default='model')
    parser.add_argument('--closed-loop-latency-aware', action='store_true',
                        help='closed loop in latency-aware mode (the world moves on while the '
                        'planner thinks) instead of lock-step')
    parser.add_argument('--threads', type=int, default=1, help='torch threads')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``rft_tables``: evaluate, print and write the tables."""
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(',') if s]
    ablation_seeds = [int(s) for s in args.ablation_seeds.split(',') if s] or seeds
    if not set(ablation_seeds) <= set(seeds):
        raise SystemExit('rft_tables: --ablation-seeds must be a subset of --seeds')
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work_dir or Path(temporary)
        started = time.monotonic()
        sets = {seed: generate(work / f'heldout-seed{seed}', seed, tuple(CATALOGUE))
                for seed in seeds}
        log(f'held-out sets ready in {time.monotonic() - started:.0f} s')
        thresholds = [float(t) for t in args.slow_thresholds.split(',') if t]
        rows = list(MAIN_ROWS) + [
            (f'{args.final} {mode}', args.final, mode, MODEL_CHOICE) for mode in ABLATIONS] + [
            (f'{args.final} auto, slow above {t:g}', args.final, 'auto', t) for t in thresholds]
        reasoner = ScenarioReasoner()
        frames: Dict[str, List[Dict]] = {}
        closed: Dict[str, List[Dict]] = {}
        scenarios = [s for s in args.closed_loop.split(',') if s]
        for label, prefix, mode, threshold in rows:
            data_dir = args.data_dir if (args.data_dir / f'{prefix}_training.yaml').is_file() \
                else DATA_DIR
            model = materialise(prefix, data_dir)
            if model is None:
                log(f'{label}: no {prefix}_* weights in {data_dir}; row left out')
                continue
            directory, sha256 = model

            main_row = (label, prefix, mode, threshold) in MAIN_ROWS
            row_seeds = seeds if main_row else ablation_seeds

            def measure(directory=directory, mode=mode, label=label, row_seeds=row_seeds,
                        threshold=threshold):
                runtime = PlannerRuntime(str(directory), 'cpu', 'float32', DecodingSettings(
                    reasoning_mode=mode, slow_threshold=threshold))
                tick = time.monotonic()
                result = open_loop(runtime, {seed: sets[seed] for seed in row_seeds},
                                   args.frame_stride, reasoner)
                log(f'{label}: {len(result)} frames in {time.monotonic() - tick:.0f} s')
                return result

            name = '_'.join([prefix, mode] + [str(seed) for seed in row_seeds])
            key = {'sha256': sha256, 'seeds': row_seeds, 'mode': mode,
                   'stride': args.frame_stride}
            if threshold != MODEL_CHOICE:
                name, key['slow_threshold'] = f'{name}_slow_above_{threshold:g}', threshold
            frames[label] = cached(args.out / 'rows' / f'{name}.json', key, measure)
            if scenarios and main_row:
                closed[label] = cached(
                    args.out / 'rows' / f'{prefix}_closed_loop.json',
                    {'sha256': sha256, 'seed': seeds[0], 'scenarios': scenarios,
                     'baseline': args.closed_loop_baseline,
                     'latency_aware': args.closed_loop_latency_aware},
                    lambda directory=directory, prefix=prefix: closed_loop_runs(
                        directory, scenarios, seeds[0], args.out / 'closed_loop' / prefix,
                        args.closed_loop_baseline, args.closed_loop_latency_aware))
        seen = {label: [r for r in result if r['scenario'] not in HELD_OUT]
                for label, result in frames.items()}
        unseen = {label: [r for r in result if r['scenario'] in HELD_OUT]
                  for label, result in frames.items()}
        text = [markdown(f'Held-out seeds {seeds} (ablation rows: {ablation_seeds}), training '
                         f'types, every {args.frame_stride}th frame (open loop)',
                         {label: summary(r) for label, r in seen.items()}), '',
                markdown(f'Held-out type {", ".join(HELD_OUT)}, same seeds (open loop)',
                         {label: summary(r) for label, r in unseen.items()})]
        if closed:
            timing = 'latency-aware' if args.closed_loop_latency_aware else 'lock-step'
            text += ['', markdown(
                f'Closed loop ({args.closed_loop_baseline} baseline, {timing}), seed '
                f'{seeds[0]}: {", ".join(scenarios)}',
                {label: closed_loop_summary(r) for label, r in closed.items()},
                CLOSED_LOOP_COLUMNS)]
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / 'tables.md').write_text('\n'.join(text) + '\n', encoding='utf-8')
        (args.out / 'results.json').write_text(json.dumps(
            {'command': command_line('rft_tables', argv),
             'open_loop': frames, 'closed_loop': closed}, indent=1) + '\n', encoding='utf-8')
        print('\n'.join(text), flush=True)
        log(f'total {time.monotonic() - started:.0f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
