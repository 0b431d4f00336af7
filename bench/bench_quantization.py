#!/usr/bin/env python3
"""INT8 language model vs float32 and bfloat16 on the same weights, side by side in one run.

Three subjects: the bundled behaviour-cloned model (autovla-tiny-sim-bc, fast answers only, 20 M
parameters of which 19.7 M are the tied embedding), the ~140 M random model of bench_planner.py
(closer to a real model's share of decoder weights), and one decoder layer of the released
model's shape (Qwen2.5-VL 3B: hidden 2048, MLP 11008, 16 query / 2 key-value heads; random
weights, transformers' own text model). For each model, the same model directory is loaded
three times (planner ``dtype`` float32 / bfloat16, ``quantization`` int8) and measured:
- size: bytes of the serialized state dict (what a weight file holds; the resident weights);
- fast-decision latency (one CPU thread, the planner's default): fast thinking, cached prefix,
  greedy, the three variants alternated, median of the repeats (bench_planner.py's input:
  3 cameras x 4 frames of 112x196 noise);
- quality (trained model only): every frame of the held-out demo scenarios (seed 0) planned by
  float32 and int8: action-token agreement and L2@1/2/3 s against the expert.
For the layer: float32 vs int8 on a whole official prompt (1209 tokens, prefill) and on one new
token (a decode step; without a KV cache, whose attention is small beside the linear layers).
Targets (issue 12): int8 >= 70 % smaller than float32, faster than float32 on this CPU,
L2@3s within 5 % of float32.
"""

import copy
from pathlib import Path
import statistics
import sys
import tempfile
import time

from autovla_common.bench import write_result
from autovla_planner.model_files import bundled_model_dir
from autovla_planner.quantization import quantize_linears, state_dict_bytes
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
from autovla_scenarios.generator import generate_set, GenerationConfig
from autovla_training.train import evaluate
from bench_planner import noise_observation, small_model_dir, timed
import numpy as np
import torch
from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLTextConfig
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLTextModel

VARIANTS = {'float32': ('float32', 'none'), 'bfloat16': ('bfloat16', 'none'),
            'int8': ('float32', 'int8')}
REPEATS = {'autovla-tiny-sim-bc': 7, 'small-random-untrained': 3}
FAST = DecodingSettings(reasoning_mode='fast')
# Qwen2.5-VL 3B's text decoder (its published config), one layer, a token table of 64 rows.
RELEASED_LAYER = dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=1,
                      num_attention_heads=16, num_key_value_heads=2, vocab_size=64,
                      bos_token_id=None, eos_token_id=None,
                      rope_parameters={'rope_type': 'default', 'rope_theta': 1000000.0,
                                       'mrope_section': [16, 24, 24]})
PROMPT_TOKENS = 1209   # the official fast prompt's length (golden fixture, 3 cameras)
LAYER_REPEATS = 3


def load_variants(model_dir: Path) -> dict:
    """Load the model directory as float32, bfloat16 and int8 runtimes."""
    return {name: PlannerRuntime(str(model_dir), 'cpu', dtype, FAST, quantization)
            for name, (dtype, quantization) in VARIANTS.items()}


def sizes_and_latency(runtimes: dict, observation) -> dict:
    """State-dict bytes and median fast-decision seconds per variant (alternated)."""
    model_id = runtimes['float32'].model_id
    seconds = {name: [] for name in runtimes}
    for runtime in runtimes.values():
        timed(runtime, observation, FAST)             # warm-up, fills the prefix cache
    for _ in range(REPEATS[model_id]):
        for name, runtime in runtimes.items():
            seconds[name].append(timed(runtime, observation, FAST)[0])
    return {'model_id': model_id,
            'bytes': {name: state_dict_bytes(r.model) for name, r in runtimes.items()},
            'language_model_bytes': {name: state_dict_bytes(r.model.model.language_model)
                                     for name, r in runtimes.items()},
            'seconds': {name: statistics.median(values) for name, values in seconds.items()},
            'repeats': REPEATS[model_id]}


def quality(runtimes: dict, scenario_dir: Path) -> dict:
    """Held-out float32 vs int8: per-planner metrics and action-token agreement."""
    plans = {}
    results = evaluate(scenario_dir, {'float32': runtimes['float32'],
                                      'int8': runtimes['int8']}, plans)
    agreement = float(np.mean([np.mean(a == b) for a, b in zip(plans['float32'],
                                                              plans['int8'])]))
    same_plan = float(np.mean([np.array_equal(a, b) for a, b in zip(plans['float32'],
                                                                    plans['int8'])]))
    return {'frames': len(plans['int8']), 'token_agreement': agreement,
            'identical_plans': same_plan,
            **{f'{name}_l2_{s}s_m': results[name][f'l2_{s}s_m']
               for name in ('float32', 'int8') for s in (1, 2, 3)}}


def released_layer() -> dict:
    """Float32 vs int8 seconds (median, alternated) of one released-shape decoder layer."""
    layer = Qwen2_5_VLTextModel(Qwen2_5_VLTextConfig(**RELEASED_LAYER)).eval()
    variants = {'float32': layer, 'int8': quantize_linears(copy.deepcopy(layer))}
    seconds = {(name, tokens): [] for name in variants for tokens in (PROMPT_TOKENS, 1)}
    inputs = {tokens: torch.randn(1, tokens, RELEASED_LAYER['hidden_size'])
              for tokens in (PROMPT_TOKENS, 1)}
    with torch.inference_mode():
        for repeat in range(LAYER_REPEATS + 1):             # the first round warms up
            for (name, tokens), values in seconds.items():
                started = time.perf_counter()
                variants[name](inputs_embeds=inputs[tokens], use_cache=False)
                if repeat:
                    values.append(time.perf_counter() - started)
    return {'seconds': {f'{name}_{tokens}_tokens': statistics.median(values)
                        for (name, tokens), values in seconds.items()},
            'bytes': {name: state_dict_bytes(model.layers) for name, model in variants.items()},
            'repeats': LAYER_REPEATS}


def report(measured: dict, quality_figures: dict, layer: dict) -> None:
    """One size and one latency record per model, and the quality record."""
    for result in measured:
        short = result['model_id'].split('-')[0]
        size, lm, sec = result['bytes'], result['language_model_bytes'], result['seconds']
        write_result(
            f'quantization_int8_size_{short}', 'bytes', size['int8'], size['float32'],
            f"{result['model_id']}: int8 {size['int8'] / 1e6:.1f} MB vs float32 "
            f"{size['float32'] / 1e6:.1f} MB ({1 - size['int8'] / size['float32']:.0%} "
            f"smaller, target >= 70 %) and bfloat16 {size['bfloat16'] / 1e6:.1f} MB; language "
            f"model alone {lm['int8'] / 1e6:.1f} / {lm['float32'] / 1e6:.1f} / "
            f"{lm['bfloat16'] / 1e6:.1f} MB", **result)
        write_result(
            f'quantization_int8_latency_{short}', 's', sec['int8'], sec['float32'],
            f"{result['model_id']}: fast decision int8 {sec['int8'] * 1000:.0f} ms vs float32 "
            f"{sec['float32'] * 1000:.0f} ms ({sec['float32'] / sec['int8']:.2f}x, target > 1) "
            f"and bfloat16 {sec['bfloat16'] * 1000:.0f} ms; median of {result['repeats']}",
            **result)
    q = quality_figures
    delta = q['int8_l2_3s_m'] / q['float32_l2_3s_m'] - 1
    write_result(
        'quantization_int8_quality', 'm', q['int8_l2_3s_m'], q['float32_l2_3s_m'],
        f"autovla-tiny-sim-bc, {q['frames']} held-out frames: L2@3s int8 "
        f"{q['int8_l2_3s_m']:.3f} m vs float32 {q['float32_l2_3s_m']:.3f} m ({delta:+.1%}, "
        f"target within 5 %); action tokens agree {q['token_agreement']:.1%}, identical plans "
        f"{q['identical_plans']:.1%}", l2_3s_delta=delta, **q)
    sec, size = layer['seconds'], layer['bytes']
    write_result(
        'quantization_int8_latency_released_layer', 's', sec['int8_1_tokens'],
        sec['float32_1_tokens'],
        f"one Qwen2.5-VL 3B-shape decoder layer: a decode step int8 "
        f"{sec['int8_1_tokens'] * 1000:.1f} ms vs float32 {sec['float32_1_tokens'] * 1000:.1f} "
        f"ms ({sec['float32_1_tokens'] / sec['int8_1_tokens']:.2f}x), a {PROMPT_TOKENS}-token "
        f"prompt {sec[f'int8_{PROMPT_TOKENS}_tokens'] * 1000:.0f} vs "
        f"{sec[f'float32_{PROMPT_TOKENS}_tokens'] * 1000:.0f} ms "
        f"({sec[f'float32_{PROMPT_TOKENS}_tokens'] / sec[f'int8_{PROMPT_TOKENS}_tokens']:.2f}x); "
        f"weights {size['int8'] / 1e6:.0f} vs {size['float32'] / 1e6:.0f} MB; median of "
        f"{layer['repeats']}", **layer)


def main() -> int:
    """Measure both models, the held-out quality of the trained one, and the layer."""
    torch.set_num_threads(1)                  # as the planner node's cpu_threads default
    observation = noise_observation()
    with tempfile.TemporaryDirectory() as root:
        trained = load_variants(bundled_model_dir('sim_bc'))
        measured = [sizes_and_latency(trained, observation)]
        held_out = Path(root) / 'heldout-seed0'
        generate_set(held_out, config=GenerationConfig())
        quality_figures = quality(trained, held_out)
        del trained
        measured.append(sizes_and_latency(load_variants(small_model_dir(Path(root))),
                                          observation))
    report(measured, quality_figures, released_layer())
    return 0


if __name__ == '__main__':
    sys.exit(main())
