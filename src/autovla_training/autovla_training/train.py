"""Behaviour-clone the bundled default model on synthetic scenarios; evaluate it held out.

``train_default_model`` (see ``main``):
1. generates training scenario sets with seeds 1..N (the demo uses seed 0: kept held out);
2. builds the tiny model of sim_bc_model.yaml (seeded init) and a PlannerRuntime on it, whose
   ``prepare`` and ``fast_answer_ids`` make the samples (autovla_training.dataset);
3. trains with AdamW on the cross-entropy of the assistant turn over the full vocabulary,
   action tokens weighted ``--action-weight`` times the text tokens;
4. writes the compact weights and the training record into the planner's data directory;
5. materialises the shipped model exactly as the planner does and compares it on the
   held-out demo-seed scenarios with the untrained tiny model and constant velocity.

Embedding rows: only the rows of tokens that occur in training (prompts, targets, every
action token, digits and every instruction) are trained and shipped; every other row of the
tied embedding is zero during training and after loading, so the logits the training loss
sees are exactly the shipped model's. Their softmax share is computed in closed form (the
zero rows give logit 0), so the 153k-row LM head is never multiplied out.
"""

import argparse
from collections import Counter
import json
import math
from pathlib import Path
import shutil
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

from ament_index_python.packages import get_package_share_directory
from autovla_common.params import load_defaults
from autovla_common.rig import load_rig
from autovla_perception.conversions import to_time
from autovla_planner.batching import plan_batch
from autovla_planner.model_files import (
    build_tiny_model,
    compact_weights,
    file_sha256,
    random_model_dir,
    TRAINED_CONFIG,
    TRAINED_RECORD,
    TRAINED_WEIGHTS,
)
from autovla_planner.observation import COMMANDS
from autovla_planner.prompt import PromptInputs
from autovla_planner.ros_interface import trajectory_msg
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
from autovla_replay.metrics import ego_collisions
from autovla_replay.scoring import FrameTruth, load_truth, to_world
from autovla_safety.config import SafetyConfig
from autovla_safety.validator import validate_plan
from autovla_scenarios.catalogue import DEFAULT_SET
from autovla_scenarios.generator import (
    generate_set,
    GenerationConfig,
    RIG_FILE,
    scenario_topic_map,
)
import numpy as np
from std_msgs.msg import Header
import yaml

from autovla_safety import conversions as safety_msgs
from autovla_training.dataset import (
    bag_observations,
    BagFrame,
    l2_at,
    Sample,
    scenario_samples,
)

HORIZONS_S = (1.0, 2.0, 3.0)
MIN_CONFIDENCE = 0.3   # config/safety.yaml validator.min_confidence (reported against)


def log(message: str) -> None:
    """Print a progress line at once."""
    print(message, flush=True)


def command_line(program: str, argv: Optional[Sequence[str]]) -> str:
    """Return the command a training record names (``argv``, else this process's)."""
    return ' '.join([program, *(argv if argv is not None else sys.argv[1:])])


def load_record(path: Path) -> dict:
    """Read a training record (YAML) written by ``save_record``."""
    return yaml.safe_load(path.read_text(encoding='utf-8'))


def save_record(path: Path, record: dict) -> None:
    """Write a training record (YAML, keys in the order given) next to its weights."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(record, sort_keys=False), encoding='utf-8')


def generate(out_dir: Path, seed: int, names: Sequence[str] = DEFAULT_SET) -> Path:
    """Generate the scenarios ``names`` with ``seed``, reusing a set already there if it is one.

    Stages share work directories, so a set made for other scenarios or another seed is made
    again (it would otherwise be evaluated under the wrong name).
    """
    index = out_dir / 'index.json'
    if index.is_file():
        held = json.loads(index.read_text(encoding='utf-8'))
        if sorted(entry['name'] for entry in held['scenarios']) == sorted(names) and \
                held['config']['seed'] == seed:
            return out_dir
        log(f'{out_dir} holds another scenario set; generating {len(names)} scenarios with '
            f'seed {seed} there instead')
        shutil.rmtree(out_dir)
    generate_set(out_dir, names, config=GenerationConfig(seed=seed))
    return out_dir


def trainable_rows(runtime: PlannerRuntime, samples: Sequence[Sample]) -> np.ndarray:
    """Token ids whose embedding rows are trained and shipped."""
    ids = set(range(runtime.descriptor.first_action_id,
                    runtime.descriptor.first_action_id + runtime.codebook.size))
    wording = runtime.descriptor.instruction_wording
    words = ' '.join(runtime.template.instruction(c, wording) for c in COMMANDS) \
        + ' 0123456789.-'
    ids.update(runtime.tokenizer.encode(words, add_special_tokens=False))
    for sample in samples:
        ids.update(int(i) for i in sample.inputs.input_ids)
        ids.update(sample.target_ids)
    return np.array(sorted(ids), dtype=np.int64)


def teacher_forced_hidden(runtime: PlannerRuntime, sample: Sample):
    """Last hidden states of ``runtime``'s model predicting each target token of ``sample``."""
    import torch

    inputs = sample.inputs
    fed = np.concatenate([inputs.input_ids, sample.target_ids[:-1]])
    full = PromptInputs(fed, np.concatenate([inputs.token_types,
                                             np.zeros(len(sample.target_ids) - 1, np.int64)]),
                        inputs.pixel_values_videos, inputs.video_grid_thw,
                        inputs.seconds_per_grid)
    positions, _ = runtime.rope_positions(full)
    hidden = runtime.model.model(
        input_ids=torch.as_tensor(fed)[None], position_ids=positions, use_cache=False,
        pixel_values_videos=torch.as_tensor(inputs.pixel_values_videos),
        video_grid_thw=torch.as_tensor(inputs.video_grid_thw)).last_hidden_state[0]
    return hidden[len(inputs.input_ids) - 1:]


class BehaviourCloner:
    """The runtime's model with a compact trainable embedding table."""

    def __init__(self, runtime: PlannerRuntime, rows: np.ndarray, action_weight: float,
                 mode_weight: float = 1.0):
        import torch

        self.torch = torch
        self.runtime = runtime
        self.model = runtime.model.train()
        embedding = self.model.get_input_embeddings().weight
        embedding.requires_grad_(False)
        self.vocabulary = embedding.shape[0]
        self.rows = torch.as_tensor(rows)
        self.table = torch.nn.Parameter(embedding[self.rows].clone())
        self.row_of = torch.full((self.vocabulary,), len(rows), dtype=torch.long)
        self.row_of[self.rows] = torch.arange(len(rows))
        self.action_weight = action_weight
        # The first token after "<think>\nThis is a" decides fast or slow thinking (auto mode).
        self.mode_position = len(runtime.shared_ids)
        self.mode_weight = mode_weight
        first = runtime.descriptor.first_action_id
        self.action_range = (first, first + runtime.codebook.size)
        # Input embeddings come from the compact table (unused ids: the zero row).
        self._hook = self.model.get_input_embeddings().register_forward_hook(
            lambda module, args, output: torch.nn.functional.embedding(
                self.row_of[args[0]],
                torch.cat([self.table, self.table.new_zeros(1, self.table.shape[1])])))

    def parameters(self) -> List:
        """Everything trained: the non-embedding weights and the compact table."""
        return [p for p in self.model.parameters() if p.requires_grad] + [self.table]

    def sample_loss(self, sample: Sample):
        """(weighted loss, action tokens right, action tokens) of one teacher-forced sample."""
        return self.cross_entropy(teacher_forced_hidden(self.runtime, sample) @ self.table.T,
                                  sample)

    def log_normaliser(self, logits):
        """Log of the full-vocabulary softmax denominator of compact-table ``logits``.

        The rows outside the table are zero, so their logits are 0: their share is closed-form.
        """
        torch = self.torch
        zero_rows = math.log(self.vocabulary - len(self.rows))   # logsumexp of the 0 logits
        return torch.logsumexp(torch.cat(
            [logits, logits.new_full((len(logits), 1), zero_rows)], dim=1), dim=1)

    def sync_embedding(self) -> None:
        """Copy the compact table into the model's embedding (and so its tied head)."""
        with self.torch.no_grad():
            self.model.get_input_embeddings().weight[self.rows] = self.table

    def cross_entropy(self, logits, sample: Sample):
        """(weighted loss, action tokens right, action tokens) of compact-table ``logits``."""
        torch = self.torch
        target = torch.as_tensor(sample.target_ids)
        target_rows = self.row_of[target]
        nll = self.log_normaliser(logits) - logits.gather(1, target_rows[:, None])[:, 0]
        is_action = (target >= self.action_range[0]) & (target < self.action_range[1])
        weights = torch.where(is_action, self.action_weight, 1.0)
        weights[self.mode_position] = self.mode_weight
        loss = (weights * nll).sum() / weights.sum()
        right = (logits.argmax(1) == target_rows)[is_action]
        return loss, int(right.sum()), int(is_action.sum())

    def export(self) -> None:
        """Write the compact table into the model (other rows zero); remove the hook."""
        torch = self.torch
        self._hook.remove()
        with torch.no_grad():
            self.model.get_input_embeddings().weight.zero_()
        self.sync_embedding()
        self.model.eval()


def learning_rate_factor(progress: float, warmup: float = 0.05) -> float:
    """Linear warm-up over the first ``warmup`` of training, then cosine decay to 10 %."""
    if progress < warmup:
        return (progress + 1e-3) / warmup
    return 0.1 + 0.45 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train(cloner: BehaviourCloner, samples: List[Sample], args) -> Dict[str, float]:
    """AdamW over ``epochs`` or ``minutes``, whichever ends first.

    Progress (for the learning-rate schedule) is the larger of the step and time fractions,
    so a run cut by the time budget still ends with a decayed learning rate.
    """
    torch = cloner.torch
    generator = np.random.default_rng(args.seed)
    optimizer = torch.optim.AdamW(cloner.parameters(), lr=args.lr, weight_decay=0.01)
    total = math.ceil(len(samples) / args.batch) * args.epochs
    budget_s = args.minutes * 60
    started = time.monotonic()
    step, loss_sum, right, count = 0, 0.0, 0, 0
    for epoch in range(args.epochs):
        order = generator.permutation(len(samples))
        for start in range(0, len(order), args.batch):
            elapsed = time.monotonic() - started
            progress = max(step / total, elapsed / budget_s)
            if progress >= 1.0:
                log(f'time budget of {args.minutes} min reached at step {step}')
                return {'steps': step, 'epochs': epoch + start / len(order),
                        'seconds': elapsed}
            for group in optimizer.param_groups:
                group['lr'] = args.lr * learning_rate_factor(progress)
            for index in order[start:start + args.batch]:
                loss, hits, tokens = cloner.sample_loss(samples[index])
                (loss / args.batch).backward()
                loss_sum += float(loss.detach())
                right, count = right + hits, count + tokens
            torch.nn.utils.clip_grad_norm_(cloner.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            if step % args.log_every == 0 or step == total:
                seen = count / cloner.runtime.descriptor.horizon
                log(f'epoch {epoch + 1}/{args.epochs} step {step}/{total}  loss '
                    f'{loss_sum / seen:.3f}  action acc (teacher forced) '
                    f'{right / max(count, 1):.3f}  lr {optimizer.param_groups[0]["lr"]:.2e}  '
                    f'{time.monotonic() - started:.0f} s')
                loss_sum, right, count = 0.0, 0, 0
    return {'steps': step, 'epochs': args.epochs, 'seconds': time.monotonic() - started}


def constant_velocity(speed: float, horizon: int) -> np.ndarray:
    """Straight ahead at the current speed, 0.5 s steps."""
    times = 0.5 * np.arange(1, horizon + 1)
    return np.stack([speed * times, np.zeros(horizon), np.zeros(horizon)], axis=1)


class SafetyCheck:
    """The safety node's plan validator with its YAML defaults (ROS-free core, same messages).

    A plan goes through the planner's PlannedTrajectory conversion and the safety node's
    ``plan_from_msg``; ``now`` is the plan's own stamp (no inference delay: age never fails).
    """

    def __init__(self):
        share = Path(get_package_share_directory('autovla_safety'))
        self.config = SafetyConfig.from_params(
            load_defaults(share / 'config' / 'safety.yaml', 'safety_node'))

    def faults(self, plan, frame: BagFrame, model_id: str) -> List[str]:
        """Names of the validator checks the plan fails (empty = accepted)."""
        header = Header(stamp=to_time(frame.stamp_ns), frame_id='base_link')
        message = trajectory_msg(plan, header, frame.observation.speed, model_id)
        route = safety_msgs.route_from_path(frame.route) if frame.route else None
        faults = validate_plan(safety_msgs.plan_from_msg(message), frame.stamp_ns * 1e-9,
                               safety_msgs.ego_from_odometry(frame.odometry), route,
                               self.config.vehicle, self.config.validator)
        return sorted({fault.name for fault in faults})


def plan_collides(truth: FrameTruth, poses: np.ndarray) -> float:
    """1.0 if the ego box along ``poses`` (0.5 s steps) overlaps an agent box at that time."""
    times = truth.expert_t[:len(poses)]
    boxes = [truth.agents_at.get(truth.stamp + int(round(t * 1e9)), []) for t in times]
    hits = ego_collisions(to_world(truth.ego, poses[:len(times)]), boxes)
    return float(np.nansum(hits) > 0)


def plan_frames(runtime: PlannerRuntime, frames: List[BagFrame], batch_size: int) -> list:
    """Plan ``frames`` one by one, or ``batch_size`` at a time (batching.plan_batch)."""
    if batch_size <= 1:
        return [runtime.plan(frame.observation) for frame in frames]
    plans = []
    for start in range(0, len(frames), batch_size):
        for plan in plan_batch(runtime, [f.observation for f in frames[start:start + batch_size]]):
            if isinstance(plan, Exception):
                raise plan
            plans.append(plan)
    return plans


def evaluate(scenario_dir: Path, planners: Dict[str, Optional[PlannerRuntime]],
             plans: Optional[Dict[str, list]] = None, batch_size: int = 1,
             labels: Optional[Callable[[Dict, int], bool]] = None) -> Dict:
    """Held-out metrics per planner (None = constant velocity) over every scenario frame.

    ``plans``, when given, receives each planner's action indices frame by frame;
    ``batch_size`` > 1 plans the frames of a scenario in batches; ``labels(index entry,
    stamp_ns)`` (True = complex) adds the slow-thinking share on complex and simple frames.
    """
    index = json.loads((scenario_dir / 'index.json').read_text(encoding='utf-8'))
    rig = load_rig(scenario_dir / RIG_FILE)
    rows = {name: [] for name in planners}
    faults = {name: Counter() for name in planners}
    scenarios = {name: [] for name in planners}
    latencies = {name: [] for name in planners}
    codebook = next(p for p in planners.values() if p is not None).codebook
    safety = SafetyCheck()
    for entry in index['scenarios']:
        frames = list(bag_observations(scenario_dir / entry['name'], rig))
        truths = load_truth(scenario_dir / entry['name'], [frame.stamp_ns for frame in frames],
                            scenario_topic_map())
        planned = {name: plan_frames(runtime, frames, batch_size)
                   for name, runtime in planners.items() if runtime is not None}
        for number, frame in enumerate(frames):
            expert = frame.expert
            target = codebook.encode(expert)
            label = float(labels(entry, frame.stamp_ns)) if labels else math.nan
            for name, runtime in planners.items():
                if runtime is None:
                    poses = constant_velocity(frame.observation.speed, len(expert))
                    accuracy = conf = fast = accepted = math.nan
                else:
                    plan = planned[name][number]
                    poses = plan.poses
                    accuracy = float(np.mean(plan.action_indices == target))
                    conf, fast = plan.confidence, float(plan.mode == 'fast')
                    failed = safety.faults(plan, frame, runtime.model_id)
                    faults[name].update(failed)
                    accepted = float(not failed)
                    latencies[name].append(plan.latencies_ms['total'])
                    if plans is not None:
                        plans.setdefault(name, []).append(plan.action_indices)
                truth = truths.get(frame.stamp_ns)
                collided = plan_collides(truth, poses) if truth is not None else math.nan
                rows[name].append([accuracy, conf, fast, accepted]
                                  + [l2_at(poses, expert, s) for s in HORIZONS_S]
                                  + [collided, label])
                scenarios[name].append(entry['name'])
    results = {}
    for name, values in rows.items():
        table = np.array(values, dtype=float)
        names = np.array(scenarios[name])
        per_scenario = {scenario: {'l2_3s_m': float(table[names == scenario, 6].mean()),
                                   'confidence_mean': float(table[names == scenario, 1].mean()),
                                   'safety_accepted_share': float(
                                       table[names == scenario, 3].mean()),
                                   'slow_share': float(1.0 - table[names == scenario, 2].mean())}
                        for scenario in dict.fromkeys(scenarios[name])}
        results[name] = {
            'frames': len(table), 'action_token_accuracy': float(table[:, 0].mean()),
            'confidence_mean': float(table[:, 1].mean()),
            'confidence_min': float(table[:, 1].min()),
            'confidence_max': float(table[:, 1].max()),
            'confidence_at_least_min': float((table[:, 1] >= MIN_CONFIDENCE).mean()),
            'fast_mode_share': float(table[:, 2].mean()),
            'safety_accepted_share': float(table[:, 3].mean()),
            'safety_faults': dict(faults[name].most_common()),
            **{f'l2_{s:.0f}s_m': float(table[:, 4 + i].mean())
               for i, s in enumerate(HORIZONS_S)},
            'plan_collision_share': float(np.nanmean(table[:, 7])),
            'latency_ms_median': float(np.median(latencies[name])) if latencies[name]
            else math.nan,
            'per_scenario': per_scenario}
        if labels:
            complex_frames = table[:, 8] == 1.0
            results[name].update({
                'complex_frames': int(complex_frames.sum()),
                'slow_share_complex': float(1.0 - table[complex_frames, 2].mean()),
                'slow_share_simple': float(1.0 - table[~complex_frames, 2].mean())})
    return results


def format_results(results: Dict) -> str:
    """Side-by-side table of held-out metrics."""
    lines = [f'{"planner":<38}{"token acc":>10}{"L2@1s":>8}{"L2@2s":>8}{"L2@3s":>8}'
             f'{"conf mean":>10}{"conf>=0.3":>10}{"safety ok":>10}{"collide":>8}{"ms":>7}']
    for name, r in results.items():
        lines.append(f'{name:<38}{r["action_token_accuracy"]:>10.3f}{r["l2_1s_m"]:>8.2f}'
                     f'{r["l2_2s_m"]:>8.2f}{r["l2_3s_m"]:>8.2f}{r["confidence_mean"]:>10.3f}'
                     f'{r["confidence_at_least_min"]:>10.2f}'
                     f'{r["safety_accepted_share"]:>10.2f}{r["plan_collision_share"]:>8.2f}'
                     f'{r["latency_ms_median"]:>7.0f}')
    lines.append('per scenario, L2@3s (m) / safety ok share: ' + '; '.join(
        f'{scenario}: ' + ', '.join(
            f'{r["per_scenario"][scenario]["l2_3s_m"]:.2f}'
            f'/{r["per_scenario"][scenario]["safety_accepted_share"]:.2f}'
            for r in results.values())
        for scenario in next(iter(results.values()))['per_scenario']))
    for name, r in results.items():
        if r.get('complex_frames') and not math.isnan(r['slow_share_complex']):
            lines.append(f'slow-thinking share, {name}: complex frames '
                         f'{r["slow_share_complex"]:.2f} ({r["complex_frames"]}), simple '
                         f'{r["slow_share_simple"]:.2f} ({r["frames"] - r["complex_frames"]}); '
                         + ', '.join(f'{scenario} {values["slow_share"]:.2f}'
                                     for scenario, values in r['per_scenario'].items()))
        if r['safety_faults']:
            lines.append(f'safety validator faults, {name}: {r["safety_faults"]}')
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]]):
    """Command line of train_default_model."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', type=Path, default=None,
                        help='where scenarios and model directories go (default: a temp dir)')
    parser.add_argument('--out-dir', type=Path, default=TRAINED_WEIGHTS.parent,
                        help='where the weights and training record are written')
    parser.add_argument('--config', type=Path, default=TRAINED_CONFIG,
                        help="model architecture (default: the bundled model's; the "
                        'distillation teacher uses sim_teacher_model.yaml)')
    parser.add_argument('--train-seeds', type=int, default=10,
                        help='training sets use scenario seeds 1..N (0 is the held-out demo)')
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--minutes', type=float, default=15.0, help='training time budget')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--action-weight', type=float, default=5.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--log-every', type=int, default=25)
    parser.add_argument('--evaluate-only', action='store_true',
                        help='evaluate the weights in --out-dir again (updates the record)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (1 is ~4x faster than 2 when other jobs share the '
                        'CPU: spinning OpenMP threads)')
    return parser.parse_args(argv)


def held_out_results(work: Path, config: Path, weights: Path, sha256: str) -> Dict:
    """Materialise the shipped weights like the planner does; evaluate on the demo seed."""
    held_out = generate(work / 'heldout-demo-seed0', GenerationConfig().seed)
    trained_dir = work / 'trained'
    shutil.rmtree(trained_dir, ignore_errors=True)
    model_id = build_tiny_model(trained_dir, config, weights, sha256).model_id
    planners = {
        f'{model_id} (trained, auto)': PlannerRuntime(str(trained_dir), 'cpu'),
        'tiny-random-untrained (fast)': PlannerRuntime(
            str(random_model_dir()), 'cpu', settings=DecodingSettings(reasoning_mode='fast')),
        'constant velocity': None}
    results = evaluate(held_out, planners)
    log('held-out demo scenarios (seed 0), every frame with a full history:')
    log(format_results(results))
    return json.loads(json.dumps(results), parse_float=lambda text: round(float(text), 4))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``train_default_model``."""
    from safetensors.torch import save_file
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    weights = args.out_dir / TRAINED_WEIGHTS.name
    record_path = args.out_dir / TRAINED_RECORD.name
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work_dir or Path(temporary)
        if args.evaluate_only:
            record = load_record(record_path)
            record['held_out_seed0'] = held_out_results(work, args.config, weights,
                                                        record['weights_sha256'])
            save_record(record_path, record)
            return 0
        started = time.monotonic()
        train_dirs = [generate(work / f'train-seed{s}', s) for s in range(1, args.train_seeds + 1)]
        log(f'scenarios generated in {time.monotonic() - started:.0f} s')
        build_tiny_model(work / 'init', args.config)
        runtime = PlannerRuntime(str(work / 'init'), 'cpu', 'float32',
                                 DecodingSettings(reasoning_mode='fast'))
        samples = [s for d in train_dirs for s in scenario_samples(d, runtime)]
        rows = trainable_rows(runtime, samples)
        log(f'{len(samples)} training samples from {len(train_dirs)} seeds x 7 scenarios; '
            f'{len(rows)} embedding rows trained')
        cloner = BehaviourCloner(runtime, rows, args.action_weight)
        run = train(cloner, samples, args)
        cloner.export()
        args.out_dir.mkdir(parents=True, exist_ok=True)
        save_file(compact_weights(cloner.model, rows), weights,
                  metadata={'model_id': runtime.model_id, 'format': 'autovla compact v1'})
        sha256 = file_sha256(weights)
        record = {
            'weights_sha256': sha256,
            'command': command_line('train_default_model', argv),
            'training': {'scenario_seeds': list(range(1, args.train_seeds + 1)),
                         'samples': len(samples), 'embedding_rows': len(rows),
                         'steps': run['steps'], 'epochs': round(run['epochs'], 2),
                         'seconds': round(run['seconds']), 'batch': args.batch, 'lr': args.lr,
                         'action_weight': args.action_weight, 'seed': args.seed,
                         'threads': args.threads, 'torch': str(torch.__version__)},
            'held_out_seed0': held_out_results(work, args.config, weights, sha256)}
        save_record(record_path, record)
        log(f'wrote {weights} ({weights.stat().st_size / 1e6:.2f} MB) and '
            f'{record_path.name}; total {time.monotonic() - started:.0f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
