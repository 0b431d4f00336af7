"""INT8 weights for the language model: the int8 table, the quantized runtime, its errors."""

from autovla_planner.model_files import ModelLoadError
from autovla_planner.observation import CameraVideo, Observation
from autovla_planner.quantization import (
    Int8Linear,
    Int8RowTable,
    QuantizationError,
    quantize_model,
    state_dict_bytes,
)
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
import numpy as np
import pytest
import torch

CAMERAS = ('CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT')
FAST = DecodingSettings(reasoning_mode='fast')


@pytest.fixture(scope='module')
def runtimes():
    """The bundled trained model in float32 and in int8 (same weights)."""
    return (PlannerRuntime('', 'cpu', 'float32', FAST),
            PlannerRuntime('', 'cpu', 'float32', FAST, quantization='int8'))


@pytest.fixture(scope='module')
def observation():
    rng = np.random.default_rng(3)
    return Observation(tuple(CameraVideo(name, rng.integers(0, 255, (4, 56, 112, 3), np.uint8))
                             for name in CAMERAS), 6.0, 0.2, 'KEEP_FORWARD')


def test_int8_table_rows_and_products_are_within_half_a_step_per_row_and_token():
    weight = torch.randn(300, 64) * torch.linspace(0.01, 10.0, 300)[:, None]
    table = Int8RowTable(weight)
    step = weight.abs().amax(dim=1) / 127.0
    ids = torch.tensor([[0, 5, 299], [7, 7, 150]])
    assert table.qweight.dtype == torch.int8
    assert ((table(ids) - weight[ids]).abs() <= 0.5 * step[ids][..., None] + 1e-6).all()
    hidden = torch.randn(2, 3, 64) * torch.tensor([1.0, 30.0, 0.01])[:, None]
    exact = hidden @ weight.T
    # x'w' - xw = x'(w' - w) + (x' - x)w, with |x' - x| <= half the token's step
    token_step = hidden.abs().amax(-1, keepdim=True) / 127.0
    bound = (0.5 * (hidden.abs() + 0.5 * token_step).sum(-1, keepdim=True) * step
             + 0.5 * token_step * weight.abs().sum(1) + 1e-4)
    assert ((table.matmul_transposed(hidden) - exact).abs() <= bound).all()


def test_int8_model_is_at_least_70_percent_smaller_and_ties_one_table(runtimes):
    fp32, int8 = runtimes
    assert state_dict_bytes(int8.model) <= 0.3 * state_dict_bytes(fp32.model)
    language_model = int8.model.model.language_model
    assert int8.model.lm_head.table is language_model.embed_tokens   # one int8 vocabulary
    linear = language_model.layers[0].mlp.down_proj
    assert isinstance(linear, Int8Linear)
    assert linear.table.qweight.dtype == torch.int8
    assert linear.table.scale.shape == (linear.table.shape[0],)


def test_one_large_token_does_not_crush_the_others(runtimes):
    # A prompt's activations span orders of magnitude between tokens (vision tokens carry
    # outliers); with one activation scale for all tokens the small ones round to a few levels.
    float_linear = runtimes[0].model.model.language_model.layers[0].mlp.down_proj
    int8_linear = runtimes[1].model.model.language_model.layers[0].mlp.down_proj
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(1, 40, float_linear.in_features, generator=generator)
    hidden[0, 7] *= 1000.0
    with torch.inference_mode():
        exact, approximate = float_linear(hidden), int8_linear(hidden)
    ordinary = torch.arange(40) != 7
    error = (approximate - exact)[0, ordinary].norm(dim=-1) / exact[0, ordinary].norm(dim=-1)
    assert error.max() < 0.05, error.max()


def test_int8_plans_follow_the_float_model(runtimes, observation):
    fp32, int8 = runtimes
    with torch.inference_mode():
        _, inputs = fp32.prepare(observation)
        hidden_fp32, _ = fp32._prefill_prompt(inputs, fp32.fast_ids)
        hidden_int8, _ = int8._prefill_prompt(inputs, int8.fast_ids)
    cosine = torch.nn.functional.cosine_similarity(hidden_fp32, hidden_int8, dim=0)
    assert cosine > 0.99
    float_plan, int8_plan = fp32.plan(observation), int8.plan(observation)
    assert int8_plan.action_indices.shape == (10,)
    # Compared as motions, not token ids: neighbouring codebook tokens are near-identical
    # 0.5 s segments, and one different id shifts every later one.
    path_length = np.sum(np.hypot(*np.diff(float_plan.poses[:, :2], axis=0).T))
    deviation = np.max(np.hypot(*(int8_plan.poses[:, :2] - float_plan.poses[:, :2]).T))
    assert deviation <= 0.05 * path_length, (deviation, path_length)


def test_auto_mode_runs_the_int8_head_over_the_whole_vocabulary(observation):
    # sim_bc answers fast in auto mode; the choice itself goes through the int8 head
    runtime = PlannerRuntime('bundled:sim_bc', 'cpu',
                             settings=DecodingSettings(reasoning_mode='auto'), quantization='int8')
    plan = runtime.plan(observation)
    assert plan.mode_reason.startswith('model chose fast thinking (p_fast=')


def test_bad_quantization_requests_fail_with_clear_errors(runtimes):
    with pytest.raises(ModelLoadError, match='int8 on CPU needs float32'):
        PlannerRuntime('', 'cpu', 'bfloat16', quantization='int8')
    with pytest.raises(QuantizationError, match="'int4' is not one of"):
        quantize_model(runtimes[0].model, 'int4', 'cpu')
