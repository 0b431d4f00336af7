r"""Reinforcement fine-tuning with GRPO (``rft_default_model``), our own loop.

Per training observation (scenario bags of the training types, seeds 1..N, streamed through
the stack's own perception and prompt code, as for behaviour cloning):
1. the policy's mode probabilities (its next token after "<think>\nThis is a", restricted to
   the fast and the slow sentence) are computed, and each of the G plans of the group draws
   its mode from them; the runtime then decodes that plan with sampling (temperature
   ``--temperature``, no top-k / top-p, so the probabilities below are the sampler's):
   reasoning over the full vocabulary in slow mode, the 10 action tokens over the action rows;
2. each plan's reward (autovla_training.reward): its open-loop PDMS against the scenario's
   future, minus the paper's reasoning-length penalty, plus an optional preference term;
3. advantages are normalised in the group ((r - mean) / (std + 1e-4)); a group whose rewards
   are all equal teaches nothing and is skipped;
4. ``--updates`` gradient steps on the clipped surrogate with a KL penalty to the frozen
   start model (the k3 estimator exp(ref - new) - (ref - new) - 1, weight ``--beta``), per
   decision token (the mode token, the reasoning tokens, the action tokens; prefilled
   template tokens are not the policy's choices), averaged per plan, then over the group.
Trained weights: every non-embedding weight and the start model's embedding rows (compact, as
the bundled model ships). The record keeps the curves (reward, PDMS, slow share per step) and
a PNG of them.
"""

import argparse
from dataclasses import replace
from pathlib import Path
import tempfile
import time
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from autovla_planner.assistant_turn import close_reasoning, slow_answer_ids, THINK_CLOSE
from autovla_planner.model_files import (
    build_tiny_model,
    bundled_files,
    BUNDLED_MODELS,
    DATA_DIR,
    EMBEDDING_ROWS,
    file_sha256,
    TRAINED_CONFIG,
)
from autovla_planner.reasoning_policy import FAST, SLOW
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
from autovla_scenarios.catalogue import TRAINING_TYPES
import numpy as np

from autovla_training.curves import plot_curves
from autovla_training.dataset import bag_observations, make_sample, Sample, scenario_set
from autovla_training.reward import (
    LENGTH_PENALTY_WEIGHT,
    optional_marks,
    reward_for,
    ScenarioReward,
)
from autovla_training.sft import SFT_RECORD, SFT_WEIGHTS
from autovla_training.train import (
    BehaviourCloner,
    command_line,
    generate,
    learning_rate_factor,
    load_record,
    log,
    save_record,
    teacher_forced_hidden,
)

RFT_WEIGHTS, RFT_RECORD = bundled_files('sim_rft')
RFT_MODEL_ID = BUNDLED_MODELS['sim_rft']
FIXED, MODE, REASONING, ACTION = 0, 1, 2, 3      # kinds of assistant-turn tokens


def assistant_turn(runtime: PlannerRuntime, plan) -> Tuple[List[int], np.ndarray]:
    """Token ids of a decoded plan's assistant turn (with <|im_end|>) and each token's kind.

    The ids are the ones supervised training uses for that turn (``fast_answer_ids``,
    ``slow_answer_ids``); the mode token is the first one after the text both first sentences
    share; reasoning is what a slow plan generated after its first sentence, "</think>"
    included (the fixed answer lead-in after it is prefilled, not chosen).
    """
    indices = plan.action_indices
    template = runtime.template
    if plan.mode == SLOW:
        body = plan.reasoning[len(template.slow_sentence.strip()):].strip()
        ids = slow_answer_ids(runtime, body, indices)
    else:
        ids = runtime.fast_answer_ids(indices)
    kinds = np.full(len(ids), FIXED)
    kinds[len(runtime.shared_ids)] = MODE
    first = runtime.descriptor.first_action_id
    # The plan's actions are the last action-range tokens: sampled reasoning (full vocabulary)
    # may contain action tokens too, and those are reasoning.
    actions = [i for i, token in enumerate(ids)
               if first <= token < first + runtime.codebook.size][-len(indices):]
    kinds[actions] = ACTION
    if plan.mode == SLOW:
        _, prefill = close_reasoning(template, body + '\n' + THINK_CLOSE)
        prefilled = len(runtime.tokenizer.encode(prefill, add_special_tokens=False))
        kinds[len(runtime.slow_ids):actions[0] - prefilled] = REASONING
    return ids, kinds


class PolicyScorer:
    """Log-probabilities of decision tokens under a BehaviourCloner's current weights."""

    def __init__(self, cloner: BehaviourCloner, temperature: float):
        import torch

        self.torch = torch
        self.cloner = cloner
        self.temperature = temperature
        runtime = cloner.runtime
        first = runtime.descriptor.first_action_id
        row_of = cloner.row_of
        self.action_columns = row_of[first:first + runtime.codebook.size]
        shared = len(runtime.shared_ids)
        self.mode_tokens = (runtime.fast_ids[shared], runtime.slow_ids[shared])
        self.mode_columns = row_of[list(self.mode_tokens)]

    def logits(self, sample: Sample, ids: Sequence[int]):
        """Compact-table logits (tokens x table rows, then one column of the zero rows)."""
        torch = self.torch
        hidden = teacher_forced_hidden(self.cloner.runtime, replace(sample, target_ids=list(ids)))
        logits = hidden @ self.cloner.table.T / self.temperature
        return torch.cat([logits, logits.new_zeros(len(logits), 1)], dim=1)

    def mode_probabilities(self, sample: Sample) -> Tuple[float, float]:
        """(p_fast, p_slow) of the policy's first-sentence choice, the pair renormalised."""
        torch = self.torch
        runtime = self.cloner.runtime
        with torch.no_grad():
            logits = self.logits(sample, list(runtime.shared_ids) + [self.mode_tokens[0]])
            pair = torch.softmax(logits[len(runtime.shared_ids), self.mode_columns], dim=0)
        return float(pair[0]), float(pair[1])

    def decision_log_probs(self, sample: Sample, ids: Sequence[int], kinds: np.ndarray):
        """Log-probability of each non-fixed token, under the distribution it was drawn from."""
        torch = self.torch
        extended = self.logits(sample, ids)
        columns = self.cloner.row_of[torch.as_tensor(ids)]
        chosen = extended.gather(1, columns[:, None])[:, 0]
        full = chosen - self.cloner.log_normaliser(extended[:, :-1])
        action = chosen - torch.logsumexp(extended[:, self.action_columns], dim=1)
        mode = chosen - torch.logsumexp(extended[:, self.mode_columns], dim=1)
        kinds_t = torch.as_tensor(kinds)
        log_probs = torch.where(kinds_t == ACTION, action,
                                torch.where(kinds_t == MODE, mode, full))
        return log_probs[kinds_t != FIXED]


def group_advantages(rewards: Sequence[float]) -> np.ndarray:
    """GRPO advantages: rewards normalised within their group."""
    rewards = np.asarray(rewards, dtype=float)
    return (rewards - rewards.mean()) / (rewards.std() + 1e-4)


def grpo_loss(new, old, reference, advantage: float, clip: float, beta: float):
    """Per-plan GRPO loss: clipped surrogate and k3 KL to the reference, token-averaged."""
    import torch

    ratio = torch.exp(new - old)
    surrogate = torch.minimum(ratio * advantage,
                              torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantage)
    log_ratio = reference - new
    kl = torch.exp(log_ratio) - log_ratio - 1.0
    return -(surrogate - beta * kl).mean(), kl.mean()


def training_frames(train_dirs: Sequence[Path], stride: int, rng: np.random.Generator,
                    horizon: int) -> Iterator[Tuple[str, int, object]]:
    """Endless (scenario name, seed, BagFrame): every ``stride``-th frame, shuffled passes."""
    scenarios = []
    for directory in train_dirs:
        entries, rig = scenario_set(directory)
        scenarios += [(directory, e['name'], int(e['seed']), rig) for e in entries
                      if e['name'] in TRAINING_TYPES]
    while True:
        for number in rng.permutation(len(scenarios)):
            directory, name, seed, rig = scenarios[number]
            offset = int(rng.integers(stride))
            for k, frame in enumerate(bag_observations(directory / name, rig, horizon)):
                if k % stride == offset:
                    yield name, seed, frame


class GroupSampler:
    """Draws a group of plans for one observation from the current policy."""

    def __init__(self, runtime: PlannerRuntime, scorer: PolicyScorer, size: int,
                 mode: str, seed: int):
        self.runtime = runtime
        self.scorer = scorer
        self.size = size
        self.mode = mode
        self.rng = np.random.default_rng(seed)
        self.draws = 0

    def sample(self, frame, sample: Sample) -> Tuple[list, float]:
        """G plans of ``frame`` and the policy's slow probability."""
        p_slow = self.scorer.mode_probabilities(sample)[1] if self.mode == 'auto' else \
            float(self.mode == SLOW)
        plans = []
        for _ in range(self.size):
            self.runtime.policy.forced_mode = SLOW if self.rng.random() < p_slow else FAST
            self.runtime.settings.seed = self.draws
            self.draws += 1
            plans.append(self.runtime.plan(frame.observation))
        return plans, p_slow


def parse_args(argv: Optional[Sequence[str]]):
    """Command line of rft_default_model."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--work-dir', type=Path, default=None,
                        help='where scenarios and model directories go (default: a temp dir)')
    parser.add_argument('--out-dir', type=Path, default=DATA_DIR,
                        help='where the weights, record and curve PNG are written')
    parser.add_argument('--config', type=Path, default=TRAINED_CONFIG,
                        help='architecture of the start model')
    parser.add_argument('--init-weights', type=Path, default=SFT_WEIGHTS,
                        help='compact weights of the start (SFT) model, also the KL reference')
    parser.add_argument('--init-record', type=Path, default=SFT_RECORD,
                        help='training record of the start weights (their SHA-256)')
    parser.add_argument('--train-seeds', default='1-4',
                        help='scenario seeds of the training sets (a-b or comma list)')
    parser.add_argument('--frame-stride', type=int, default=2, help='use every n-th frame')
    parser.add_argument('--group', type=int, default=4, help='plans per observation (G)')
    parser.add_argument('--mode', choices=('auto', FAST, SLOW), default='auto',
                        help='reasoning mode of the sampled plans (auto: the policy draws it)')
    parser.add_argument('--temperature', type=float, default=0.7,
                        help='sampling temperature (1.0 from the BC model scored worse)')
    parser.add_argument('--max-reasoning-tokens', type=int, default=200)
    parser.add_argument('--updates', type=int, default=2, help='gradient steps per group')
    parser.add_argument('--clip', type=float, default=0.2, help='policy ratio clip epsilon')
    parser.add_argument('--beta', type=float, default=0.04, help='KL weight (the paper: 0.04)')
    parser.add_argument('--lr', type=float, default=1e-4)
    parser.add_argument('--length-weight', type=float, default=LENGTH_PENALTY_WEIGHT,
                        help='reasoning-length penalty coefficient (the paper: 0.3)')
    parser.add_argument('--preferences', type=Path, default=None,
                        help='YAML of good/bad plan marks folded into the reward')
    parser.add_argument('--preference-weight', type=float, default=0.5)
    parser.add_argument('--steps', type=int, default=400, help='observations (groups) at most')
    parser.add_argument('--minutes', type=float, default=20.0, help='training time budget')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--log-every', type=int, default=10)
    parser.add_argument('--threads', type=int, default=1, help='torch threads')
    args = parser.parse_args(argv)
    if args.group < 2 or args.updates < 1 or args.frame_stride < 1 or args.temperature <= 0:
        parser.error('--group >= 2, --updates >= 1, --frame-stride >= 1, --temperature > 0')
    return args


def seed_list(text: str) -> List[int]:
    """'1-4' or '1,2,5' as a list of seeds."""
    if '-' in text:
        low, high = (int(v) for v in text.split('-', 1))
        return list(range(low, high + 1))
    return [int(v) for v in text.split(',') if v]


def load_start(work: Path, args, name: str) -> PlannerRuntime:
    """Materialise the start weights as a model directory and load a sampling runtime."""
    sha256 = str(load_record(args.init_record)['weights_sha256'])
    build_tiny_model(work / name, args.config, args.init_weights, sha256)
    return PlannerRuntime(str(work / name), 'cpu', 'float32', DecodingSettings(
        reasoning_mode=FAST, sampling=True, temperature=args.temperature, top_k=0, top_p=1.0,
        max_reasoning_tokens=args.max_reasoning_tokens))


def rft(args, work: Path, train_dirs: List[Path]) -> Tuple[BehaviourCloner, Dict]:
    """Run the GRPO loop; return the trained cloner and the run's statistics and curves."""
    from safetensors.torch import load_file
    import torch

    rows = load_file(args.init_weights)[EMBEDDING_ROWS].numpy()
    policy = BehaviourCloner(load_start(work, args, 'policy'), rows, 1.0)
    reference = BehaviourCloner(load_start(work, args, 'reference'), rows, 1.0)
    for parameter in reference.parameters():
        parameter.requires_grad_(False)
    scorer, reference_scorer = (PolicyScorer(c, args.temperature) for c in (policy, reference))
    sampler = GroupSampler(policy.runtime, scorer, args.group, args.mode, args.seed)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=args.lr, weight_decay=0.0)
    marks = optional_marks(args.preferences)
    rewards: Dict[tuple, ScenarioReward] = {}
    frames = training_frames(train_dirs, args.frame_stride, np.random.default_rng(args.seed),
                             policy.runtime.descriptor.horizon)
    curves = {'step': [], 'reward': [], 'pdms': [], 'slow_share': [], 'p_slow': [],
              'kl': [], 'reasoning_chars': []}
    started, skipped = time.monotonic(), 0
    window: Dict[str, list] = {key: [] for key in curves}
    for step in range(1, args.steps + 1):
        elapsed = time.monotonic() - started
        progress = max((step - 1) / args.steps, elapsed / (args.minutes * 60))
        if progress >= 1.0:
            log(f'time budget of {args.minutes} min reached after {step - 1} groups')
            break
        for group in optimizer.param_groups:
            group['lr'] = args.lr * learning_rate_factor(progress)
        name, seed, frame = next(frames)
        sample = make_sample(policy.runtime, name, frame.stamp_ns, frame.observation,
                             frame.expert)
        policy.sync_embedding()
        plans, p_slow = sampler.sample(frame, sample)
        score = reward_for(rewards, name, seed, marks=marks,
                           preference_weight=args.preference_weight,
                           length_weight=args.length_weight)
        results = [score(frame.stamp_ns, p.poses, p.reasoning, p.mode == SLOW) for p in plans]
        values = [r['reward'] for r in results]
        turns = [assistant_turn(policy.runtime, p) for p in plans]
        kl_value = float('nan')
        if np.ptp(values) > 1e-6:
            advantages = group_advantages(values)
            with torch.no_grad():
                old = [scorer.decision_log_probs(sample, ids, kinds) for ids, kinds in turns]
                ref = [reference_scorer.decision_log_probs(sample, ids, kinds)
                       for ids, kinds in turns]
            for _ in range(args.updates):
                kls = []
                for (ids, kinds), o, r, a in zip(turns, old, ref, advantages):
                    loss, kl = grpo_loss(scorer.decision_log_probs(sample, ids, kinds), o, r,
                                         float(a), args.clip, args.beta)
                    (loss / len(turns)).backward()
                    kls.append(float(kl.detach()))
                torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad()
            kl_value = float(np.mean(kls))
        else:
            skipped += 1
        measured = {'step': step, 'reward': float(np.mean(values)),
                    'pdms': float(np.mean([r['pdms'] for r in results])),
                    'slow_share': float(np.mean([p.mode == SLOW for p in plans])),
                    'p_slow': p_slow, 'kl': kl_value,
                    'reasoning_chars': float(np.mean([len(p.reasoning) for p in plans]))}
        for key, value in measured.items():
            curves[key].append(round(value, 5) if key != 'step' else value)
            window[key].append(value)
        if step % args.log_every == 0:
            log(f'group {step}/{args.steps}  reward {np.mean(window["reward"]):.3f}  PDMS '
                f'{np.mean(window["pdms"]):.3f}  slow share {np.mean(window["slow_share"]):.2f}'
                f'  p_slow {np.mean(window["p_slow"]):.3f}  '
                f'KL {np.nanmean(window["kl"] + [0]):.4f}'
                f'  skipped (equal rewards) {skipped}  {time.monotonic() - started:.0f} s')
            window = {key: [] for key in curves}
    policy.sync_embedding()
    stats = {'groups': len(curves['step']), 'skipped_equal_rewards': skipped,
             'seconds': round(time.monotonic() - started)}
    return policy, {**stats, 'curves': curves}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``rft_default_model``."""
    import torch

    from autovla_training.distill import save_compact

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    seeds = seed_list(args.train_seeds)
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work_dir or Path(temporary)
        started = time.monotonic()
        # The SFT stage's training sets (same types and seeds; reused in a shared --work-dir).
        train_dirs = [generate(work / f'sft-seed{s}', s, TRAINING_TYPES) for s in seeds]
        log(f'scenarios ready in {time.monotonic() - started:.0f} s: seeds {seeds}, '
            f'{len(TRAINING_TYPES)} training types')
        policy, run = rft(args, work, train_dirs)
        policy.export()
        weights = args.out_dir / RFT_WEIGHTS.name
        sha256 = save_compact(policy, policy.rows.numpy(), weights, RFT_MODEL_ID)
        curves = run.pop('curves')
        plot = args.out_dir / RFT_RECORD.with_suffix('.png').name
        plot_curves(plot, curves['step'], {'PDMS': curves['pdms'],
                                           'reward': curves['reward'],
                                           'slow share': curves['slow_share']},
                    f'GRPO group means, G={args.group}')
        record = {
            'weights_sha256': sha256, 'model_id': RFT_MODEL_ID,
            'command': command_line('rft_default_model', argv),
            'start': {'weights': args.init_weights.name, 'config': args.config.name,
                      'sha256': file_sha256(args.init_weights)},
            'training': {'scenario_seeds': seeds, 'types': list(TRAINING_TYPES),
                         'frame_stride': args.frame_stride, 'group': args.group,
                         'mode': args.mode, 'temperature': args.temperature,
                         'updates_per_group': args.updates, 'clip': args.clip,
                         'beta': args.beta, 'lr': args.lr, 'length_weight': args.length_weight,
                         'preferences': str(args.preferences) if args.preferences else None,
                         'preference_weight': args.preference_weight, 'seed': args.seed,
                         'threads': args.threads, 'torch': str(torch.__version__), **run},
            'curves': curves}
        save_record(args.out_dir / RFT_RECORD.name, record)
        log(f'wrote {weights} ({weights.stat().st_size / 1e6:.2f} MB), {RFT_RECORD.name} and '
            f'{plot.name}; total {time.monotonic() - started:.0f} s')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
