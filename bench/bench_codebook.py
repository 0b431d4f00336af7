"""Codebook building speed: pruned K-disk clustering vs the dense method, same data, same run.

Data: 300 000 segments of 0.5 s from synthetic drives (the upper end of the size the builder
must handle). Value: wall time of ``k_disk_cluster`` (each token compared only with the
segments whose mean corner x is within tolerance). Baseline: the dense method, each token
compared with every segment. Both must choose identical tokens. Measured at K = 128 so the
dense baseline stays under a minute; the pruned method's time for the full 2048 tokens is
recorded too.
"""

import time

from autovla_common.bench import write_result
import autovla_planner.codebook_builder as builder
import numpy as np

SEGMENTS = 300_000
TOKENS = 128
TOLERANCE = 0.05


def dense_k_disk(segments: np.ndarray, size: int, tolerance: float, seed: int) -> np.ndarray:
    """Greedy K-disk comparing each new token with all segments (no pruning)."""
    covered = np.zeros(len(segments), dtype=bool)
    tokens = [builder.still_segment()]
    covered |= builder.mean_corner_distance(segments, tokens[0]) <= tolerance
    for index in np.random.default_rng(seed).permutation(len(segments)):
        if len(tokens) >= size:
            break
        if not covered[index]:
            tokens.append(segments[index])
            covered |= builder.mean_corner_distance(segments, segments[index]) <= tolerance
    return np.stack(tokens)


def timed(function, *args):
    """Return (result, seconds) of one call."""
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def main():
    """Measure both methods on the same segments and record the ratio."""
    drives = builder.synthetic_trajectories(SEGMENTS // 16, seed=0)
    segments = np.concatenate([builder.extract_segments(t) for t in drives])
    pruned, pruned_s = timed(builder.k_disk_cluster, segments, TOKENS, TOLERANCE, 0)
    dense, dense_s = timed(dense_k_disk, segments, TOKENS, TOLERANCE, 0)
    if not np.array_equal(pruned.tokens, dense):
        raise SystemExit('pruned and dense clustering chose different tokens')
    full, full_s = timed(builder.k_disk_cluster, segments, 2048, TOLERANCE, 0)
    write_result(
        'codebook_kdisk', 's', pruned_s, dense_s,
        f'{len(segments)} segments, {TOKENS} tokens: pruned {pruned_s:.2f} s vs dense '
        f'{dense_s:.2f} s ({dense_s / pruned_s:.0f}x); 2048 tokens pruned {full_s:.2f} s, '
        f'coverage {100 * full.coverage:.1f} %',
        segments=len(segments), tokens=TOKENS, full_tokens_seconds=full_s,
        full_coverage=full.coverage)


if __name__ == '__main__':
    main()
