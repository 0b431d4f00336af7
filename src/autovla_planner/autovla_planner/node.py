"""planner_node: DrivingObservation in; PlannedTrajectory, Path, explanation, markers out.

ROS I/O only: the model runtime (runtime.py) does the work in a worker thread, so callbacks
never block; at most one inference runs and the newest observation wins.
"""

from dataclasses import replace
import threading
import time

from autovla_common.params import ParamSpec
from autovla_common.qos import RELIABLE_QOS
from autovla_common.ros_params import declare_parameters
from autovla_common.runner import run_node, StartupError
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import Path
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.time import Time
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from autovla_msgs.msg import DrivingObservation, PlannedTrajectory
from autovla_planner.batching import PlanServer
from autovla_planner.history_spacing import spacing_note
from autovla_planner.model_files import ModelLoadError
from autovla_planner.quantization import QUANTIZATION_MODES
from autovla_planner.ros_interface import (
    FRAME_ID,
    markers_msg,
    observation_from_msg,
    path_msg,
    trajectory_msg,
)
from autovla_planner.runtime import (
    DecodingSettings,
    InferenceTimeoutError,
    InvalidObservationError,
    PlannerRuntime,
)

PARAMS = (
    ParamSpec('model_path', 'string', 'Model directory (HF layout + autovla_runtime.yaml); '
              'empty = bundled autovla-tiny-sim-sft; bundled:sim_bc / sim_rft / sim_kd = the '
              'other bundled models (all trained on synthetic scenarios only, not for real '
              'roads).'),
    ParamSpec('device', 'string', 'Where to run the model.', choices=('auto', 'cuda', 'cpu')),
    ParamSpec('dtype', 'string', 'Weights dtype; auto = bfloat16 on CUDA, float32 on CPU.',
              choices=('auto', 'float32', 'bfloat16', 'float16')),
    ParamSpec('quantization', 'string', 'int8 = INT8 weights for the language model (CPU: '
              'int8 linear layers with per-token int8 activations and an int8 embedding/head '
              'table, needs dtype float32 or auto; CUDA: torchao int8 weight-only, untested); '
              'none = as loaded.', choices=QUANTIZATION_MODES),
    ParamSpec('cpu_threads', 'int', 'torch intra-op threads when the model runs on the CPU; '
              '0 = torch default (one per core). 1 leaves the other cores to perception and '
              'safety; threads that wait for a core another process holds spin, and made '
              'fast plans 2x to 60x slower here (bench_cpu_contention).',
              min=0, max=256),
    ParamSpec('max_observation_age_s', 'double', 'Observations older than this (now minus '
              'header stamp) are dropped, on arrival and again before inference (s).',
              min=0.05, max=60.0),
    ParamSpec('inference_timeout_s', 'double', 'A plan not finished after this long is '
              'abandoned and the cycle skipped (s).', min=0.1, max=600.0),
    ParamSpec('reasoning_mode', 'string', 'auto = the model picks fast/slow thinking (within '
              'the latency budget); fast/slow force it.', choices=('auto', 'fast', 'slow')),
    ParamSpec('latency_budget_s', 'double', 'Slow thinking is allowed only if its estimated '
              'time fits this budget; 0 = no limit (s).', min=0.0, max=600.0),
    ParamSpec('slow_threshold', 'double', 'auto: slow thinking when the slow first '
              "sentence has more than this share of the two sentences' probability; 0.5 = "
              'the likelier one, lower = think more often.', min=0.0, max=0.99),
    ParamSpec('max_reasoning_tokens', 'int', 'Upper bound on generated reasoning tokens.',
              min=1, max=4096),
    ParamSpec('expected_reasoning_tokens', 'double', 'Prior reasoning length used by the '
              'latency budget until measured (tokens).', min=1.0, max=4096.0),
    ParamSpec('decoding', 'string', 'constrained = prefill template + action-only decoding; '
              'official = unconstrained generate with the official sampling settings.',
              choices=('constrained', 'official')),
    ParamSpec('sampling', 'bool', 'Constrained decoding: false = greedy, true = sample with '
              'temperature/top_k/top_p.'),
    ParamSpec('temperature', 'double', 'Sampling temperature (constrained sampling and '
              'confidence samples).', min=0.01, max=5.0),
    ParamSpec('top_k', 'int', 'Sampling top-k; 0 = off.', min=0, max=2048),
    ParamSpec('top_p', 'double', 'Sampling nucleus probability.', min=0.01, max=1.0),
    ParamSpec('seed', 'int', 'Seed of every sampling step (reset per plan: replays repeat).',
              min=0, max=2147483647),
    ParamSpec('confidence_samples', 'int', 'Extra sampled plans for the confidence spread; '
              '0 = off.', min=0, max=32),
    ParamSpec('official_max_new_tokens', 'int', 'Official decoding: cap on generated tokens; '
              '0 = up to the official max_length 2048.', min=0, max=4096),
    ParamSpec('max_batch_size', 'int', 'Plan requests decoded together in one batch '
              '(batching.py); this node sends one stream, so >1 only pays off when several '
              'streams share the server.', min=1, max=64),
    ParamSpec('max_batch_wait_ms', 'double', 'How long a batch waits after its first request '
              'for more before it runs (ms); 0 = run at once.', min=0.0, max=1000.0),
)


class PlannerNode(Node):
    """Runs the planner runtime on the newest observation and publishes its plans."""

    def __init__(self):
        super().__init__('planner_node')
        self.params = params = declare_parameters(self, PARAMS, 'autovla_planner',
                                                  'planner.yaml')
        self.get_logger().info(f'configuration: {params}')
        settings = DecodingSettings(**{name: params[name] for name in (
            'decoding', 'reasoning_mode', 'latency_budget_s', 'max_reasoning_tokens',
            'expected_reasoning_tokens', 'slow_threshold', 'sampling', 'temperature', 'top_k',
            'top_p', 'seed', 'confidence_samples', 'official_max_new_tokens')})
        try:
            self.runtime = PlannerRuntime(params['model_path'], params['device'],
                                          params['dtype'], settings, params['quantization'],
                                          params['cpu_threads'])
        except ModelLoadError as error:
            raise StartupError(str(error)) from None
        self.server = PlanServer(self.runtime, params['max_batch_size'],
                                 params['max_batch_wait_ms'])
        self.trajectory_pub = self.create_publisher(PlannedTrajectory, 'planned_trajectory',
                                                    RELIABLE_QOS)
        self.path_pub = self.create_publisher(Path, 'planned_path', RELIABLE_QOS)
        self.explanation_pub = self.create_publisher(String, 'explanation', RELIABLE_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, 'planner_markers', RELIABLE_QOS)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics',
                                                     RELIABLE_QOS)
        self.counters = dict.fromkeys(('plans', 'fast', 'slow', 'errors', 'timeouts',
                                       'dropped_stale', 'dropped_superseded',
                                       'rejected_invalid'), 0)
        self.last = {'latency_ms': float('nan'), 'confidence': float('nan'), 'error': ''}
        self._pending = None
        self._inferring = False
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._running = True
        self._worker = threading.Thread(target=self._work, name='planner_inference',
                                        daemon=True)
        self._worker.start()
        self.create_subscription(DrivingObservation, 'observation', self._on_observation,
                                 RELIABLE_QOS)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f'model {self.runtime.model_id} loaded from '
                               f'{self.runtime.model_dir} on {self.runtime.device}')

    def _age_s(self, msg) -> float:
        return (self.get_clock().now() - Time.from_msg(msg.header.stamp)).nanoseconds * 1e-9

    def _too_old(self, msg) -> bool:
        age = self._age_s(msg)
        if age <= self.params['max_observation_age_s']:
            return False
        self._count('dropped_stale')
        self.get_logger().warning(
            f'dropped an observation {age:.2f} s old (max_observation_age_s '
            f'{self.params["max_observation_age_s"]:.2f})', throttle_duration_sec=5.0)
        return True

    def _on_observation(self, msg: DrivingObservation) -> None:
        if self._too_old(msg):
            return
        with self._lock:
            if self._pending is not None:
                self.counters['dropped_superseded'] += 1
            self._pending = msg
        self._wake.set()

    def _count(self, name: str) -> None:
        with self._lock:
            self.counters[name] += 1

    def _work(self) -> None:
        while self._running:
            if not self._wake.wait(timeout=0.2):
                continue
            with self._lock:
                msg, self._pending = self._pending, None
                self._wake.clear()
                running = self._running
            if running and msg is not None and not self._too_old(msg):
                self._set_inferring(True)
                try:
                    self._plan(msg)
                finally:
                    self._set_inferring(False)

    def _set_inferring(self, inferring: bool) -> None:
        with self._lock:
            self._inferring = inferring

    def _plan(self, msg: DrivingObservation) -> None:
        deadline = time.monotonic() + self.params['inference_timeout_s']
        try:
            observation = observation_from_msg(msg)
            plan = self.server.plan(observation, deadline)
        except InvalidObservationError as error:
            self._count('rejected_invalid')
            self._fail(f'rejected an observation: {error}; skipped the cycle')
            return
        except InferenceTimeoutError:
            self._count('timeouts')
            self._fail(f'inference exceeded inference_timeout_s '
                       f'{self.params["inference_timeout_s"]:.2f}; skipped the cycle')
            return
        except Exception as error:  # noqa: BLE001 - keep the node alive, report the cycle
            self._count('errors')
            self._fail(f'inference failed ({type(error).__name__}: {error}); skipped the cycle')
            return
        note = spacing_note(msg.history_rate_hz)
        if note:
            plan = replace(plan, explanation=f'{plan.explanation} {note}')
        header = msg.header
        header.frame_id = FRAME_ID
        messages = ((self.trajectory_pub, trajectory_msg(plan, header, observation.speed,
                                                         self.runtime.model_id)),
                    (self.path_pub, path_msg(plan, header)),
                    (self.explanation_pub, String(data=plan.explanation)),
                    (self.marker_pub, markers_msg(plan, header)))
        with self._lock:
            # A signal shuts the context down from the main thread at any moment: a plan
            # finished after that has nobody to go to.
            if not self._running or not self.context.ok():
                return
            try:
                for publisher, message in messages:
                    publisher.publish(message)
            except _rclpy.RCLError:
                if self.context.ok():
                    raise
                return
            self.counters['plans'] += 1
            self.counters[plan.mode] += 1
            self.last['latency_ms'] = plan.latencies_ms.get('total', float('nan'))
            self.last['confidence'] = plan.confidence

    def _fail(self, message: str) -> None:
        with self._lock:
            self.last['error'] = message
        self.get_logger().warning(message, throttle_duration_sec=5.0)

    def _publish_diagnostics(self) -> None:
        with self._lock:
            counters, last, inferring = dict(self.counters), dict(self.last), self._inferring
        failures = counters['errors'] + counters['timeouts'] + counters['rejected_invalid']
        status = DiagnosticStatus(
            level=DiagnosticStatus.WARN if failures else DiagnosticStatus.OK,
            name=f'{self.get_name()}: inference', hardware_id=self.runtime.model_id,
            message=last['error'] or 'ok')
        plans = counters['plans']
        values = {**counters, 'slow_ratio': counters['slow'] / plans if plans else 0.0,
                  'last_latency_ms': last['latency_ms'], 'last_confidence': last['confidence'],
                  'model_id': self.runtime.model_id, 'inference_running': inferring}
        status.values = [KeyValue(key=key, value=str(value)) for key, value in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)

    def destroy_node(self):
        """Stop the worker thread (after its current plan, which it drops), then the node."""
        if hasattr(self, '_worker'):
            with self._lock:
                self._running = False
            self._wake.set()
            # A worker left inside torch at interpreter exit aborts the process.
            self._worker.join(timeout=self.params['inference_timeout_s'] + 1.0)
            if self._worker.is_alive():
                self.get_logger().error('inference still running at shutdown')
        if hasattr(self, 'server'):
            self.server.close()
        return super().destroy_node()


def main(args=None):
    """Entry point of ``ros2 run autovla_planner planner_node``."""
    raise SystemExit(run_node(PlannerNode, args))
