#!/usr/bin/env python3
"""Fast-mode decision latency and decode steps: our constrained decoding vs official generate.

Same weights, same inputs, same run, for two random (untrained) Qwen2.5-VL models with the
AutoVLA vocabulary: the bundled tiny model and a ~140 M parameter model shaped like a small
Qwen2.5-VL (built here from a config). Ours: fast thinking, cached text prefix, one prefill of
the rest of the prompt plus the fixed think block and answer lead-in, then exactly 10 action
tokens with logits over action tokens only, greedy. Official: ``generate`` over the whole
prompt with the official sampling settings (temperature 0.8, top-k 20, top-p 0.2),
unconstrained. An untrained model never stops on its own, so official generation is capped at
the length of a real fast-mode answer (think block + lead-in + 10 actions + </answer> + end
token). Inputs: 3 cameras x 4 frames of 112x196 noise, pixel budget 28*28*16 per frame (small,
so that a 2-core CPU finishes in minutes; the released model uses 28*28*140).
"""

from pathlib import Path
import statistics
import sys
import tempfile
import time

from autovla_common.bench import write_result
from autovla_planner.model_files import (
    action_token,
    build_tiny_model,
    describe_size,
    random_model_dir,
    TINY_CONFIG,
)
from autovla_planner.observation import CameraVideo, Observation
from autovla_planner.runtime import DecodingSettings, PlannerRuntime
import numpy as np
import yaml

SMALL_OVERRIDES = {
    'model_id': 'small-random-untrained',
    'text_config': {'hidden_size': 640, 'intermediate_size': 1792, 'num_hidden_layers': 8,
                    'num_attention_heads': 10, 'num_key_value_heads': 2,
                    'rope_parameters': {'rope_type': 'default', 'rope_theta': 1000000.0,
                                        'mrope_section': [8, 12, 12]}},
    'vision_config': {'depth': 4, 'hidden_size': 256, 'intermediate_size': 512,
                      'num_heads': 4, 'out_hidden_size': 640, 'fullatt_block_indexes': [3]},
    'min_pixels': 28 * 28 * 16, 'max_pixels': 28 * 28 * 16,
}
REPEATS = {'tiny-random-untrained': 5, 'small-random-untrained': 3}


def small_model_dir(root: Path) -> Path:
    """Build the ~140 M parameter random model from the tiny config plus overrides."""
    document = yaml.safe_load(TINY_CONFIG.read_text(encoding='utf-8'))
    for key, value in SMALL_OVERRIDES.items():
        document[key] = {**document[key], **value} if isinstance(value, dict) else value
    config = root / 'small.yaml'
    config.write_text(yaml.safe_dump(document), encoding='utf-8')
    build_tiny_model(root / 'small', config)
    return root / 'small'


def official_cap(runtime: PlannerRuntime) -> int:
    """Tokens of a complete fast-mode answer, end token included."""
    template = runtime.template
    answer = (template.fast_thinking + ''.join(action_token(0) for _ in range(10))
              + template.answer_end)
    return len(runtime.tokenizer.encode(answer)) + 1


def timed(runtime: PlannerRuntime, observation: Observation, settings: DecodingSettings):
    """Run one plan with ``settings``; return (seconds, plan)."""
    runtime.settings = settings
    runtime.policy.forced_mode = settings.reasoning_mode
    started = time.perf_counter()
    plan = runtime.plan(observation)
    return time.perf_counter() - started, plan


def measure(model_dir: Path, observation: Observation) -> dict:
    """Time ours and official decoding alternately on one model; return medians and steps."""
    runtime = PlannerRuntime(str(model_dir), 'cpu')
    cap = official_cap(runtime)
    ours = DecodingSettings(reasoning_mode='fast')
    official = DecodingSettings(decoding='official', official_max_new_tokens=cap)
    timed(runtime, observation, ours)          # warm-up; also fills the prefix cache
    timed(runtime, observation, official)
    ours_s, official_s, cold_s = [], [], []
    for _ in range(REPEATS[runtime.model_id]):
        seconds, ours_plan = timed(runtime, observation, ours)
        ours_s.append(seconds)
        seconds, official_plan = timed(runtime, observation, official)
        official_s.append(seconds)
        runtime._cache = None                  # ours without the cached prefix
        cold_s.append(timed(runtime, observation, ours)[0])
    return {
        'model_id': runtime.model_id, 'size': describe_size(runtime.model),
        'ours_s': statistics.median(ours_s), 'official_s': statistics.median(official_s),
        'ours_without_prefix_cache_s': statistics.median(cold_s),
        'ours_steps': ours_plan.generated_tokens, 'official_steps': official_plan.generated_tokens,
        'ours_stages_ms': ours_plan.latencies_ms, 'official_stages_ms': official_plan.latencies_ms,
        'repeats': len(ours_s)}


def noise_observation() -> Observation:
    """Return the benchmark input: 3 cameras x 4 frames of 112x196 noise, 6 m/s."""
    rng = np.random.default_rng(0)
    return Observation(
        tuple(CameraVideo(name, rng.integers(0, 255, (4, 112, 196, 3), dtype=np.uint8))
              for name in ('CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT')),
        6.0, 0.4, 'KEEP_FORWARD')


def main() -> int:
    """Measure both models and write one record each."""
    observation = noise_observation()
    with tempfile.TemporaryDirectory() as root:
        for model_dir in (random_model_dir(), small_model_dir(Path(root))):
            result = measure(model_dir, observation)
            steps_ratio = result['official_steps'] / result['ours_steps']
            speedup = result['official_s'] / result['ours_s']
            short = result['model_id'].split('-')[0]
            write_result(
                f'planner_fast_decision_{short}', 's', result['ours_s'], result['official_s'],
                f"{result['model_id']} ({result['size']}): ours {result['ours_s'] * 1000:.0f} ms"
                f" / {result['ours_steps']} decode steps vs official generate "
                f"{result['official_s'] * 1000:.0f} ms / {result['official_steps']} steps: "
                f'{speedup:.1f}x faster, {steps_ratio:.1f}x fewer steps (target 3x, 4x); '
                f"without prefix cache {result['ours_without_prefix_cache_s'] * 1000:.0f} ms",
                speedup=speedup, steps_ratio=steps_ratio,
                image='3 cameras x 4 frames 112x196, pixel budget 28*28*16 per frame', **result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
