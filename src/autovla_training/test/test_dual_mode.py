"""Dual-mode SFT: complex frames get the slow turn the runtime decodes; the model learns to choose.

A real tiny Qwen2.5-VL (tiny_model.yaml) is fitted on one complex and one simple frame of
generated bags with train.py's loop; in ``auto`` mode it must then think slowly on the complex
frame, writing the trained reasoning, and answer directly on the simple one.
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
# Enough steps for the tiny model to tell the two frames apart at its mode token.
EPOCHS = 300


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


@pytest.mark.timeout(900)
def test_fitted_model_thinks_slowly_on_complex_frames_and_fast_on_simple_ones(
        samples, tiny, mixed_dir):
    cloner = BehaviourCloner(tiny, trainable_rows(tiny, samples), action_weight=1.0,
                             mode_weight=50.0)
    args = SimpleNamespace(seed=0, lr=5e-3, batch=2, epochs=EPOCHS, minutes=1e6,
                           log_every=10**6)
    train(cloner, samples, args)
    cloner.export()
    by_frame = {(s.scenario, s.stamp_ns): s for s in samples}
    results = evaluate(mixed_dir, {'fitted': tiny},
                       labels=lambda entry, stamp: by_frame[(entry['name'], stamp)].complex)
    fitted = results['fitted']
    assert fitted['frames'] == len(samples) == 2
    assert fitted['slow_share_complex'] == 1.0 and fitted['slow_share_simple'] == 0.0
    assert fitted['per_scenario']['red_light']['slow_share'] == 1.0
    # The complex frame: the model's own choice, then its reasoning word for word.
    rig = load_rig(mixed_dir / 'rig.yaml')
    frame = next(bag_observations(mixed_dir / 'red_light', rig))
    sample = by_frame[('red_light', frame.stamp_ns)]
    plan = tiny.plan(frame.observation)
    assert plan.mode == 'slow' and plan.mode_reason.startswith('model chose slow')
    assert plan.reasoning == (tiny.template.slow_sentence + sample.reasoning).strip()
    assert plan.explanation == 'Slow thinking: ' + sample.reasoning
    np.testing.assert_array_equal(plan.action_indices, sample.action_indices)
    frame = next(bag_observations(mixed_dir / 'straight_cruise', rig))
    plan = tiny.plan(frame.observation)
    assert plan.mode == 'fast' and plan.explanation.startswith('Fast thinking:')
