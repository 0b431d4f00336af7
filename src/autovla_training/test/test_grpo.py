"""GRPO pieces: the reward, the preference marks, advantages, the loss and the log-probs."""

from pathlib import Path
from types import SimpleNamespace

from autovla_common.rig import load_rig
from autovla_planner.model_files import EMBEDDING_ROWS, TRAINED_WEIGHTS
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
from autovla_scenarios.generator import START_STAMP_NS
from autovla_training.dataset import bag_observations, make_sample
from autovla_training.grpo import (
    ACTION,
    assistant_turn,
    FIXED,
    group_advantages,
    grpo_loss,
    MODE,
    PolicyScorer,
    REASONING,
)
from autovla_training.reward import (
    load_preferences,
    reasoning_length_penalty,
    ScenarioReward,
)
from autovla_training.train import BehaviourCloner
import numpy as np
import pytest
import torch

EXAMPLE_MARKS = Path(__file__).resolve().parents[1] / 'autovla_training' / 'data' / \
    'plan_preferences.yaml'


def expert_plan(reward: ScenarioReward, t0: float) -> np.ndarray:
    """The expert's next 5 s in base_link at ``t0`` (x, y, yaw at 0.5 s steps)."""
    x0, y0, yaw0 = reward.expert.pose(t0)
    future = np.array([reward.expert.pose(t0 + 0.5 * k) for k in range(1, 11)])
    c, s = np.cos(yaw0), np.sin(yaw0)
    dx, dy = future[:, 0] - x0, future[:, 1] - y0
    return np.column_stack([c * dx + s * dy, -s * dx + c * dy, future[:, 2] - yaw0])


def straight(speed: float) -> np.ndarray:
    t = 0.5 * np.arange(1, 11)
    return np.column_stack([speed * t, np.zeros(10), np.zeros(10)])


def test_a_plan_into_the_stopped_vehicle_is_rewarded_below_the_experts_plan():
    reward = ScenarioReward('stopped_vehicle', 1)
    stamp = START_STAMP_NS + 2 * 10**9
    clean = reward(stamp, expert_plan(reward, 2.0))
    colliding = reward(stamp, straight(10.0))
    assert clean['collision'] == 0.0 and colliding['collision'] == 1.0
    assert colliding['reward'] < clean['reward'] - 0.5


def test_the_length_penalty_lowers_long_reasoning_and_spares_fast_thinking():
    assert reasoning_length_penalty('x' * 400, slow=True) == pytest.approx(0.15)   # paper: 0.3 / 2
    assert reasoning_length_penalty('x' * 2000, slow=False) == 0.0
    reward = ScenarioReward('straight_cruise', 1)
    stamp = START_STAMP_NS + 10**9
    plan = expert_plan(reward, 1.0)
    short = reward(stamp, plan, 'x' * 100, slow=True)['reward']
    long = reward(stamp, plan, 'x' * 1500, slow=True)['reward']
    assert long < short - 0.1
    assert reward(stamp, plan)['reward'] > short


def test_preference_marks_raise_good_and_lower_bad_plans(tmp_path):
    marks_file = tmp_path / 'marks.yaml'
    reward = ScenarioReward('stopped_vehicle', 1)
    good, bad = expert_plan(reward, 2.0), straight(10.0)
    entry = '  - {{scenario: stopped_vehicle, seed: 1, t: 2.0, mark: {}, plan: {}}}\n'
    marks_file.write_text('marks:\n' + entry.format('good', good[:, :2].tolist())
                          + entry.format('bad', bad[:, :2].tolist()), encoding='utf-8')
    marked = ScenarioReward('stopped_vehicle', 1, marks=load_preferences(marks_file),
                            preference_weight=0.5)
    stamp = START_STAMP_NS + 2 * 10**9
    assert marked(stamp, good)['reward'] == pytest.approx(reward(stamp, good)['reward'] + 0.5)
    assert marked(stamp, bad)['reward'] == pytest.approx(reward(stamp, bad)['reward'] - 0.5)
    elsewhere = START_STAMP_NS + 5 * 10**9      # another frame: the marks do not apply
    assert marked(elsewhere, bad)['preference'] == 0.0


def test_a_malformed_mark_is_rejected_with_its_number(tmp_path):
    bad = tmp_path / 'marks.yaml'
    bad.write_text('marks:\n  - {scenario: curve, seed: 1, t: 1.0, mark: meh, plan: [[1, 0]]}\n',
                   encoding='utf-8')
    with pytest.raises(ValueError, match='mark 1: mark must be good or bad'):
        load_preferences(bad)
    bad.write_text('marks:\n  - {scenario: curve, seed: 1, t: 1.0, mark: bad, '
                   'plan: [[.nan, 0]]}\n', encoding='utf-8')
    with pytest.raises(ValueError, match='finite'):
        load_preferences(bad)


def test_the_shipped_example_marks_load():
    marks = load_preferences(EXAMPLE_MARKS)
    assert {m.value for m in marks} == {1.0, -1.0}


def test_group_advantages_are_normalised_and_zero_for_equal_rewards():
    advantages = group_advantages([0.0, 0.5, 1.0, 0.5])
    assert advantages.mean() == pytest.approx(0.0, abs=1e-9)
    assert advantages.std() == pytest.approx(1.0, abs=1e-3)
    assert np.all(group_advantages([0.7] * 4) == 0.0)


def test_the_loss_clips_the_ratio_and_its_kl_vanishes_at_the_reference():
    old = torch.zeros(3)
    new = torch.full((3,), float(np.log(2.0)), requires_grad=True)  # ratio 2, beyond 1 + 0.2
    loss, _ = grpo_loss(new, old, new.detach(), 1.0, 0.2, 0.0)
    loss.backward()
    assert float(new.grad.abs().max()) == 0.0                      # clipped: no push further
    new.grad = None
    loss, _ = grpo_loss(new, old, new.detach(), -1.0, 0.2, 0.0)    # bad plan: pushed down
    loss.backward()
    assert float(new.grad.min()) > 0.0
    _, kl = grpo_loss(new.detach(), old, new.detach(), 1.0, 0.2, 0.04)
    assert float(kl) == pytest.approx(0.0, abs=1e-7)
    _, kl = grpo_loss(new.detach(), old, new.detach() - 1.0, 1.0, 0.2, 0.04)
    assert float(kl) > 0.3


@pytest.fixture(scope='module')
def policy(scenario_dir):
    from safetensors.torch import load_file

    # the behaviour-cloned model, whose embedding rows the cloner trains
    runtime = PlannerRuntime('bundled:sim_bc', 'cpu', 'float32', DecodingSettings(
        reasoning_mode='fast', sampling=True, temperature=1.0, top_k=0, top_p=1.0,
        max_reasoning_tokens=12))
    cloner = BehaviourCloner(runtime, load_file(TRAINED_WEIGHTS)[EMBEDDING_ROWS].numpy(), 1.0)
    frame = next(bag_observations(scenario_dir / 'curve', load_rig(scenario_dir / 'rig.yaml')))
    return cloner, frame, make_sample(runtime, 'curve', frame.stamp_ns, frame.observation,
                                      frame.expert)


def full_head_log_probs(runtime, sample, ids):
    """Log-softmax of the model's own LM head over the whole vocabulary (no compact table)."""
    fed = np.concatenate([sample.inputs.input_ids, ids])
    with torch.no_grad():
        logits = runtime.model(
            input_ids=torch.as_tensor(fed)[None],
            mm_token_type_ids=torch.as_tensor(np.concatenate(
                [sample.inputs.token_types, np.zeros(len(ids), np.int64)]))[None],
            pixel_values_videos=torch.as_tensor(sample.inputs.pixel_values_videos),
            video_grid_thw=torch.as_tensor(sample.inputs.video_grid_thw),
            second_per_grid_ts=torch.as_tensor(sample.inputs.seconds_per_grid)).logits[0]
    start = len(sample.inputs.input_ids) - 1
    return logits[start:start + len(ids)].float()


@pytest.mark.parametrize('mode', ['fast', 'slow'])
def test_decision_log_probs_are_the_samplers_distributions(policy, mode):
    cloner, frame, sample = policy
    runtime = cloner.runtime
    runtime.policy.forced_mode = mode
    cloner.sync_embedding()
    plan = runtime.plan(frame.observation)
    ids, kinds = assistant_turn(runtime, plan)
    assert (kinds == MODE).sum() == 1 and (kinds == ACTION).sum() == 10
    if mode == 'fast':
        assert (kinds == REASONING).sum() == 0
    else:   # the generated text and its "</think>", nothing of the prefilled lead-in
        body = runtime.tokenizer.decode([i for i, k in zip(ids, kinds) if k == REASONING])
        assert body.endswith('</think>')
        assert body[:-len('</think>')].strip() in plan.reasoning
    scorer = PolicyScorer(cloner, temperature=1.0)
    with torch.no_grad():
        ours = scorer.decision_log_probs(sample, ids, kinds).numpy()
    logits = full_head_log_probs(runtime, sample, ids)
    first = runtime.descriptor.first_action_id
    expected = []
    for position, (token, kind) in enumerate(zip(ids, kinds)):
        if kind == ACTION:
            row = torch.log_softmax(logits[position, first:first + 2048], dim=0)
            expected.append(float(row[token - first]))
        elif kind == MODE:
            pair = logits[position, list(scorer.mode_tokens)]
            expected.append(float(torch.log_softmax(pair, 0)[scorer.mode_tokens.index(token)]))
        elif kind != FIXED:
            expected.append(float(torch.log_softmax(logits[position], 0)[token]))
    assert np.allclose(ours, expected, atol=2e-3), (ours, expected)


def test_action_tokens_sampled_inside_the_reasoning_count_as_reasoning(policy):
    runtime = policy[0].runtime
    actions = list(range(10, 20))
    plan = SimpleNamespace(mode='slow', action_indices=actions, reasoning=(
        f'{runtime.template.slow_sentence.strip()} The car ahead <action_7> brakes.'))
    ids, kinds = assistant_turn(runtime, plan)
    first = runtime.descriptor.first_action_id
    assert [token - first for token, kind in zip(ids, kinds) if kind == ACTION] == actions
    reasoning = [token for token, kind in zip(ids, kinds) if kind == REASONING]
    assert first + 7 in reasoning


def test_a_positive_advantage_makes_its_plan_more_likely(policy):
    cloner, frame, sample = policy
    runtime = cloner.runtime
    runtime.policy.forced_mode = 'fast'
    cloner.sync_embedding()
    plan = runtime.plan(frame.observation)
    ids, kinds = assistant_turn(runtime, plan)
    scorer = PolicyScorer(cloner, temperature=1.0)
    with torch.no_grad():
        before = scorer.decision_log_probs(sample, ids, kinds)
    optimizer = torch.optim.SGD(cloner.parameters(), lr=1e-2)
    loss, _ = grpo_loss(scorer.decision_log_probs(sample, ids, kinds), before, before, 1.0,
                        0.2, 0.04)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        after = scorer.decision_log_probs(sample, ids, kinds)
    assert float(after.sum()) > float(before.sum())
