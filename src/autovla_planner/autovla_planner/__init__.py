"""Runs the AutoVLA model with adaptive reasoning; publishes plans, explanations."""

import os

# Read once, when torch loads its OpenMP runtime, so it is set before any torch import here:
# idle OpenMP threads sleep instead of spinning. With another busy process on this 2-core CPU,
# spinning made one fast-mode plan take ~2 s instead of ~40 ms (bench/bench_cpu_contention.py).
# A value the user set is kept.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
