"""Batched decoding: batched plans equal sequential ones; confidence samples in one decode."""

from dataclasses import replace
import threading

from autovla_planner.batching import plan_batch, PlanServer
from autovla_planner.observation import CameraVideo, Observation
from autovla_planner.runtime import DecodingSettings, InvalidObservationError, PlannerRuntime
import numpy as np
import pytest

CAMERAS = ('CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT')


@pytest.fixture(scope='module')
def runtime():
    """The bundled behaviour-cloned model: its action choices depend on the images and in auto
    mode it answers fast, the decisions the batch path covers (slow ones run alone)."""
    return PlannerRuntime('bundled:sim_bc', 'cpu')


def observations(count: int):
    """Different images, speeds (prompt lengths differ) and commands."""
    rng = np.random.default_rng(5)
    commands = ('KEEP_FORWARD', 'TURN_LEFT', 'TURN_RIGHT', 'UNKNOWN')
    return [Observation(tuple(CameraVideo(name, rng.integers(0, 255, (4, 56, 112, 3),
                                                             np.uint8)) for name in CAMERAS),
                        speed, 0.3, commands[i % 4])
            for i, speed in enumerate((0.0, 12.625, 3.5, 27.25, 8.0)[:count])]


def configure(runtime, **changes):
    runtime.settings = replace(DecodingSettings(), **changes)
    runtime.policy.forced_mode = runtime.settings.reasoning_mode
    return runtime


@pytest.mark.parametrize('mode', ['fast', 'auto'])
def test_batched_plans_equal_sequential_plans(runtime, mode):
    configure(runtime, reasoning_mode=mode)
    inputs = observations(4)
    lengths = {len(runtime.prepare(o)[1].input_ids) for o in inputs}
    assert len(lengths) > 1                     # rows really are padded
    sequential = [runtime.plan(o) for o in inputs]
    batched = plan_batch(runtime, inputs)
    for alone, together in zip(sequential, batched):
        assert together.batch_size == 4 and alone.batch_size == 1
        np.testing.assert_array_equal(together.action_indices, alone.action_indices)
        assert together.mode == alone.mode and together.mode_reason == alone.mode_reason
        assert together.uncertainty.mean_log_prob == pytest.approx(
            alone.uncertainty.mean_log_prob, abs=1e-3)
        assert together.confidence == pytest.approx(alone.confidence, abs=1e-3)
    # The runtime's cache is back to one row: a sequential plan afterwards is unchanged.
    np.testing.assert_array_equal(runtime.plan(inputs[0]).action_indices,
                                  sequential[0].action_indices)


def test_confidence_samples_run_as_one_batched_decode(runtime, monkeypatch):
    configure(runtime, reasoning_mode='fast')
    observation = observations(1)[0]
    plain = runtime.plan(observation)
    configure(runtime, reasoning_mode='fast', confidence_samples=8, seed=3, top_k=0,
              top_p=1.0, temperature=1.5)
    calls = []
    forward = runtime._forward
    monkeypatch.setattr(runtime, '_forward', lambda ids, *args, **kwargs: (
        calls.append(np.shape(ids)), forward(ids, *args, **kwargs))[1])
    sampled = runtime.plan(observation)
    monkeypatch.undo()
    sample_calls = [shape for shape in calls if shape[:1] == (8,)]
    assert len(sample_calls) == runtime.descriptor.horizon - 1     # not 8 x 9 forwards
    assert sampled.uncertainty.num_samples == 8
    assert np.isfinite(sampled.uncertainty.sample_spread_m)
    assert sampled.uncertainty.sample_spread_m > 0.0    # sampled plans differ from greedy
    np.testing.assert_array_equal(sampled.action_indices, plain.action_indices)
    configure(runtime, reasoning_mode='fast')
    np.testing.assert_array_equal(runtime.plan(observation).action_indices,
                                  plain.action_indices)


def test_plan_server_batches_queued_streams_and_reports_errors_per_request(runtime):
    configure(runtime, reasoning_mode='fast')
    inputs = observations(4)
    expected = [runtime.plan(o).action_indices for o in inputs]
    broken = Observation(inputs[0].cameras[:1], 5.0, 0.0, 'KEEP_FORWARD')  # cameras missing
    server = PlanServer(runtime, max_batch_size=3, max_batch_wait_ms=60000.0)
    try:
        futures = [server.submit(o) for o in inputs[:2] + [broken] + inputs[2:]]
        results = [f.result(timeout=300) for i, f in enumerate(futures) if i != 2]
        with pytest.raises(InvalidObservationError):
            futures[2].result(timeout=300)
    finally:
        server.close()
    # 5 requests, batches of at most 3: the first closes full, the second when the queue ends
    # ... or after the wait, which is long: it closes full or at close time.
    assert server.batch_sizes[0] == 3
    assert sum(server.batch_sizes) == 5
    for plan, indices in zip(results, expected):
        np.testing.assert_array_equal(plan.action_indices, indices)


def test_plan_server_waits_at_most_max_batch_wait_for_a_second_request(runtime):
    configure(runtime, reasoning_mode='fast')
    server = PlanServer(runtime, max_batch_size=4, max_batch_wait_ms=0.0)
    try:
        done = threading.Event()
        future = server.submit(observations(1)[0])
        future.add_done_callback(lambda _: done.set())
        assert done.wait(timeout=300)           # a lone request is not held for more
        assert server.batch_sizes == [1]
        assert future.result().action_indices.shape == (10,)
    finally:
        server.close()
    with pytest.raises(RuntimeError, match='closed'):
        server.submit(observations(1)[0])
    with pytest.raises(ValueError, match='max_batch_size'):
        PlanServer(runtime, max_batch_size=0, max_batch_wait_ms=5.0)
