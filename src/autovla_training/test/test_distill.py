"""Distillation: the teacher's soft targets and the KL term that pulls the student to them."""

from types import SimpleNamespace

from autovla_planner.model_files import build_tiny_model, TRAINED_CONFIG
from autovla_planner.runtime import PlannerRuntime
from autovla_training.dataset import scenario_samples
from autovla_training.distill import (
    DISTILLED_RECORD,
    DistillingCloner,
    parse_args,
    TEACHER_CONFIG,
    teacher_log_probs,
)
from autovla_training.train import load_record, train, trainable_rows
import numpy as np
import pytest
import torch


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """A random teacher of the teacher architecture and a student at its initialisation."""
    root = tmp_path_factory.mktemp('distill')
    build_tiny_model(root / 'teacher', TEACHER_CONFIG)
    build_tiny_model(root / 'student', TRAINED_CONFIG)
    return (PlannerRuntime(str(root / 'teacher'), 'cpu', 'float32'),
            PlannerRuntime(str(root / 'student'), 'cpu', 'float32'))


def test_soft_targets_are_the_teacher_models_action_distributions(models, scenario_dir):
    teacher, student = models
    samples = scenario_samples(scenario_dir, student)[:2]
    soft = teacher_log_probs(teacher, samples, temperature=2.0)
    first = teacher.descriptor.first_action_id
    for sample, log_probs in zip(samples, soft):
        assert log_probs.shape == (10, 2048)
        # Reference: the teacher's full forward pass (HF logits over the whole vocabulary).
        ids = np.concatenate([sample.inputs.input_ids, sample.target_ids])
        types = np.concatenate([sample.inputs.token_types,
                                np.zeros(len(sample.target_ids), np.int64)])
        with torch.no_grad():
            logits = teacher.model(
                input_ids=torch.as_tensor(ids)[None],
                mm_token_type_ids=torch.as_tensor(types)[None],
                pixel_values_videos=torch.as_tensor(sample.inputs.pixel_values_videos),
                video_grid_thw=torch.as_tensor(sample.inputs.video_grid_thw),
                second_per_grid_ts=torch.as_tensor(sample.inputs.seconds_per_grid)).logits[0]
        target = np.asarray(sample.target_ids)
        positions = len(sample.inputs.input_ids) - 1 + np.flatnonzero(
            (target >= first) & (target < first + 2048))
        expected = torch.log_softmax(logits[positions, first:first + 2048] / 2.0, dim=-1)
        assert torch.allclose(log_probs.float(), expected, atol=2e-2)


def test_kl_term_is_zero_on_its_own_targets_and_training_pulls_the_student_in(
        models, scenario_dir):
    teacher, student = models
    samples = scenario_samples(scenario_dir, student)
    cloner = DistillingCloner(student, trainable_rows(student, samples), action_weight=1.0,
                              alpha=1.0, temperature=1.0)
    own = teacher_log_probs(student, samples, temperature=1.0)
    assert abs(float(cloner.sample_loss((samples[0], own[0]))[0].detach())) < 1e-2
    # A sharpened teacher: a random model's action distributions are nearly uniform.
    items = list(zip(samples, teacher_log_probs(teacher, samples, temperature=0.05)))
    before = [float(cloner.sample_loss(item)[0].detach()) for item in items]
    args = SimpleNamespace(seed=0, lr=3e-3, batch=1, epochs=3, minutes=5.0, log_every=1000)
    train(cloner, items, args)
    after = [float(cloner.sample_loss(item)[0].detach()) for item in items]
    assert min(before) > 1.0
    assert np.mean(after) < 0.5 * np.mean(before), (before, after)


def test_the_default_settings_are_the_committed_runs():
    """``distill_default_model`` without options repeats the run recorded with sim_kd."""
    record = load_record(DISTILLED_RECORD)
    settings, args = record['settings'], parse_args([])
    assert settings['scenario_seeds'] == list(range(1, args.train_seeds + 1))
    assert settings['teacher_config'] == args.teacher_config.name
    assert settings['teacher_epochs'] == args.teacher_epochs
    assert settings['student_epochs'] == args.epochs
    for key in ('batch', 'lr', 'action_weight', 'alpha', 'temperature', 'seed', 'threads'):
        assert settings[key] == getattr(args, key), key
    # Every run finished its epochs: the time cap did not cut one short.
    runs = record['runs']
    assert runs['teacher']['epochs'] == args.teacher_epochs
    assert runs['alone']['epochs'] == runs['distilled']['epochs'] == args.epochs
