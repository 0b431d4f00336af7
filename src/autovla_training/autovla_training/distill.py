"""Distil a larger teacher into the default model's architecture (``distill_default_model``).

One command, one set of training samples (scenario seeds 1..N, seed 0 held out):
1. the teacher (sim_teacher_model.yaml: same prompts, 4x the decoder weights) is
   behaviour-cloned with train.py's BehaviourCloner and loop;
2. its action-token distributions (softmax over the 2048 action rows of its head at
   ``--temperature``, teacher-forced on the expert's tokens) are computed once per sample;
3. two students of the default architecture start from the same initialisation and get the
   same steps: one trained alone (cross-entropy), one distilled with
   ``(1 - alpha) * cross-entropy + alpha * T^2 * KL(teacher || student)``, the KL over the
   action tokens of the 10 answer positions;
4. the distilled weights and a record with the held-out table (teacher, both students, the
   bundled sim_bc for reference, constant velocity: L2@1/2/3 s, plan collision share,
   safety-accepted share, median latency, parameters) go into the planner's data directory.
"""

import argparse
from pathlib import Path
import tempfile
import time
from typing import Dict, Optional, Sequence

from autovla_planner.model_files import (
    build_tiny_model,
    bundled_model_dir,
    compact_weights,
    DATA_DIR,
    file_sha256,
    TRAINED_CONFIG,
)
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
import numpy as np
import yaml

from autovla_training.dataset import scenario_samples
from autovla_training.train import (
    BehaviourCloner,
    command_line,
    evaluate,
    format_results,
    generate,
    GenerationConfig,
    log,
    teacher_forced_hidden,
    train,
    trainable_rows,
)

TEACHER_CONFIG = DATA_DIR / 'sim_teacher_model.yaml'
DISTILLED_WEIGHTS = DATA_DIR / 'sim_kd_weights.safetensors'
DISTILLED_RECORD = DATA_DIR / 'sim_kd_training.yaml'
DISTILLED_MODEL_ID = 'autovla-tiny-sim-kd'
PROMPT_KEYS = ('min_pixels', 'max_pixels', 'system_prompt')


class DistillingCloner(BehaviourCloner):
    """BehaviourCloner whose loss adds a KL term towards the teacher's action distributions.

    Its training items are ``(sample, teacher action log-probabilities (H, 2048))`` pairs.
    """

    def __init__(self, runtime: PlannerRuntime, rows: np.ndarray, action_weight: float,
                 alpha: float, temperature: float):
        super().__init__(runtime, rows, action_weight)
        first, stop = self.action_range
        self.action_columns = self.row_of[self.torch.arange(first, stop)]
        self.alpha, self.temperature = alpha, temperature

    def sample_loss(self, item):
        """(mixed loss, action tokens right, action tokens) of one (sample, teacher) pair."""
        torch = self.torch
        sample, teacher_log_probs = item
        logits = teacher_forced_hidden(self.runtime, sample) @ self.table.T
        loss, right, count = self.cross_entropy(logits, sample)
        target = torch.as_tensor(sample.target_ids)
        is_action = (target >= self.action_range[0]) & (target < self.action_range[1])
        student = torch.log_softmax(
            logits[is_action][:, self.action_columns] / self.temperature, dim=-1)
        teacher = teacher_log_probs.float()
        kl = (teacher.exp() * (teacher - student)).sum(dim=-1).mean()
        mixed = (1 - self.alpha) * loss + self.alpha * self.temperature ** 2 * kl
        return mixed, right, count


def teacher_log_probs(teacher: PlannerRuntime, samples, temperature: float) -> list:
    """Teacher action-token log-probabilities (H, 2048) per sample, float16."""
    import torch

    first, stop = (teacher.descriptor.first_action_id,
                   teacher.descriptor.first_action_id + teacher.codebook.size)
    results = []
    started = time.monotonic()
    with torch.inference_mode():
        for number, sample in enumerate(samples, 1):
            target = torch.as_tensor(sample.target_ids)
            is_action = (target >= first) & (target < stop)
            hidden = teacher_forced_hidden(teacher, sample)[is_action]
            logits = hidden @ teacher.action_head.T / temperature
            results.append(torch.log_softmax(logits.float(), dim=-1).half())
            if number % 500 == 0:
                log(f'teacher distributions: {number}/{len(samples)} samples, '
                    f'{time.monotonic() - started:.0f} s')
    return results


def parameter_counts(runtime: PlannerRuntime) -> Dict[str, float]:
    """Parameters in millions: all, and without the (mostly zero) token embedding."""
    model = runtime.model
    total = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    return {'parameters_m': round(total / 1e6, 2),
            'parameters_without_embedding_m': round((total - embedding) / 1e6, 2)}


def check_same_prompts(teacher_config: Path, student_config: Path) -> None:
    """Teacher and student must build identical prompts for the samples to be shared."""
    teacher, student = (yaml.safe_load(Path(p).read_text(encoding='utf-8'))
                        for p in (teacher_config, student_config))
    different = [key for key in PROMPT_KEYS if teacher.get(key) != student.get(key)]
    if different:
        raise SystemExit(f'teacher and student configs differ in {different}: their prompts '
                         'would differ')


def parse_args(argv: Optional[Sequence[str]]):
    """Command line of distill_default_model."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--teacher-config', type=Path, default=TEACHER_CONFIG)
    parser.add_argument('--work-dir', type=Path, default=None,
                        help='where scenarios, models and the teacher weights go (default: a '
                        'temp dir)')
    parser.add_argument('--out-dir', type=Path, default=DISTILLED_WEIGHTS.parent,
                        help='where the distilled weights and record are written')
    parser.add_argument('--train-seeds', type=int, default=24,
                        help='training sets use scenario seeds 1..N (0 is held out)')
    parser.add_argument('--teacher-epochs', type=int, default=6)
    parser.add_argument('--epochs', type=int, default=6, help='epochs of each student')
    parser.add_argument('--minutes', type=float, default=60.0,
                        help='time cap of each training run (epochs normally end first)')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--action-weight', type=float, default=5.0)
    parser.add_argument('--alpha', type=float, default=0.5,
                        help='weight of the KL term (1 - alpha: cross-entropy)')
    parser.add_argument('--temperature', type=float, default=2.0,
                        help='softening of both action distributions in the KL term')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--log-every', type=int, default=100)
    parser.add_argument('--threads', type=int, default=1)
    return parser.parse_args(argv)


def held_out_table(work: Path, planners: Dict[str, Optional[PlannerRuntime]]) -> Dict:
    """Evaluate ``planners`` on the held-out demo seed; print and return the table."""
    held_out = generate(work / 'heldout-demo-seed0', GenerationConfig().seed)
    results = evaluate(held_out, planners)
    for name, runtime in planners.items():
        if runtime is not None:
            results[name].update(parameter_counts(runtime))
    log('held-out demo scenarios (seed 0), every frame with a full history:')
    log(format_results(results))
    for result in results.values():
        result.pop('per_scenario')
    return results


def fresh_runtime(directory: Path) -> PlannerRuntime:
    """Load a model directory as a float32 fast-thinking runtime (a model of its own)."""
    return PlannerRuntime(str(directory), 'cpu', 'float32',
                          DecodingSettings(reasoning_mode='fast'))


def save_compact(cloner: BehaviourCloner, rows, path: Path, model_id: str) -> str:
    """Write the cloner's trained model as compact weights; return their SHA-256."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(compact_weights(cloner.model, rows), path,
              metadata={'model_id': model_id, 'format': 'autovla compact v1'})
    return file_sha256(path)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``distill_default_model``."""
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    check_same_prompts(args.teacher_config, TRAINED_CONFIG)
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work_dir or Path(temporary)
        started = time.monotonic()
        train_dirs = [generate(work / f'train-seed{s}', s) for s in range(1, args.train_seeds + 1)]
        build_tiny_model(work / 'student-init', TRAINED_CONFIG)
        build_tiny_model(work / 'teacher-init', args.teacher_config)
        student = fresh_runtime(work / 'student-init')
        samples = [s for d in train_dirs for s in scenario_samples(d, student)]
        rows = trainable_rows(student, samples)
        log(f'{len(samples)} samples from {len(train_dirs)} seeds, '
            f'{time.monotonic() - started:.0f} s')
        runs = {}
        torch.manual_seed(args.seed)
        log(f'teacher: behaviour cloning, {args.teacher_epochs} epochs')
        teacher = BehaviourCloner(fresh_runtime(work / 'teacher-init'), rows,
                                  args.action_weight)
        runs['teacher'] = train(teacher, samples,
                                argparse.Namespace(**{**vars(args),
                                                      'epochs': args.teacher_epochs}))
        teacher.export()
        teacher_sha = save_compact(teacher, rows, work / 'teacher_weights.safetensors',
                                   'autovla-sim-teacher')
        tick = time.monotonic()
        soft_targets = teacher_log_probs(teacher.runtime, samples, args.temperature)
        soft_target_seconds = time.monotonic() - tick
        students = {}
        for name, cloner in (
                ('alone', BehaviourCloner(student, rows, args.action_weight)),
                ('distilled', DistillingCloner(fresh_runtime(work / 'student-init'), rows,
                                               args.action_weight, args.alpha,
                                               args.temperature))):
            log(f'student {name}: {args.epochs} epochs')
            torch.manual_seed(args.seed)
            items = list(zip(samples, soft_targets)) if name == 'distilled' else samples
            runs[name] = train(cloner, items, args)
            cloner.export()
            weights = (args.out_dir / DISTILLED_WEIGHTS.name if name == 'distilled'
                       else work / 'student_alone_weights.safetensors')
            sha256 = save_compact(cloner, rows, weights, f'{DISTILLED_MODEL_ID}-{name}')
            build_tiny_model(work / f'student-{name}', TRAINED_CONFIG, weights, sha256,
                             model_id=DISTILLED_MODEL_ID if name == 'distilled'
                             else 'autovla-tiny-sim-bc-same-steps')
            students[name] = (weights, sha256)
        planners = {
            'teacher (BC, 4x decoder)': teacher.runtime,
            'student distilled': fresh_runtime(work / 'student-distilled'),
            'student alone (same steps)': fresh_runtime(work / 'student-alone'),
            'bundled sim_bc (longer BC)': fresh_runtime(bundled_model_dir('sim_bc')),
            'constant velocity': None}
        rounded = {name: {key: round(value, 2) if isinstance(value, float) else value
                          for key, value in run.items()} for name, run in runs.items()}
        record = {
            'weights_sha256': students['distilled'][1],
            'architecture': TRAINED_CONFIG.name,
            'command': command_line('distill_default_model', argv),
            'settings': {'scenario_seeds': list(range(1, args.train_seeds + 1)),
                         'samples': len(samples), 'embedding_rows': len(rows),
                         'teacher_config': args.teacher_config.name,
                         'teacher_epochs': args.teacher_epochs,
                         'student_epochs': args.epochs, 'batch': args.batch, 'lr': args.lr,
                         'action_weight': args.action_weight, 'alpha': args.alpha,
                         'temperature': args.temperature, 'seed': args.seed,
                         'threads': args.threads, 'torch': str(torch.__version__)},
            'runs': rounded,
            'teacher_weights_sha256': teacher_sha,
            'soft_target_seconds': round(soft_target_seconds),
            'held_out_seed0': held_out_table(work, planners)}
        (args.out_dir / DISTILLED_RECORD.name).write_text(
            yaml.safe_dump(_rounded(record), sort_keys=False), encoding='utf-8')
        log(f'wrote {students["distilled"][0]} and {DISTILLED_RECORD.name}; total '
            f'{time.monotonic() - started:.0f} s')
    return 0


def _rounded(value):
    """``value`` with every float rounded to 4 decimals (readable records)."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


if __name__ == '__main__':
    raise SystemExit(main())
