"""The shipped trained default model: loading, checksum, determinism, and it beats random."""

import shutil

from autovla_common.rig import load_rig
from autovla_planner.model_files import (
    build_tiny_model,
    bundled_files,
    BUNDLED_MODELS,
    DEFAULT_MODEL,
    default_model_dir,
    ModelLoadError,
    random_model_dir,
    tiny_model,
    TRAINED_CONFIG,
    TRAINED_WEIGHTS,
    trained_weights_sha256,
)
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
from autovla_scenarios.generator import generate_set, GenerationConfig, RIG_FILE
from autovla_training.dataset import bag_observations
import numpy as np
import pytest
import torch
import yaml


@pytest.fixture(scope='module')
def trained():
    return PlannerRuntime('', 'cpu')


@pytest.fixture(scope='module')
def straight_cruise_frames(tmp_path_factory):
    """Held-out frames: the demo's own seed (training used other seeds)."""
    out = tmp_path_factory.mktemp('heldout')
    generate_set(out, ['straight_cruise'], GenerationConfig())
    return list(bag_observations(out / 'straight_cruise', load_rig(out / RIG_FILE)))


def test_default_is_the_trained_model_and_differs_from_its_initialisation(trained):
    assert trained.model_id == 'autovla-tiny-sim-sft'
    assert 'untrained' not in trained.model_id
    document = yaml.safe_load(TRAINED_CONFIG.read_text(encoding='utf-8'))
    initial = tiny_model(document)
    ids = torch.tensor([trained.tokenizer.encode('The current velocity is 8.000 m/s')])
    with torch.inference_mode():
        logits = trained.model(input_ids=ids).logits[0, -1]
        initial_logits = initial(input_ids=ids).logits[0, -1]
    assert (logits - initial_logits).abs().max() > 1.0
    # Rows training never used are zero: their logits are exactly 0.
    assert float(logits[trained.tokenizer.convert_tokens_to_ids('<|box_start|>')]) == 0.0


def test_plans_a_held_out_straight_cruise_frame_better_than_the_untrained_model(
        trained, straight_cruise_frames):
    frame = straight_cruise_frames[8]
    untrained = PlannerRuntime(str(random_model_dir()), 'cpu',
                               settings=DecodingSettings(reasoning_mode='fast'))
    errors = {}
    for name, runtime in (('trained', trained), ('untrained', untrained)):
        poses = runtime.plan(frame.observation).poses
        errors[name] = float(np.hypot(*(poses[5, :2] - frame.expert[5, :2])))   # 3 s ahead
    assert errors['trained'] < errors['untrained'], errors
    assert errors['trained'] < 2.0, errors


def test_materialisation_is_deterministic(tmp_path, trained):
    weights, record = bundled_files(DEFAULT_MODEL)
    build_tiny_model(tmp_path / 'a', TRAINED_CONFIG, weights, trained_weights_sha256(record))
    again = (tmp_path / 'a' / 'model.safetensors').read_bytes()
    assert again == (default_model_dir() / 'model.safetensors').read_bytes()


@pytest.mark.parametrize('name', sorted(BUNDLED_MODELS))
def test_every_bundled_model_loads_by_name(name):
    runtime = PlannerRuntime(f'bundled:{name}', 'cpu')
    assert runtime.model_id == BUNDLED_MODELS[name]


def test_an_unknown_bundled_name_is_refused_with_the_list():
    with pytest.raises(ModelLoadError, match='no bundled model .sim_xx.; bundled: sim_bc'):
        PlannerRuntime('bundled:sim_xx', 'cpu')


def test_a_corrupted_weights_file_is_refused(tmp_path):
    corrupted = tmp_path / 'weights.safetensors'
    shutil.copyfile(TRAINED_WEIGHTS, corrupted)
    data = bytearray(corrupted.read_bytes())
    data[-100] ^= 0x01    # one bit of one tensor value
    corrupted.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match='corrupted'):
        build_tiny_model(tmp_path / 'model', TRAINED_CONFIG, corrupted, trained_weights_sha256())
    assert not (tmp_path / 'model' / 'model.safetensors').exists()
