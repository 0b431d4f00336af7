"""The AutoVLA model runtime (ROS-free): observation in, plan out.

Decoding ("constrained", the default):
1. The prompt's observation-free text prefix (system prompt ... first "<|vision_start|>")
   is prefilled once and its KV cache kept; later plans with the same prefix reuse it.
2. The rest of the prompt (videos, state sentence) and the fixed assistant text are fed in one
   prefill each, never generated token by token:
   - fast thinking forced: the fixed think block and the answer lead-in are part of the prefill;
   - auto: the text shared by both official first sentences ("<think>", "This is a") is
     prefilled, the model's next-token probabilities pick fast or slow (restricted to the two
     sentences' next tokens), the reasoning policy may overrule slow for the latency budget,
     and the rest of the chosen sentence is prefilled;
   - slow thinking: reasoning is generated (full vocabulary) until "</think>" or the token
     limit, then the answer lead-in is prefilled.
3. Exactly ``horizon`` action tokens are generated with the logits computed only for the action
   tokens (rows of the LM head), greedy by default, or sampled with a seeded generator.
All phases share one KV cache. "official" decoding instead calls ``generate`` on the whole
prompt with the official sampling settings and no constraint, for comparison.
"""

from dataclasses import dataclass, field
import math
from pathlib import Path
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

from autovla_planner.action_codebook import ActionCodebook
from autovla_planner.assistant_turn import close_reasoning, THINK_CLOSE
from autovla_planner.batching import (
    decode_actions,
    sample_indices,
    sample_spread,
    step_uncertainty,
)
from autovla_planner.confidence import confidence, MOTION_TOLERANCE_M, Uncertainty
from autovla_planner.explanation import slow_explanation
from autovla_planner.model_files import (
    action_token,
    CHAT_TEMPLATE_FILE,
    check_model_dir,
    ModelLoadError,
    resolve_model_dir,
)
from autovla_planner.observation import Observation, select_cameras
from autovla_planner.prompt import (
    build_messages,
    encode_prompt,
    PromptInputs,
    PromptTemplate,
    render_chat,
)
from autovla_planner.reasoning_policy import FAST, ReasoningPolicy, SLOW
from autovla_planner.trajectory import fast_explanation
from autovla_planner.vision_input import PatchGeometry


class InferenceTimeoutError(RuntimeError):
    """A plan did not finish before its deadline."""


class InvalidObservationError(ValueError):
    """The observation cannot be turned into the model's prompt (camera missing...)."""


@dataclass
class DecodingSettings:
    """How plans are decoded (node parameters of the same names)."""

    decoding: str = 'constrained'          # constrained / official
    reasoning_mode: str = 'auto'           # auto / fast / slow
    latency_budget_s: float = 0.0          # 0 = unlimited
    max_reasoning_tokens: int = 512
    expected_reasoning_tokens: float = 300.0
    slow_threshold: float = 0.5            # auto: slow when p_slow's share is above this
    sampling: bool = False                 # false = greedy
    temperature: float = 0.8
    top_k: int = 20
    top_p: float = 0.2
    seed: int = 0
    confidence_samples: int = 0
    official_max_new_tokens: int = 0       # 0 = up to the official max_length


@dataclass
class Plan:
    """One decision of the planner."""

    action_indices: np.ndarray            # (H,) codebook indices
    poses: np.ndarray                     # (H, 3) x, y, yaw after each 0.5 s
    mode: str                             # fast / slow
    mode_reason: str
    reasoning: str                        # think block text in slow mode, else ''
    explanation: str
    confidence: float
    uncertainty: Uncertainty
    generated_tokens: int                 # tokens produced one forward pass at a time
    output_text: str
    latencies_ms: Dict[str, float] = field(default_factory=dict)
    batch_size: int = 1                   # plans decoded together with this one (batching.py)


def pick_device(device: str) -> str:
    """Resolve auto/cuda/cpu to a torch device name."""
    import torch

    if device == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cuda' and not torch.cuda.is_available():
        raise ModelLoadError('device cuda requested but torch sees no CUDA device')
    return device


def pick_dtype(dtype: str, device: str):
    """Resolve auto/float32/bfloat16/float16 (auto: bfloat16 on CUDA, float32 on CPU)."""
    import torch

    if dtype == 'auto':
        return torch.bfloat16 if device.startswith('cuda') else torch.float32
    return {'float32': torch.float32, 'bfloat16': torch.bfloat16,
            'float16': torch.float16}[dtype]


class PlannerRuntime:
    """Loads a model directory and turns observations into plans."""

    def __init__(self, model_path: str = '', device: str = 'auto', dtype: str = 'auto',
                 settings: Optional[DecodingSettings] = None, quantization: str = 'none',
                 cpu_threads: int = 0):
        self.settings = settings or DecodingSettings()
        self.policy = ReasoningPolicy(self.settings.reasoning_mode,
                                      self.settings.latency_budget_s,
                                      self.settings.expected_reasoning_tokens,
                                      self.settings.slow_threshold)
        try:
            self.model_dir = resolve_model_dir(model_path)
            self.descriptor = check_model_dir(self.model_dir)
            self._load(pick_device(device), dtype, quantization, cpu_threads)
        except ModelLoadError:
            raise
        except Exception as error:  # noqa: BLE001 - any loader failure becomes one message
            source = model_path or 'the bundled default'
            raise ModelLoadError(f'cannot load the model from {source}: '
                                 f'{type(error).__name__}: {error}') from error
        self.model_id = self.descriptor.model_id
        self._prefix_ids: Tuple[int, ...] = ()
        self._cache = None

    def _load(self, device: str, dtype: str, quantization: str, cpu_threads: int) -> None:
        import torch
        from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

        from autovla_planner.quantization import quantize_model

        directory, descriptor = Path(self.model_dir), self.descriptor
        self.device = device
        if device == 'cpu' and cpu_threads > 0:
            torch.set_num_threads(cpu_threads)   # process-wide; 0 keeps the caller's setting
        self.template = PromptTemplate.load(directory / descriptor.prompt_template)
        self.template.instruction('UNKNOWN', descriptor.instruction_wording)  # known wording?
        self.chat_template = (directory / CHAT_TEMPLATE_FILE).read_text(encoding='utf-8')
        self.codebook = ActionCodebook.load(directory / descriptor.codebook)
        # Which tokens count as the same motion for the confidence (confidence.py).
        self._same_motion = torch.from_numpy(
            self.codebook.same_motion(MOTION_TOLERANCE_M)).to(device)
        self.tokenizer = AutoTokenizer.from_pretrained(directory)
        self.model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            directory, dtype=pick_dtype(dtype, device)).to(device).eval()
        first, count = descriptor.first_action_id, self.codebook.size
        ids = self.tokenizer.convert_tokens_to_ids([action_token(0), action_token(count - 1)])
        if ids != [first, first + count - 1]:
            raise ModelLoadError(f'{directory}: tokenizer has <action_0>/<action_{count - 1}> '
                                 f'at {ids}, the descriptor says they start at {first}')
        head = self.model.lm_head.weight
        if head.shape[0] < first + count:
            raise ModelLoadError(f'{directory}: model vocabulary {head.shape[0]} cannot hold '
                                 f'{count} action tokens from id {first}')
        self.action_head = head[first:first + count].detach()   # a view: training updates it
        if quantization != 'none':   # the head is replaced, its action rows stay float
            self.action_head = self.action_head.clone()
        quantize_model(self.model, quantization, device)
        vision = self.model.config.vision_config
        self.geometry = PatchGeometry(vision.patch_size, vision.temporal_patch_size,
                                      vision.spatial_merge_size)
        self.fast_ids = self._encode(self.template.fast_thinking)
        self.slow_ids = self._encode(self.template.slow_thinking_start)
        shared = 0
        while self.fast_ids[shared] == self.slow_ids[shared]:
            shared += 1
        self.shared_ids = self.fast_ids[:shared]
        self.eos_id = self.tokenizer.convert_tokens_to_ids('<|im_end|>')
        self._torch = torch

    def _encode(self, text: str) -> List[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    # -- prompt -------------------------------------------------------------------------

    def prompt_text(self, observation: Observation) -> str:
        """Return the chat-formatted prompt of an observation (placeholders not expanded)."""
        messages = build_messages(self.template, observation, self.descriptor.system_prompt,
                                  self.descriptor.instruction_wording)
        return render_chat(self.chat_template, messages)

    def prepare(self, observation: Observation) -> Tuple[Observation, PromptInputs]:
        """Select and pad the cameras the model expects, then build its inputs."""
        descriptor = self.descriptor
        try:
            observation = Observation(
                select_cameras(observation.cameras, descriptor.cameras,
                               descriptor.frames_per_camera),
                observation.speed, observation.acceleration, observation.command)
            inputs = encode_prompt(self.prompt_text(observation), observation, self.tokenizer,
                                   self.geometry, descriptor.min_pixels, descriptor.max_pixels,
                                   descriptor.frame_rate_hz)
        except ValueError as error:
            raise InvalidObservationError(str(error)) from None
        return observation, inputs

    # -- model calls --------------------------------------------------------------------

    def rope_positions(self, inputs: PromptInputs):
        """Return the 3D mrope positions of a prompt (tensor on the device) and its delta."""
        torch = self._torch
        positions, delta = self.model.model.get_rope_index(
            torch.as_tensor(inputs.input_ids)[None],
            mm_token_type_ids=torch.as_tensor(inputs.token_types)[None],
            video_grid_thw=torch.as_tensor(inputs.video_grid_thw),
            second_per_grid_ts=torch.as_tensor(inputs.seconds_per_grid))
        return positions.to(self.device), int(delta.reshape(-1)[0])

    def _forward(self, ids, positions, attention_mask=None, **vision):
        """Run new tokens (one row, or rows x length) through the model with the shared cache.

        Return the last hidden state of each row (rows, hidden).
        """
        ids = self._torch.as_tensor(ids, device=self.device)
        output = self.model.model(
            input_ids=ids.view(-1, ids.shape[-1]), position_ids=positions,
            attention_mask=attention_mask, past_key_values=self._cache, use_cache=True,
            **vision)
        return output.last_hidden_state[:, -1]

    def _truncate(self, length: int) -> None:
        """Drop cached tokens after the first ``length``."""
        extra = self._cache.get_seq_length() - length
        if extra > 0:
            self._cache.crop(-extra)

    def _continue(self, ids: List[int], delta: int):
        """Feed text tokens after the prompt; positions continue from the cache length."""
        torch = self._torch
        start = self._cache.get_seq_length()
        positions = (torch.arange(start, start + len(ids), device=self.device) + delta)
        return self._forward(ids, positions.view(1, 1, -1).expand(3, 1, -1))[0]

    def _ensure_prefix(self, inputs: PromptInputs) -> None:
        """Make the cache hold exactly the prompt's observation-free prefix (reused if cached)."""
        from transformers.cache_utils import DynamicCache

        prefix = inputs.prefix_length
        prefix_ids = tuple(int(i) for i in inputs.input_ids[:prefix])
        if self._cache is None or prefix_ids != self._prefix_ids:
            self._cache = DynamicCache(config=self.model.config)
            positions, _ = self.rope_positions(inputs)
            self._forward(list(prefix_ids), positions[:, :, :prefix])
            self._prefix_ids = prefix_ids
        else:
            self._truncate(prefix)

    def _prefill_prompt(self, inputs: PromptInputs, extra_ids: List[int]):
        """Prefill prompt + ``extra_ids`` reusing the cached prefix; return (hidden, delta)."""
        torch = self._torch
        self._ensure_prefix(inputs)
        positions, delta = self.rope_positions(inputs)
        prefix = inputs.prefix_length
        vision = {
            'pixel_values_videos': torch.as_tensor(inputs.pixel_values_videos).to(
                self.device, self.model.dtype),
            'video_grid_thw': torch.as_tensor(inputs.video_grid_thw, device=self.device)}
        length = len(inputs.input_ids)
        extra_positions = (torch.arange(length, length + len(extra_ids), device=self.device)
                           + delta).view(1, 1, -1).expand(3, 1, -1)
        hidden = self._forward(list(inputs.input_ids[prefix:]) + list(extra_ids),
                               torch.cat([positions[:, :, prefix:], extra_positions], dim=2),
                               **vision)
        return hidden[0], delta

    # -- planning -----------------------------------------------------------------------

    def plan(self, observation: Observation, deadline: Optional[float] = None) -> Plan:
        """Plan from one observation; raise InferenceTimeoutError past ``deadline`` (monotonic)."""
        with self._torch.inference_mode():
            if self.settings.decoding == 'official':
                return self._plan_official(observation, deadline)
            try:
                return self._plan_constrained(observation, deadline)
            finally:
                if self._cache is not None:
                    self._truncate(len(self._prefix_ids))

    def _check(self, deadline: Optional[float]) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise InferenceTimeoutError('plan exceeded its deadline')

    def _plan_constrained(self, observation: Observation, deadline: Optional[float]) -> Plan:
        torch = self._torch
        started = time.perf_counter()
        latencies = {}
        observation, inputs = self.prepare(observation)
        latencies['preprocess'] = 1000 * (time.perf_counter() - started)
        self._check(deadline)
        generator = torch.Generator(device=self.device).manual_seed(self.settings.seed)
        forced = self.policy.forced()
        tick = time.perf_counter()
        if forced is not None and forced[0] == FAST:
            hidden, delta = self._prefill_prompt(inputs, self.fast_ids)
            mode, reason = forced
        else:
            hidden, delta = self._prefill_prompt(inputs, self.shared_ids)
            if forced is not None:
                mode, reason = forced
            else:
                mode, reason = self._choose_mode(hidden, time.perf_counter() - started)
            branch = self.fast_ids if mode == FAST else self.slow_ids
            hidden = self._continue(branch[len(self.shared_ids):], delta)
        latencies['prefill'] = 1000 * (time.perf_counter() - tick)
        generated = 0
        reasoning = ''
        reasoning_token_s = reasoning_tokens = None
        if mode == SLOW:
            tick = time.perf_counter()
            elapsed = time.perf_counter() - started
            limit = self.policy.reasoning_token_limit(elapsed, self.descriptor.horizon,
                                                      self.settings.max_reasoning_tokens)
            time_left = self.policy.reasoning_time_left(elapsed, self.descriptor.horizon)
            stop_at = None if time_left is None else time.monotonic() + time_left
            hidden, reasoning, reasoning_tokens = self._reason(hidden, delta, limit, generator,
                                                               deadline, stop_at)
            generated += reasoning_tokens
            seconds = time.perf_counter() - tick
            latencies['reasoning'] = 1000 * seconds
            reasoning_token_s = seconds / reasoning_tokens if reasoning_tokens else None
        answer_start = self._cache.get_seq_length()
        tick = time.perf_counter()
        next_position = [answer_start + delta]
        indices, log_probs, entropies = decode_actions(self, hidden[None], next_position,
                                                       self.settings, generator, deadline)
        seconds = time.perf_counter() - tick
        latencies['decode'] = 1000 * seconds
        generated += indices.shape[1]
        self.policy.record(seconds / indices.shape[1], reasoning_token_s, reasoning_tokens)
        poses = self.codebook.decode(indices[0])
        spreads = sample_spread(self, hidden[None], answer_start, next_position, [poses],
                                deadline)
        latencies['total'] = 1000 * (time.perf_counter() - started)
        return self.action_plan(indices[0], poses, mode, reason, reasoning, log_probs[0],
                                entropies[0], spreads[0] if spreads else math.nan, generated,
                                observation.speed, latencies)

    def action_plan(self, indices, poses, mode: str, reason: str, reasoning: str, log_probs,
                    entropies, spread: float, generated: int, speed: float,
                    latencies: Dict[str, float]) -> Plan:
        """Build the Plan of decoded actions from their per-step uncertainty figures."""
        uncertainty = Uncertainty(float(np.mean(log_probs)), float(np.min(log_probs)),
                                  float(np.mean(entropies)),
                                  max(self.settings.confidence_samples, 0), spread)
        return self._finish(indices, poses, mode, reason, reasoning, uncertainty, generated,
                            self._assistant_text(mode, reasoning, indices), speed, latencies)

    def _choose_mode(self, hidden, elapsed_s: float) -> Tuple[str, str]:
        """Let the model pick one of the two official first sentences, then apply the budget."""
        torch = self._torch
        shared = len(self.shared_ids)
        logits = self.model.lm_head(hidden).float()
        probabilities = torch.softmax(logits, dim=-1)
        choice, note = self.policy.model_choice(float(probabilities[self.fast_ids[shared]]),
                                                float(probabilities[self.slow_ids[shared]]))
        return self.policy.decide(choice, note, elapsed_s, self.descriptor.horizon)

    def _reason(self, hidden, delta: int, limit: int, generator, deadline: Optional[float],
                stop_at: Optional[float]) -> Tuple[object, str, int]:
        """Generate reasoning until </think>, ``limit`` tokens or ``stop_at``; prefill the rest.

        ``stop_at`` (monotonic) is where the latency budget runs out; the answer lead-in is
        prefilled after the reasoning however it ended.
        """
        tokens: List[int] = []
        text = ''
        while len(tokens) < limit and (stop_at is None or time.monotonic() < stop_at):
            self._check(deadline)
            token = int(sample_indices(self.model.lm_head(hidden)[None], self.settings,
                                       generator)[0])
            tokens.append(token)
            hidden = self._continue([token], delta)
            text = self.tokenizer.decode(tokens)
            if token == self.eos_id or THINK_CLOSE in text:
                break
        reasoning, remainder = close_reasoning(self.template, text)
        hidden = self._continue(self._encode(remainder), delta)
        return hidden, (self.template.slow_sentence + reasoning).strip(), len(tokens)

    def fast_answer_ids(self, indices) -> List[int]:
        """Token ids of the whole fast-thinking assistant turn for action ``indices``.

        The fixed think block and answer lead-in (exactly the ids the decoder prefills), the
        action tokens, the answer's closing and <|im_end|>: the target of supervised training.
        """
        first = self.descriptor.first_action_id
        return (list(self.fast_ids) + [first + int(i) for i in indices]
                + self._encode(self.template.answer_end) + [self.eos_id])

    def _assistant_text(self, mode: str, reasoning: str, indices: np.ndarray) -> str:
        template = self.template
        actions = ''.join(action_token(int(i)) for i in indices)
        think = template.fast_sentence if mode == FAST else reasoning + '\n'
        return (template.think_start + think + template.think_end + template.answer_lead_in
                + actions + template.answer_end)

    def _finish(self, indices, poses, mode, reason, reasoning, uncertainty, generated, text,
                speed, latencies) -> Plan:
        explanation = (slow_explanation(reasoning, self.template.slow_sentence)
                       if mode == SLOW else fast_explanation(poses, speed))
        return Plan(np.asarray(indices, dtype=np.int64), poses, mode, reason, reasoning,
                    explanation, confidence(uncertainty, self.codebook.size), uncertainty,
                    generated, text, latencies)

    # -- official-style decoding ---------------------------------------------------------

    def official_inputs(self, inputs: PromptInputs) -> dict:
        """Keyword arguments of ``generate`` for a prompt (the processor's output layout)."""
        torch = self._torch
        return {
            'input_ids': torch.as_tensor(inputs.input_ids, device=self.device)[None],
            'attention_mask': torch.ones(1, len(inputs.input_ids), dtype=torch.long,
                                         device=self.device),
            'mm_token_type_ids': torch.as_tensor(inputs.token_types, device=self.device)[None],
            'pixel_values_videos': torch.as_tensor(inputs.pixel_values_videos).to(
                self.device, self.model.dtype),
            'video_grid_thw': torch.as_tensor(inputs.video_grid_thw, device=self.device),
            'second_per_grid_ts': torch.as_tensor(inputs.seconds_per_grid, device=self.device),
        }

    def _plan_official(self, observation: Observation, deadline: Optional[float]) -> Plan:
        torch = self._torch
        started = time.perf_counter()
        observation, inputs = self.prepare(observation)
        latencies = {'preprocess': 1000 * (time.perf_counter() - started)}
        self._check(deadline)
        sampling = self.template.official_sampling
        max_new = self.settings.official_max_new_tokens or max(
            1, int(sampling['max_length']) - len(inputs.input_ids))
        torch.manual_seed(self.settings.seed)
        tick = time.perf_counter()
        output = self.model.generate(
            **self.official_inputs(inputs), do_sample=True,
            temperature=float(sampling['temperature']), top_k=int(sampling['top_k']),
            top_p=float(sampling['top_p']), max_new_tokens=max_new, output_logits=True,
            return_dict_in_generate=True)
        latencies['generate'] = 1000 * (time.perf_counter() - tick)
        self._check(deadline)
        generated = output.sequences[0, len(inputs.input_ids):].tolist()
        first, count = self.descriptor.first_action_id, self.codebook.size
        positions = [i for i, token in enumerate(generated) if first <= token < first + count]
        positions = positions[:self.descriptor.horizon]
        indices = [generated[i] - first for i in positions]
        indices += [-1] * (self.descriptor.horizon - len(indices))  # missing -> still token
        indices = self.codebook.sanitize(indices)
        if positions:
            log_softmax = torch.log_softmax(torch.stack(
                [output.logits[i][0, first:first + count] for i in positions]).float(), dim=-1)
            log_probs, entropies = step_uncertainty(
                log_softmax, torch.as_tensor([generated[i] - first for i in positions]),
                self._same_motion)
            uncertainty = Uncertainty(float(log_probs.mean()), float(log_probs.min()),
                                      float(entropies.mean()))
        else:
            uncertainty = Uncertainty(-math.inf, -math.inf, math.log(count))
        text = self.tokenizer.decode(generated)
        mode = SLOW if self.template.slow_marker in text.lower() else FAST
        reasoning = ''
        if mode == SLOW:
            reasoning = text.split(self.template.think_start, 1)[-1].split(THINK_CLOSE, 1)[0]
        poses = self.codebook.decode(indices)
        latencies['total'] = 1000 * (time.perf_counter() - started)
        return self._finish(indices, poses, mode, f'official decoding: model wrote {mode} '
                            'thinking', reasoning.strip(), uncertainty, len(generated), text,
                            observation.speed, latencies)
