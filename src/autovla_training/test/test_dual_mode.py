"""Dual-mode SFT: complex frames get the slow turn the runtime decodes, token for token.

A real tiny Qwen2.5-VL (tiny_model.yaml) fitted on a complex frame of generated bags with
train.py's loop must, in ``auto`` mode, choose slow thinking and write the trained reasoning.
"""

from types import SimpleNamespace

from autovla_common.rig import load_rig
from autovla_planner.assistant_turn import slow_answer_ids
from autovla_planner.model_files import build_tiny_model, TINY_CONFIG
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
from autovla_scenarios.generator import generate_set, GenerationConfig
from autovla_training.dataset import bag_observations, scenario_samples
from autovla_training.reasoning_data import ScenarioReasoner
from autovla_training.train import BehaviourCloner, evaluate, train, trainable_rows
import numpy as np
import pytest

# 2 s at 2 Hz: one frame (at 1.5 s) with the full 4-frame history per scenario.
SMALL = GenerationConfig(width=320, height=180, duration=2.0, seed=3)
# Enough steps for the tiny model to learn one reasoning by heart.
EPOCHS = 80


@pytest.fixture(scope='module')
def mixed_dir(tmp_path_factory):
    """A cruise (a simple frame) and a red light (a complex frame), seed 3."""
    out = tmp_path_factory.mktemp('mixed')
    generate_set(out, ['straight_cruise', 'red_light'], SMALL)
    return out


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    directory = tmp_path_factory.mktemp('tiny')
    build_tiny_model(directory, TINY_CONFIG)
    return PlannerRuntime(str(directory), 'cpu', 'float32', DecodingSettings())


@pytest.fixture(scope='module')
def samples(mixed_dir, tiny):
    return scenario_samples(mixed_dir, tiny, reasoner=ScenarioReasoner())


def test_complex_frames_get_the_slow_turn_the_runtime_would_decode(samples, tiny):
    cruise = [s for s in samples if s.scenario == 'straight_cruise']
    red = [s for s in samples if s.scenario == 'red_light']
    assert len(cruise) == len(red) == 1
    assert not any(s.complex for s in cruise) and all(s.complex for s in red)
    for sample in cruise:
        assert sample.target_ids == tiny.fast_answer_ids(sample.action_indices)
        assert sample.reasoning == ''
    sample = red[0]
    assert sample.reasoning.startswith('1. Scene analysis:') and 'red' in sample.reasoning
    assert sample.target_ids[:len(tiny.slow_ids)] == list(tiny.slow_ids)
    # Token for token the text the runtime writes for a slow plan with this reasoning.
    reasoning = (tiny.template.slow_sentence + sample.reasoning).strip()
    expected = tiny._assistant_text('slow', reasoning, sample.action_indices) + '<|im_end|>'
    assert tiny.tokenizer.decode(sample.target_ids) == expected
    assert slow_answer_ids(tiny, sample.reasoning, sample.action_indices) == sample.target_ids


def test_fitted_model_chooses_slow_thinking_and_writes_the_trained_reasoning(
        samples, tiny, mixed_dir):
    # Fitted on the complex frame alone (a few CPU seconds): in auto mode the model's own
    # choice and its generated reasoning must be the trained ones, token for token.
    sample = next(s for s in samples if s.complex)
    cloner = BehaviourCloner(tiny, trainable_rows(tiny, [sample]), action_weight=1.0)
    args = SimpleNamespace(seed=0, lr=1e-2, batch=1, epochs=EPOCHS, minutes=1e6,
                           log_every=10**6)
    train(cloner, [sample], args)
    cloner.export()
    rig = load_rig(mixed_dir / 'rig.yaml')
    frame = next(f for f in bag_observations(mixed_dir / sample.scenario, rig)
                 if f.stamp_ns == sample.stamp_ns)
    plan = tiny.plan(frame.observation)
    assert plan.mode == 'slow' and plan.mode_reason.startswith('model chose slow')
    assert plan.reasoning == (tiny.template.slow_sentence + sample.reasoning).strip()
    assert plan.explanation == 'Slow thinking: ' + sample.reasoning
    np.testing.assert_array_equal(plan.action_indices, sample.action_indices)


def test_evaluation_reports_the_slow_share_on_complex_and_simple_frames(samples, mixed_dir):
    by_frame = {(s.scenario, s.stamp_ns): s.complex for s in samples}

    def labels(entry, stamp_ns):
        return by_frame[(entry['name'], stamp_ns)]

    planners = {mode: PlannerRuntime('', 'cpu', settings=DecodingSettings(
        reasoning_mode=mode, max_reasoning_tokens=2)) for mode in ('fast', 'slow')}
    results = evaluate(mixed_dir, planners, labels=labels)
    assert results['slow']['complex_frames'] == results['fast']['complex_frames'] == 1
    assert results['slow']['slow_share_complex'] == results['slow']['slow_share_simple'] == 1.0
    assert results['fast']['slow_share_complex'] == results['fast']['slow_share_simple'] == 0.0
    assert results['slow']['per_scenario']['red_light']['slow_share'] == 1.0
    assert results['fast']['per_scenario']['straight_cruise']['slow_share'] == 0.0
    assert evaluate(mixed_dir, planners)['fast'].get('complex_frames') is None
