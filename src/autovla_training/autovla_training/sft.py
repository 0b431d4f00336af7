"""Dual-mode supervised fine-tuning (``train_sft_model``): the model learns when to think.

As AutoVLA's SFT stage does, frames whose expert action is not what cruising would do
(reasoning_data.py: braking for an object, yielding, stopping at a light, turning, changing
lanes) are trained with the slow-thinking turn and their chain of thought; the others with the
fast-thinking direct answer. The mode token (the word after "This is a") is weighted
``--mode-weight`` times so the model's own choice in ``reasoning_mode: auto`` is learnt well.

1. generates the catalogue's TRAINING_TYPES with seeds 1..N (the held-out type
   ``occluded_pedestrian`` and the held-out seeds are never generated for training);
2. starts from the bundled behaviour-cloned weights (``--init bc``) or the seeded
   initialisation (``--init random``) of the same architecture;
3. trains with train.py's BehaviourCloner and loop (one code path);
4. writes the compact weights and ``sim_sft_training.yaml`` into the planner's data directory;
5. evaluates the shipped weights, as the planner materialises them, in ``auto`` mode on the
   held-out seeds (every catalogue type, the held-out type included): L2@1/2/3 s and the
   slow-thinking share per scenario type and on complex and simple frames.
"""

import argparse
import json
from pathlib import Path
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from autovla_planner.model_files import (
    build_tiny_model,
    bundled_files,
    BUNDLED_MODELS,
    DATA_DIR,
    TRAINED_CONFIG,
    TRAINED_RECORD,
    TRAINED_WEIGHTS,
    trained_weights_sha256,
)
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
from autovla_scenarios.catalogue import CATALOGUE, HELD_OUT, TRAINING_TYPES

from autovla_training.dataset import frame_reasoning, scenario_samples
from autovla_training.distill import save_compact
from autovla_training.reasoning_data import ScenarioReasoner
from autovla_training.train import (
    BehaviourCloner,
    command_line,
    evaluate,
    format_results,
    generate,
    load_record,
    log,
    save_record,
    train,
    trainable_rows,
)

SFT_WEIGHTS, SFT_RECORD = bundled_files('sim_sft')
SFT_MODEL_ID = BUNDLED_MODELS['sim_sft']
DEFAULT_HELD_OUT_SEEDS = (0, 901, 902)


def sft_model_dir(directory: Path, weights: Path = SFT_WEIGHTS,
                  record: Path = SFT_RECORD) -> Path:
    """Materialise the dual-mode SFT model into ``directory`` (as the planner loads it)."""
    sha256 = load_record(record)['weights_sha256']
    build_tiny_model(directory, TRAINED_CONFIG, weights, sha256, SFT_MODEL_ID)
    return directory


def parse_args(argv: Optional[Sequence[str]]):
    """Command line of train_sft_model."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', type=Path, default=None,
                        help='where scenarios and model directories go, reused across runs '
                        '(default: a temp dir)')
    parser.add_argument('--out-dir', type=Path, default=DATA_DIR,
                        help='where the weights and training record are written')
    parser.add_argument('--train-seeds', type=int, default=12,
                        help='training sets use scenario seeds 1..N of the TRAINING_TYPES')
    parser.add_argument('--held-out-seeds', default=','.join(map(str, DEFAULT_HELD_OUT_SEEDS)),
                        help='comma-separated seeds of the held-out evaluation (all types)')
    parser.add_argument('--init', choices=('bc', 'random'), default='bc',
                        help='start from the behaviour-cloned weights (--bc-dir) or from the '
                        'seeded initialisation')
    parser.add_argument('--bc-dir', type=Path, default=DATA_DIR,
                        help=f'directory with the behaviour-cloned {TRAINED_WEIGHTS.name} and '
                        f'{TRAINED_RECORD.name} (default: the bundled ones)')
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--minutes', type=float, default=20.0, help='training time budget')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--action-weight', type=float, default=5.0)
    parser.add_argument('--mode-weight', type=float, default=20.0,
                        help='loss weight of the token that chooses fast or slow thinking')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--log-every', type=int, default=50)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--evaluate-only', action='store_true',
                        help='evaluate the weights in --out-dir again (updates the record)')
    args = parser.parse_args(argv)
    args.held_out_seeds = [int(seed) for seed in args.held_out_seeds.split(',') if seed]
    if set(args.held_out_seeds) & set(range(1, args.train_seeds + 1)):
        parser.error('held-out seeds overlap the training seeds 1..N')
    return args


def held_out_evaluation(work: Path, out_dir: Path, seeds: Sequence[int],
                        reasoner: ScenarioReasoner) -> Dict:
    """Evaluate the shipped SFT weights in auto mode on every type of the held-out seeds."""
    model = sft_model_dir(work / 'sft-model', out_dir / SFT_WEIGHTS.name,
                          out_dir / SFT_RECORD.name)
    planners = {f'{SFT_MODEL_ID} (auto)': PlannerRuntime(str(model), 'cpu'),
                'constant velocity': None}

    def is_complex(entry: Dict, stamp_ns: int) -> bool:
        return frame_reasoning(reasoner, entry, stamp_ns).facts.complex

    figures = {}
    for seed in seeds:
        directory = generate(work / f'heldout-seed{seed}', seed, tuple(CATALOGUE))
        started = time.monotonic()
        results = evaluate(directory, planners, labels=is_complex)
        log(f'held-out seed {seed}, all {len(CATALOGUE)} types (held-out type: '
            f'{", ".join(HELD_OUT)}), {time.monotonic() - started:.0f} s:')
        log(format_results(results))
        figures[f'seed{seed}'] = json.loads(json.dumps(results),
                                            parse_float=lambda text: round(float(text), 4))
    return figures


def training_samples(work: Path, args, runtime: PlannerRuntime,
                     reasoner: ScenarioReasoner) -> List:
    """Dual-mode samples of TRAINING_TYPES, seeds 1..N, with progress lines."""
    samples = []
    for seed in range(1, args.train_seeds + 1):
        directory = generate(work / f'sft-seed{seed}', seed, TRAINING_TYPES)
        samples += scenario_samples(directory, runtime, reasoner=reasoner)
        complex_count = sum(1 for sample in samples if sample.complex)
        log(f'seed {seed}: {len(samples)} samples so far, {complex_count} complex')
    return samples


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``train_sft_model``."""
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    reasoner = ScenarioReasoner()
    record_path = args.out_dir / SFT_RECORD.name
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work_dir or Path(temporary)
        if args.evaluate_only:
            record = load_record(record_path)
            record['held_out'] = held_out_evaluation(work, args.out_dir, args.held_out_seeds,
                                                     reasoner)
            save_record(record_path, record)
            return 0
        started = time.monotonic()
        init = work / f'sft-init-{args.init}'
        bc_sha256 = None
        if args.init == 'bc':
            bc_weights, bc_record = bundled_files('sim_bc', args.bc_dir)
            bc_sha256 = trained_weights_sha256(bc_record)
            build_tiny_model(init, TRAINED_CONFIG, bc_weights, bc_sha256, SFT_MODEL_ID)
        else:
            build_tiny_model(init, TRAINED_CONFIG, model_id=SFT_MODEL_ID)
        runtime = PlannerRuntime(str(init), 'cpu', 'float32', DecodingSettings())
        samples = training_samples(work, args, runtime, reasoner)
        rows = trainable_rows(runtime, samples)
        complex_count = sum(1 for sample in samples if sample.complex)
        prepared_s = time.monotonic() - started
        log(f'{len(samples)} samples ({complex_count} complex, trained with reasoning), '
            f'{len(rows)} embedding rows, ready after {prepared_s:.0f} s')
        cloner = BehaviourCloner(runtime, rows, args.action_weight, args.mode_weight)
        run = train(cloner, samples, args)
        cloner.export()
        sha256 = save_compact(cloner, rows, args.out_dir / SFT_WEIGHTS.name, SFT_MODEL_ID)
        record = {
            'weights_sha256': sha256,
            'model_id': SFT_MODEL_ID,
            'architecture': TRAINED_CONFIG.name,
            'command': command_line('train_sft_model', argv),
            'training': {'scenario_types': list(TRAINING_TYPES),
                         'scenario_seeds': list(range(1, args.train_seeds + 1)),
                         'init': args.init, 'init_weights_sha256': bc_sha256,
                         'samples': len(samples),
                         'complex_samples': complex_count, 'embedding_rows': len(rows),
                         'steps': run['steps'], 'epochs': round(run['epochs'], 2),
                         'seconds_preparing': round(prepared_s),
                         'seconds_training': round(run['seconds']), 'batch': args.batch,
                         'lr': args.lr, 'action_weight': args.action_weight,
                         'mode_weight': args.mode_weight, 'seed': args.seed,
                         'threads': args.threads, 'torch': str(torch.__version__)}}
        save_record(record_path, record)
        record['held_out'] = held_out_evaluation(work, args.out_dir, args.held_out_seeds,
                                                 reasoner)
        record['seconds_total'] = round(time.monotonic() - started)
        save_record(record_path, record)
        log(f'wrote {SFT_WEIGHTS.name} and {SFT_RECORD.name} to {args.out_dir}; total '
            f'{time.monotonic() - started:.0f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
