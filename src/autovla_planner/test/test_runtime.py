"""The model runtime on the tiny random model: decoding phases, modes, tokens, model files."""

from dataclasses import replace

from autovla_planner.model_files import (
    build_tiny_model,
    FIRST_ACTION_ID,
    ModelLoadError,
    random_model_dir,
)
from autovla_planner.observation import CameraVideo, Observation
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
import numpy as np
import pytest
import torch

CAMERAS = ('CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT')


@pytest.fixture(scope='module')
def runtime():
    return PlannerRuntime(str(random_model_dir()), 'cpu')


@pytest.fixture(scope='module')
def observation():
    rng = np.random.default_rng(7)
    return Observation(tuple(CameraVideo(name, rng.integers(0, 255, (4, 56, 84, 3), np.uint8))
                             for name in CAMERAS), 5.0, 0.5, 'KEEP_FORWARD')


def with_settings(runtime, **changes):
    runtime.settings = replace(DecodingSettings(), **changes)
    runtime.policy.forced_mode = runtime.settings.reasoning_mode
    return runtime


def test_vocabulary_layout_mirrors_the_released_model(runtime):
    tokenizer = runtime.tokenizer
    assert len(tokenizer) == 153713
    assert tokenizer.convert_tokens_to_ids(['<action_0>', '<action_2047>']) == [151665, 153712]
    assert tokenizer.convert_tokens_to_ids(['<|vision_start|>', '<|video_pad|>']) == \
        [151652, 151656]
    assert runtime.model_id == 'tiny-random-untrained'
    # The assistant text tokenizes the same alone as after the prompt (prefill boundaries).
    prompt = '<|im_start|>assistant\n'
    assistant = runtime.template.fast_thinking + '<action_3><action_9>'
    assert tokenizer.encode(prompt + assistant) == \
        tokenizer.encode(prompt) + tokenizer.encode(assistant)


def test_cached_prefix_and_chunked_prefill_equal_one_full_forward(runtime, observation):
    _, inputs = runtime.prepare(observation)
    with torch.inference_mode():
        hidden, _ = runtime._prefill_prompt(inputs, runtime.fast_ids)
        again, _ = runtime._prefill_prompt(inputs, runtime.fast_ids)   # prefix reused
        full = runtime.official_inputs(inputs)
        full['input_ids'] = torch.cat([full['input_ids'], torch.tensor([runtime.fast_ids])], 1)
        full['mm_token_type_ids'] = torch.cat(
            [full['mm_token_type_ids'], torch.zeros(1, len(runtime.fast_ids), dtype=torch.long)],
            1)
        full['attention_mask'] = torch.ones_like(full['input_ids'])
        reference = runtime.model.model(**full).last_hidden_state[0, -1]
    runtime._truncate(len(runtime._prefix_ids))
    torch.testing.assert_close(hidden, reference, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(again, hidden)


def test_constrained_decoding_emits_only_action_tokens_that_are_the_action_argmax(
        runtime, observation):
    plan = with_settings(runtime, reasoning_mode='fast').plan(observation)
    assert plan.generated_tokens == 10 and plan.mode == 'fast'
    ids = runtime.tokenizer.encode(plan.output_text)
    lead = runtime.tokenizer.encode(runtime.template.fast_thinking)
    assert ids[:len(lead)] == lead
    actions = ids[len(lead):len(lead) + 10]
    assert all(FIRST_ACTION_ID <= i < FIRST_ACTION_ID + 2048 for i in actions)
    assert [i - FIRST_ACTION_ID for i in actions] == plan.action_indices.tolist()
    # Independent check: one teacher-forced forward over prompt + answer; at each action
    # position the chosen token is the argmax over the action rows of the LM head.
    _, inputs = runtime.prepare(observation)
    answer = runtime.fast_ids + actions
    with torch.inference_mode():
        full = runtime.official_inputs(inputs)
        full['input_ids'] = torch.cat([full['input_ids'], torch.tensor([answer])], 1)
        full['mm_token_type_ids'] = torch.cat(
            [full['mm_token_type_ids'], torch.zeros(1, len(answer), dtype=torch.long)], 1)
        full['attention_mask'] = torch.ones_like(full['input_ids'])
        logits = runtime.model(**full).logits[0]
    start = len(inputs.input_ids) + len(runtime.fast_ids) - 1
    action_logits = logits[start:start + 10, FIRST_ACTION_ID:FIRST_ACTION_ID + 2048]
    assert action_logits.argmax(-1).tolist() == plan.action_indices.tolist()
    full_vocab_choice = logits[start:start + 10].argmax(-1)
    assert plan.poses.shape == (10, 3)
    assert (full_vocab_choice < FIRST_ACTION_ID).any()   # unconstrained would leave actions


def test_forced_slow_reasons_then_answers_within_the_token_bound(runtime, observation):
    plan = with_settings(runtime, reasoning_mode='slow', max_reasoning_tokens=6).plan(
        observation)
    assert plan.mode == 'slow' and plan.mode_reason == 'slow thinking forced by parameter'
    assert plan.reasoning.startswith('This is a complex scenario requiring additional reasoning.')
    assert 10 < plan.generated_tokens <= 16
    # The explanation is the generated reasoning itself (the mode sentence is its prefix).
    generated = plan.reasoning[len('This is a complex scenario requiring additional '
                                   'reasoning.'):].strip()
    assert plan.explanation == 'Slow thinking: ' + (generated or '(no reasoning generated)')
    assert len(plan.action_indices) == 10 and 'reasoning' in plan.latencies_ms


def test_a_fresh_planners_first_slow_plan_stops_reasoning_at_the_latency_budget(observation):
    # Nothing measured yet: the token bound is only max_reasoning_tokens, so only the clock
    # can keep this plan near its budget (the random model never writes </think>).
    fresh = PlannerRuntime(str(random_model_dir()), 'cpu', settings=DecodingSettings(
        reasoning_mode='slow', latency_budget_s=1e-3, max_reasoning_tokens=400))
    plan = fresh.plan(observation)
    assert plan.mode == 'slow' and len(plan.action_indices) == 10
    assert plan.generated_tokens == 10, plan.generated_tokens   # no reasoning token fit


def test_auto_mode_records_the_model_choice(runtime, observation):
    plan = with_settings(runtime, reasoning_mode='auto', max_reasoning_tokens=4).plan(
        observation)
    assert plan.mode_reason.startswith(f'model chose {plan.mode} thinking (p_fast=')


def test_seeded_sampling_replays_identically(runtime, observation):
    with_settings(runtime, reasoning_mode='fast', sampling=True, temperature=5.0, top_k=0,
                  top_p=1.0, seed=11, confidence_samples=2)
    first, second = runtime.plan(observation), runtime.plan(observation)
    assert first.action_indices.tolist() == second.action_indices.tolist()
    assert first.uncertainty.num_samples == 2 and first.uncertainty.sample_spread_m >= 0.0
    assert 0.0 <= first.confidence <= 1.0


def test_official_mode_generates_every_token(runtime, observation):
    plan = with_settings(runtime, decoding='official', official_max_new_tokens=12).plan(
        observation)
    assert plan.generated_tokens == 12
    assert plan.mode_reason.startswith('official decoding')
    assert len(plan.action_indices) == 10


def test_tiny_model_generation_is_deterministic(tmp_path):
    build_tiny_model(tmp_path / 'again')
    assert (tmp_path / 'again' / 'model.safetensors').read_bytes() == \
        (random_model_dir() / 'model.safetensors').read_bytes()


def test_corrupt_model_directory_fails_with_one_clear_message(tmp_path):
    with pytest.raises(ModelLoadError, match='does not exist'):
        PlannerRuntime(str(tmp_path / 'nowhere'), 'cpu')
    source = random_model_dir()
    for name in ('autovla_runtime.yaml', 'autovla_prompt.yaml', 'action_codebook.npy',
                 'chat_template.jinja', 'config.json', 'tokenizer.json',
                 'tokenizer_config.json'):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    (tmp_path / 'model.safetensors').write_bytes(b'garbage')
    with pytest.raises(ModelLoadError, match='cannot load the model from'):
        PlannerRuntime(str(tmp_path), 'cpu')


def test_cpu_threads_sets_the_threads_of_whichever_thread_plans():
    """The node plans in its PlanServer's worker thread: the setting must reach it there.

    With torch's default (one thread per core) fast plans took 2x to 60x longer whenever
    another process kept a core busy (bench/bench_cpu_contention.py).
    """
    import threading

    before = torch.get_num_threads()

    def threads_in_a_new_thread():
        seen = []
        worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        worker.start()
        worker.join()
        return seen[0]

    try:
        torch.set_num_threads(2)
        PlannerRuntime('', 'cpu', cpu_threads=0)
        assert threads_in_a_new_thread() == 2     # 0: the caller's setting stays
        PlannerRuntime('', 'cpu', cpu_threads=1)
        assert threads_in_a_new_thread() == 1
    finally:
        torch.set_num_threads(before)
