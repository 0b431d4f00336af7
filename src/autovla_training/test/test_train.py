"""The training loss: its closed-form full-vocabulary softmax equals the shipped model's."""

import json
from types import SimpleNamespace

from autovla_planner.model_files import build_tiny_model, TRAINED_CONFIG
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
from autovla_replay.scoring import FrameTruth
from autovla_training.dataset import scenario_samples
from autovla_training.train import (
    BehaviourCloner,
    evaluate,
    plan_collides,
    train,
    trainable_rows,
)
import numpy as np
import pytest
import torch

from autovla_training import train as train_module


def test_compact_loss_equals_full_lm_head_cross_entropy_and_training_lowers_it(
        tmp_path, scenario_dir):
    build_tiny_model(tmp_path / 'init', TRAINED_CONFIG)
    runtime = PlannerRuntime(str(tmp_path / 'init'), 'cpu', 'float32',
                             DecodingSettings(reasoning_mode='fast'))
    samples = scenario_samples(scenario_dir, runtime)
    rows = trainable_rows(runtime, samples)
    assert runtime.descriptor.first_action_id + 2047 in rows
    cloner = BehaviourCloner(runtime, rows, action_weight=1.0)
    before = [float(cloner.sample_loss(s)[0].detach()) for s in samples]
    args = SimpleNamespace(seed=0, lr=3e-3, batch=1, epochs=3, minutes=5.0, log_every=1000)
    train(cloner, samples, args)
    after = [float(cloner.sample_loss(s)[0].detach()) for s in samples]
    assert np.mean(after) < np.mean(before) - 1.0, (before, after)
    # Reference: the exported model's own LM head over all 153,713 rows, plain cross-entropy.
    sample = samples[0]
    with torch.no_grad():
        loss, _, _ = cloner.sample_loss(sample)
        cloner.export()
        ids = np.concatenate([sample.inputs.input_ids, sample.target_ids])
        reference = runtime.model(
            input_ids=torch.as_tensor(ids)[None],
            mm_token_type_ids=torch.as_tensor(np.concatenate(
                [sample.inputs.token_types, np.zeros(len(sample.target_ids), np.int64)]))[None],
            pixel_values_videos=torch.as_tensor(sample.inputs.pixel_values_videos),
            video_grid_thw=torch.as_tensor(sample.inputs.video_grid_thw),
            second_per_grid_ts=torch.as_tensor(sample.inputs.seconds_per_grid)).logits[0]
        start = len(sample.inputs.input_ids) - 1
        expected = torch.nn.functional.cross_entropy(
            reference[start:start + len(sample.target_ids)],
            torch.as_tensor(sample.target_ids))
    assert abs(float(loss) - float(expected)) < 1e-3, (float(loss), float(expected))


def test_batched_offline_evaluation_equals_sequential_evaluation(scenario_dir):
    runtime = PlannerRuntime('', 'cpu', settings=DecodingSettings(reasoning_mode='fast'))
    sequential, batched = {}, {}
    one_by_one = evaluate(scenario_dir, {'model': runtime}, sequential)
    together = evaluate(scenario_dir, {'model': runtime}, batched, batch_size=4)
    assert len(sequential['model']) >= 4
    np.testing.assert_array_equal(np.stack(batched['model']), np.stack(sequential['model']))
    for key in ('l2_3s_m', 'safety_accepted_share', 'plan_collision_share'):
        assert together['model'][key] == pytest.approx(one_by_one['model'][key])


def test_plan_collision_checks_the_ego_box_against_agents_at_each_step():
    stamp = 10**9
    times = 0.5 * np.arange(1, 11)
    # One agent standing 10 m ahead of the ego (odom frame; the ego at x=100, heading +x).
    boxes = {stamp + int(round(t * 1e9)): [(110.0, 0.0, 0.0, 4.5, 2.0)] for t in times}
    truth = FrameTruth(stamp, (100.0, 0.0, 0.0), times, np.zeros((10, 2)), np.zeros(10), boxes)
    straight = np.column_stack([2.0 * times, np.zeros(10), np.zeros(10)])
    swerve = straight + [0.0, 6.0, 0.0]
    assert plan_collides(truth, straight) == 1.0
    assert plan_collides(truth, swerve) == 0.0
    assert plan_collides(truth, straight[:4]) == 0.0      # stops 8 m short of the agent


def test_a_shared_work_directory_never_serves_another_scenario_set(monkeypatch, tmp_path):
    # BC evaluates the 7 demo types in heldout-seed0, SFT all 13 types: the second must not
    # get the first one's set (the chained training run did, and mislabelled its table).
    made = []

    def fake_generate_set(out, names, config):
        made.append((list(names), config.seed))
        out.mkdir(parents=True, exist_ok=True)
        (out / 'index.json').write_text(json.dumps({'config': {'seed': config.seed}, 'scenarios': [
            {'name': name} for name in names]}), encoding='utf-8')

    monkeypatch.setattr(train_module, 'generate_set', fake_generate_set)
    directory = tmp_path / 'heldout-seed0'
    train_module.generate(directory, 0, ['curve', 'cut_in'])
    train_module.generate(directory, 0, ['cut_in', 'curve'])              # the same set: reused
    train_module.generate(directory, 0, ['curve', 'cut_in', 'red_light'])
    train_module.generate(directory, 1, ['curve', 'cut_in', 'red_light'])
    assert made == [(['curve', 'cut_in'], 0), (['curve', 'cut_in', 'red_light'], 0),
                    (['curve', 'cut_in', 'red_light'], 1)]
