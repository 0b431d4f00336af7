"""planner_node end to end: installed executable, tiny model, real DDS."""

import signal

from autovla_common.qos import RELIABLE_QOS
from autovla_common.testing import NodeProcess, RosProbe, wait_until
from autovla_planner.explanation import MARKER_CHARS, marker_text
from autovla_planner.model_files import random_model_dir
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Path
import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import String
from visualization_msgs.msg import MarkerArray

from autovla_msgs.msg import CameraHistory, DrivingCommand, DrivingObservation, PlannedTrajectory

CAMERAS = ('CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT')


def image(seed):
    pixels = np.random.default_rng(seed).integers(0, 255, (56, 84, 3), dtype=np.uint8)
    return Image(height=56, width=84, encoding='rgb8', step=84 * 3, data=pixels.tobytes())


def observation(stamp, cameras=CAMERAS):
    msg = DrivingObservation(history_rate_hz=2.0)
    msg.header.stamp = stamp
    msg.header.frame_id = 'base_link'
    msg.cameras = [CameraHistory(name=name, frames=[image(i * 10 + k) for k in range(4)])
                   for i, name in enumerate(cameras)]
    msg.ego.speed = 4.0
    msg.command.command = DrivingCommand.KEEP_FORWARD
    return msg


def diagnostic_values(arrays):
    values = {}
    for array in arrays:
        for status in array.status:
            if status.name.startswith('planner_node'):
                values = {kv.key: kv.value for kv in status.values}
    return values


def test_observation_in_plan_out_with_stale_and_invalid_inputs_counted():
    with NodeProcess.ros_node('autovla_planner', 'planner_node',
                              params={'reasoning_mode': 'fast'}) as node, RosProbe() as probe:
        plans = probe.collect(PlannedTrajectory, 'planned_trajectory', RELIABLE_QOS)
        paths = probe.collect(Path, 'planned_path', RELIABLE_QOS)
        explanations = probe.collect(String, 'explanation', RELIABLE_QOS)
        markers = probe.collect(MarkerArray, 'planner_markers', RELIABLE_QOS)
        diagnostics = probe.collect(DiagnosticArray, '/diagnostics', RELIABLE_QOS)
        publisher = probe.publisher(DrivingObservation, 'observation', RELIABLE_QOS)
        assert probe.wait_for_subscribers(publisher, timeout=90), node.output()
        now = probe.now()
        publisher.publish(observation(Time(sec=now.sec - 30, nanosec=now.nanosec)))  # stale
        publisher.publish(observation(probe.now(), cameras=CAMERAS[:2]))  # camera missing
        assert wait_until(lambda: diagnostic_values(diagnostics).get('rejected_invalid') == '1',
                          timeout=30), node.output()
        stamp = probe.now()
        publisher.publish(observation(stamp))
        assert wait_until(lambda: plans and paths and explanations and markers,
                          timeout=60), node.output()
        plan = plans[0]
        assert (plan.header.stamp.sec, plan.header.stamp.nanosec) == (stamp.sec, stamp.nanosec)
        assert plan.header.frame_id == 'base_link'
        assert len(plan.points) == 10 and len(plan.action_token_ids) == 10
        assert [p.time_from_start.sec + p.time_from_start.nanosec * 1e-9
                for p in plan.points] == [0.5 * i for i in range(1, 11)]
        assert plan.reasoning_mode == PlannedTrajectory.MODE_FAST
        assert 'forced by parameter' in plan.mode_reason
        assert plan.explanation.startswith('Fast thinking:')
        assert explanations[0].data == plan.explanation
        assert 0.0 <= plan.confidence <= 1.0
        assert plan.model_id == 'autovla-tiny-sim-sft'
        assert len(paths[0].poses) == 10
        assert paths[0].poses[-1].pose.position.x == plan.points[-1].x
        assert {m.ns for m in markers[0].markers} == {'planned_trajectory', 'explanation'}
        assert wait_until(lambda: diagnostic_values(diagnostics).get('plans') == '1',
                          timeout=10), node.output()
        values = diagnostic_values(diagnostics)
        assert values['dropped_stale'] == '1' and values['fast'] == '1', values
        assert node.process.poll() is None, node.output()


def test_missing_model_fails_at_start_with_one_clear_message(tmp_path):
    (tmp_path / 'config.json').write_text('{not json')
    with NodeProcess.ros_node('autovla_planner', 'planner_node',
                              params={'model_path': str(tmp_path)}) as node:
        node.process.wait(timeout=90)
        assert node.process.returncode == 1, node.output()
        assert 'cannot start' in node.output(), node.output()
        assert 'autovla_runtime.yaml' in node.output(), node.output()


def test_planner_stopped_during_an_inference_does_not_publish_into_a_dead_context():
    # Slow thinking with the random model never closes its reasoning: up to 1500 tokens, many
    # seconds, cut by inference_timeout_s. Shutdown waits for that plan and must drop it.
    with NodeProcess.ros_node('autovla_planner', 'planner_node', params={
            'model_path': str(random_model_dir()), 'reasoning_mode': 'slow',
            'latency_budget_s': 0.0, 'max_reasoning_tokens': 1500, 'inference_timeout_s': 15.0,
            'max_observation_age_s': 60.0},
            ros_args=['-r', '__ns:=/shutdown_test']) as node, RosProbe() as probe:
        diagnostics = probe.collect(DiagnosticArray, '/diagnostics', RELIABLE_QOS)
        publisher = probe.publisher(DrivingObservation,
                                    '/shutdown_test/observation', RELIABLE_QOS)
        assert probe.wait_for_subscribers(publisher, timeout=120), node.output()
        publisher.publish(observation(probe.now()))

        def busy():
            return any(kv.key == 'inference_running' and kv.value == 'True'
                       for array in list(diagnostics) for status in array.status
                       for kv in status.values)

        assert wait_until(busy, timeout=60), node.output()
        node.process.send_signal(signal.SIGINT)
        node.process.wait(timeout=60)
        assert node.process.returncode == 0, node.output()
        assert 'Traceback' not in node.output(), node.output()


def test_forced_slow_plan_explains_with_its_generated_reasoning():
    # The random tiny model forced to think slowly: its generated text (gibberish, but the
    # model's own) is the whole explanation on the topic and the plan; RViz gets it shortened.
    with NodeProcess.ros_node('autovla_planner', 'planner_node', params={
            'model_path': str(random_model_dir()), 'reasoning_mode': 'slow',
            'latency_budget_s': 0.0, 'max_reasoning_tokens': 120, 'inference_timeout_s': 60.0,
            'max_observation_age_s': 60.0},
            ros_args=['-r', '__ns:=/slow_explanation']) as node, RosProbe() as probe:
        plans = probe.collect(PlannedTrajectory, '/slow_explanation/planned_trajectory',
                              RELIABLE_QOS)
        explanations = probe.collect(String, '/slow_explanation/explanation', RELIABLE_QOS)
        markers = probe.collect(MarkerArray, '/slow_explanation/planner_markers', RELIABLE_QOS)
        publisher = probe.publisher(DrivingObservation, '/slow_explanation/observation',
                                    RELIABLE_QOS)
        assert probe.wait_for_subscribers(publisher, timeout=120), node.output()
        publisher.publish(observation(probe.now()))
        assert wait_until(lambda: plans and explanations and markers, timeout=120), \
            node.output()
        plan = plans[0]
        assert plan.reasoning_mode == PlannedTrajectory.MODE_SLOW
        assert plan.explanation.startswith('Slow thinking: ')
        assert 'This is a complex scenario' not in plan.explanation
        assert len(plan.explanation) > MARKER_CHARS      # 120 generated tokens, all of them
        assert explanations[0].data == plan.explanation
        text = next(m.text for m in markers[0].markers if m.ns == 'explanation')
        assert text == marker_text('slow', plan.explanation)
        assert text.startswith('[slow] ') and len(text) < len(plan.explanation)
