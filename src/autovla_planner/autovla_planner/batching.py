"""Batched decoding (ROS-free): what can run together runs as one batch of rows.

- ``decode_actions``: the constrained action decoding (exactly ``horizon`` tokens, logits over
  the action rows of the head only) for R rows at once, each with its own rope position and
  an optional attention mask (rows padded to one length). A single plan is R = 1.
- ``sample_spread``: the confidence samples of a plan: the KV cache at the answer start is
  repeated K times and the K sampled plans are decoded as ONE batch of K rows, instead of K
  sequential decodes.
- ``plan_batch``: several observations (streams of several vehicles or replays sharing one
  model, or frames of an offline evaluation) in one prefill and one decode. The prompts share
  the cached observation-free prefix; their remainders differ in length, so each row is
  padded between prefix and remainder (masked out) and keeps its own mrope positions. Greedy
  batched plans equal sequential ones (test_batching.py). Rows whose model picks slow
  thinking, and requests the batch path does not cover (official decoding, forced slow), are
  planned one by one.
- ``PlanServer``: the request queue: a worker thread takes up to ``max_batch_size`` requests,
  waiting at most ``max_batch_wait_ms`` after the first for more, and plans them together.
"""

from concurrent.futures import Future
import dataclasses
import math
import threading
import time
from typing import List, Optional, Sequence

import numpy as np

PAD_ID = 151643   # Qwen's <|endoftext|> (pad token); padded positions are masked out


def sample_indices(logits, settings, generator):
    """Per row: argmax, or a seeded sample after temperature, top-k and top-p (in that order)."""
    import torch

    if not settings.sampling:
        return torch.argmax(logits, dim=-1)
    scores = logits.float() / max(settings.temperature, 1e-5)
    if 0 < settings.top_k < scores.shape[-1]:
        threshold = torch.topk(scores, settings.top_k, dim=-1).values[:, -1:]
        scores = scores.masked_fill(scores < threshold, -math.inf)
    if settings.top_p < 1.0:
        ordered, order = torch.sort(scores, dim=-1, descending=True)
        probabilities = torch.softmax(ordered, dim=-1)
        drop = probabilities.cumsum(dim=-1) - probabilities >= settings.top_p  # keep the first
        scores = scores.scatter(-1, order, ordered.masked_fill(drop, -math.inf))
    probabilities = torch.softmax(scores, dim=-1)
    return torch.multinomial(probabilities, 1, generator=generator)[:, 0]


def step_uncertainty(log_softmax, chosen, same_motion):
    """Per row: log-probability of the chosen motion (confidence.py) and the entropy.

    ``log_softmax`` (R, A) over action tokens, ``chosen`` (R,) token indices, ``same_motion``
    (A, A): which tokens count as the same motion.
    """
    import torch

    motion = torch.logsumexp(log_softmax.masked_fill(~same_motion[chosen], -math.inf), dim=-1)
    return motion, -(log_softmax.exp() * log_softmax).sum(dim=-1)


def decode_actions(runtime, hidden, next_positions, settings, generator,
                   deadline: Optional[float], attention_mask=None):
    """Decode ``horizon`` action tokens for every row of ``hidden`` (R, H).

    ``next_positions`` (R,): the mrope position of each row's next token. Returns indices
    (R, horizon) and the per-step motion log-probabilities and entropies, (R, horizon) each.
    """
    import torch

    horizon = runtime.descriptor.horizon
    first = runtime.descriptor.first_action_id
    rows = hidden.shape[0]
    positions = torch.as_tensor(next_positions, device=runtime.device).clone()
    indices, log_probs, entropies = [], [], []
    for step in range(horizon):
        runtime._check(deadline)
        logits = (hidden.to(runtime.action_head.dtype) @ runtime.action_head.T).float()
        chosen = sample_indices(logits, settings, generator)
        motion_log_prob, entropy = step_uncertainty(torch.log_softmax(logits, dim=-1), chosen,
                                                    runtime._same_motion)
        log_probs.append(motion_log_prob)
        entropies.append(entropy)
        indices.append(chosen)
        if step + 1 < horizon:
            if attention_mask is not None:
                attention_mask = torch.cat(
                    [attention_mask, attention_mask.new_ones(rows, 1)], dim=1)
            hidden = runtime._forward((first + chosen).view(rows, 1),
                                      positions.view(1, rows, 1).expand(3, rows, 1),
                                      attention_mask=attention_mask)
            positions += 1
    return (torch.stack(indices, 1).cpu().numpy().astype(np.int64),
            torch.stack(log_probs, 1).cpu().numpy(), torch.stack(entropies, 1).cpu().numpy())


def sample_spread(runtime, hidden, answer_start: int, next_positions, poses: Sequence,
                  deadline: Optional[float], attention_mask=None) -> List[float]:
    """Mean final-point distance of K sampled plans from each row's ``poses`` (one batch).

    The cache (R rows) is cropped to ``answer_start`` and repeated K times per row; it is left
    cropped to ``answer_start`` with its R rows. Empty when confidence samples are off.
    """
    import torch

    count = runtime.settings.confidence_samples
    if count <= 0:
        return []
    rows = hidden.shape[0]
    settings = dataclasses.replace(runtime.settings, sampling=True)
    generator = torch.Generator(device=runtime.device).manual_seed(runtime.settings.seed + 1)
    runtime._truncate(answer_start)
    cache = runtime._cache
    cache.batch_repeat_interleave(count)
    try:
        repeat = {'repeats': count, 'dim': 0}
        indices, _, _ = decode_actions(
            runtime, hidden.repeat_interleave(**repeat),
            torch.as_tensor(next_positions, device=runtime.device).repeat_interleave(**repeat),
            settings, generator, deadline,
            None if attention_mask is None else attention_mask.repeat_interleave(**repeat))
    finally:
        runtime._truncate(answer_start)
        cache.batch_select_indices(torch.arange(0, rows * count, count,
                                                device=runtime.device))
    finals = np.stack([runtime.codebook.decode(row)[-1, :2] for row in indices])
    distances = np.linalg.norm(finals.reshape(rows, count, 2)
                               - np.stack([p[-1, :2] for p in poses])[:, None], axis=2)
    return [float(d) for d in distances.mean(axis=1)]


def plan_batch(runtime, observations: Sequence, deadline: Optional[float] = None) -> list:
    """Plan several observations together; per request a Plan or the exception it raised."""
    forced = runtime.policy.forced()
    if runtime.settings.decoding != 'constrained' or (
            forced is not None and forced[0] != 'fast'):
        return [_plan_one(runtime, o, deadline) for o in observations]
    torch = runtime._torch
    with torch.inference_mode():
        try:
            results, slow = _plan_batch(runtime, observations, forced, deadline)
        finally:   # back to the one-row prefix cache of sequential plans
            if runtime._cache is not None:
                runtime._cache.batch_select_indices(torch.tensor([0], device=runtime.device))
                runtime._truncate(len(runtime._prefix_ids))
    for number in slow:
        results[number] = _plan_one(runtime, observations[number], deadline)
    return results


def _plan_one(runtime, observation, deadline):
    try:
        return runtime.plan(observation, deadline)
    except Exception as error:  # noqa: BLE001 - handed to the request that caused it
        return error


def _plan_batch(runtime, observations, forced, deadline):
    """(results, indices of the requests whose model chose slow thinking: still to plan)."""
    torch = runtime._torch
    started = time.perf_counter()
    results: list = [None] * len(observations)
    rows = []                           # (request index, observation, inputs)
    for number, observation in enumerate(observations):
        try:
            rows.append((number, *runtime.prepare(observation)))
        except ValueError as error:     # InvalidObservationError, as runtime.plan raises it
            results[number] = error
    if not rows:
        return results, []
    preprocess_ms = 1000 * (time.perf_counter() - started)
    runtime._check(deadline)
    tick = time.perf_counter()
    extra = runtime.fast_ids if forced is not None else runtime.shared_ids
    hidden, positions, mask = _prefill_rows(runtime, [inputs for _, _, inputs in rows], extra)
    modes, slow = [forced] * len(rows), []
    if forced is None:
        modes = [runtime._choose_mode(h, time.perf_counter() - started) for h in hidden]
        fast = [i for i, (mode, _) in enumerate(modes) if mode == 'fast']
        if len(fast) < len(rows):
            slow = [rows[i][0] for i in range(len(rows)) if i not in fast]
            if not fast:
                return results, slow
            keep = torch.as_tensor(fast, device=runtime.device)
            runtime._cache.batch_select_indices(keep)
            rows, modes = [rows[i] for i in fast], [modes[i] for i in fast]
            hidden, positions, mask = hidden[keep], positions[keep], mask[keep]
        rest = torch.as_tensor(runtime.fast_ids[len(runtime.shared_ids):],
                               device=runtime.device)
        steps = torch.arange(len(rest), device=runtime.device)
        mask = torch.cat([mask, mask.new_ones(len(rows), len(rest))], dim=1)
        hidden = runtime._forward(rest.expand(len(rows), -1),
                                  (positions[:, None] + steps).unsqueeze(0).expand(3, -1, -1),
                                  attention_mask=mask)
        positions = positions + len(rest)
    prefill_ms = 1000 * (time.perf_counter() - tick)
    answer_start = runtime._cache.get_seq_length()
    tick = time.perf_counter()
    generator = torch.Generator(device=runtime.device).manual_seed(runtime.settings.seed)
    indices, log_probs, entropies = decode_actions(runtime, hidden, positions,
                                                   runtime.settings, generator, deadline, mask)
    seconds = time.perf_counter() - tick
    runtime.policy.record(seconds / indices.size, None, None)
    poses = [runtime.codebook.decode(row) for row in indices]
    spreads = sample_spread(runtime, hidden, answer_start, positions, poses, deadline, mask)
    latencies = {'preprocess': preprocess_ms, 'prefill': prefill_ms, 'decode': 1000 * seconds,
                 'total': 1000 * (time.perf_counter() - started)}
    for i, ((number, observation, _), (mode, reason)) in enumerate(zip(rows, modes)):
        results[number] = runtime.action_plan(
            indices[i], poses[i], mode, reason, '', log_probs[i], entropies[i],
            spreads[i] if spreads else math.nan, indices.shape[1], observation.speed,
            dict(latencies))
        results[number].batch_size = len(rows)
    return results, slow


def _prefill_rows(runtime, prompts, extra_ids):
    """Prefill every prompt + ``extra_ids`` after the cached prefix, as padded rows.

    The runtime's cache becomes the batch cache (R rows). Returns each row's last hidden
    state (R, H), the position of its next token (R,) and the attention mask (R, length).
    """
    torch = runtime._torch
    runtime._ensure_prefix(prompts[0])
    prefix = len(runtime._prefix_ids)
    suffixes, suffix_positions, next_positions = [], [], []
    for inputs in prompts:
        if tuple(int(i) for i in inputs.input_ids[:prefix]) != runtime._prefix_ids:
            raise ValueError('batched prompts must share the cached prefix')
        positions, delta = runtime.rope_positions(inputs)
        length = len(inputs.input_ids)
        extra = (torch.arange(length, length + len(extra_ids), device=runtime.device)
                 + delta).view(1, 1, -1).expand(3, 1, -1)
        suffixes.append(list(inputs.input_ids[prefix:]) + list(extra_ids))
        suffix_positions.append(torch.cat([positions[:, :, prefix:], extra], dim=2))
        next_positions.append(length + len(extra_ids) + delta)
    width = max(len(s) for s in suffixes)
    rows = len(prompts)
    ids = torch.full((rows, width), PAD_ID, dtype=torch.long, device=runtime.device)
    positions = torch.zeros((3, rows, width), dtype=torch.long, device=runtime.device)
    mask = torch.ones((rows, prefix + width), dtype=torch.long, device=runtime.device)
    for row, (suffix, position) in enumerate(zip(suffixes, suffix_positions)):
        pad = width - len(suffix)
        ids[row, pad:] = torch.as_tensor(suffix, device=runtime.device)
        positions[:, row, pad:] = position[:, 0]
        mask[row, prefix:prefix + pad] = 0
    runtime._cache.batch_repeat_interleave(rows)
    vision = {
        'pixel_values_videos': torch.cat([torch.as_tensor(p.pixel_values_videos)
                                          for p in prompts]).to(runtime.device,
                                                                runtime.model.dtype),
        'video_grid_thw': torch.cat([torch.as_tensor(p.video_grid_thw)
                                     for p in prompts]).to(runtime.device)}
    hidden = runtime._forward(ids, positions, attention_mask=mask, **vision)
    return hidden, torch.as_tensor(next_positions, device=runtime.device), mask


class PlanServer:
    """One model serving several observation streams: a request queue planned in batches."""

    def __init__(self, runtime, max_batch_size: int, max_batch_wait_ms: float):
        if max_batch_size < 1 or max_batch_wait_ms < 0:
            raise ValueError(f'max_batch_size must be >= 1 and max_batch_wait_ms >= 0, got '
                             f'{max_batch_size} and {max_batch_wait_ms}')
        self.runtime = runtime
        self.max_batch_size = max_batch_size
        self.max_batch_wait_s = max_batch_wait_ms / 1000.0
        self.batch_sizes: List[int] = []
        self._queue: list = []
        self._condition = threading.Condition()
        self._running = True
        self._worker = threading.Thread(target=self._serve, name='plan_server', daemon=True)
        self._worker.start()

    def submit(self, observation, deadline: Optional[float] = None) -> Future:
        """Queue one observation; the future resolves to its Plan or raises its error."""
        future: Future = Future()
        with self._condition:
            if not self._running:
                raise RuntimeError('the plan server is closed')
            self._queue.append((observation, deadline, future))
            self._condition.notify()
        return future

    def plan(self, observation, deadline: Optional[float] = None):
        """Submit and wait: the drop-in for ``runtime.plan`` of one stream."""
        return self.submit(observation, deadline).result()

    def close(self) -> None:
        """Stop the worker after the batch in progress; pending requests fail."""
        with self._condition:
            self._running = False
            pending, self._queue = self._queue, []
            self._condition.notify()
        self._worker.join(timeout=30.0)
        for _, _, future in pending:
            future.set_exception(RuntimeError('the plan server was closed'))

    def _next_batch(self) -> list:
        with self._condition:
            while self._running and not self._queue:
                self._condition.wait()
            closes = time.monotonic() + self.max_batch_wait_s
            while self._running and len(self._queue) < self.max_batch_size:
                left = closes - time.monotonic()
                if left <= 0:
                    break
                self._condition.wait(left)
            batch = self._queue[:self.max_batch_size]
            del self._queue[:self.max_batch_size]
            return batch

    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            if not batch:
                return
            self.batch_sizes.append(len(batch))
            deadlines = [d for _, d, _ in batch if d is not None]
            try:
                results = plan_batch(self.runtime, [o for o, _, _ in batch],
                                     min(deadlines) if deadlines else None)
            except Exception as error:  # noqa: BLE001 - the whole batch failed
                results = [error] * len(batch)
            for (_, _, future), result in zip(batch, results):
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
