"""record_outputs on the running stack, read back with the ``mcap`` reader (what Foxglove uses).

The stack (three node processes, started by autovla_bringup) runs on a replayed scenario; the
installed record_outputs records with its defaults; the bag must hold every output a 3D panel
needs under absolute names, decodable: plans and paths, markers, the safety node's selected
path, /diagnostics, and TF (odom -> base_link and the latched camera frames).
"""

import itertools
import signal
import time

from autovla_bringup.stack import REPLAY
from autovla_common.qos import RELIABLE_QOS
from autovla_common.testing import executable, NodeProcess, RosProbe, wait_until
from autovla_scenarios.generator import generate_set, GenerationConfig
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from nav_msgs.msg import Path
import pytest
from rosbags.rosbag2 import Reader

NAMESPACE = '/record_test'
EXPECTED = {
    f'{NAMESPACE}/planned_trajectory': 'autovla_msgs/msg/PlannedTrajectory',
    f'{NAMESPACE}/planned_path': 'nav_msgs/msg/Path',
    f'{NAMESPACE}/planner_markers': 'visualization_msgs/msg/MarkerArray',
    f'{NAMESPACE}/explanation': 'std_msgs/msg/String',
    f'{NAMESPACE}/selected_path': 'nav_msgs/msg/Path',
    f'{NAMESPACE}/safety_status': 'autovla_msgs/msg/SafetyStatus',
    f'{NAMESPACE}/drive_command': 'autovla_msgs/msg/DriveCommand',
    '/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray',
    '/tf': 'tf2_msgs/msg/TFMessage',
    '/tf_static': 'tf2_msgs/msg/TFMessage',
}


def read_mcap(bag_dir):
    """{topic: (schema name, [decoded messages])} of the one MCAP file in ``bag_dir``."""
    [path] = list(bag_dir.glob('*.mcap'))
    topics = {}
    with open(path, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        for schema, channel, _, message in reader.iter_decoded_messages():
            topics.setdefault(channel.topic, (schema.name, []))[1].append(message)
    return topics


def test_record_outputs_records_what_a_3d_panel_needs(tmp_path):
    scenario = tmp_path / 'scenarios'
    generate_set(scenario, ['curve'], GenerationConfig(width=320, height=180, duration=60.0))
    bag = tmp_path / 'outputs'
    stack = NodeProcess([executable('autovla_bringup', 'autovla_bringup'), '--use-sim-time',
                         '--namespace', NAMESPACE, '--rig-file', str(scenario / 'rig.yaml'),
                         '--params-override', 'planner.reasoning_mode=fast',
                         # The rate replay does not wait for a loaded machine: plan on
                         # observations however late they arrive.
                         '--params-override', 'planner.max_observation_age_s=60.0'])
    recorder = NodeProcess([executable('autovla_replay', 'record_outputs'), '--out', str(bag),
                            '--namespace', NAMESPACE])
    with stack, recorder, RosProbe('record_probe') as probe:
        plans = probe.collect(Path, f'{NAMESPACE}/planned_path', RELIABLE_QOS)
        # The recorder listens (probe + recorder on explanation) before anything is replayed.
        assert wait_until(lambda: probe.node.count_subscribers(
            f'{NAMESPACE}/explanation') >= 1, timeout=60), recorder.output()
        # The replay replay.launch.py runs (bag TF left out: the stack publishes its own).
        replay_command = REPLAY.command(executable(REPLAY.package, REPLAY.executable),
                                        str(scenario / 'curve'), 'rate', 1.0, NAMESPACE)
        with NodeProcess(replay_command + ['--subscriber-timeout', '120']) as replay:
            assert wait_until(lambda: len(plans) >= 2, timeout=240), \
                stack.output() + replay.output()
            assert recorder.stop(timeout=120) == 0, recorder.output()
            recorder_log = recorder.output()
    topics = read_mcap(bag)
    missing = set(EXPECTED) - set(topics)
    assert not missing, f'{sorted(missing)} not recorded:\n{recorder_log}'
    for topic, type_name in EXPECTED.items():
        schema, messages = topics[topic]
        assert schema == type_name and messages, topic
    assert f'{NAMESPACE}/observation' not in topics
    frames = {(t.header.frame_id, t.child_frame_id)
              for message in topics['/tf'][1] for t in message.transforms}
    assert frames == {('odom', 'base_link')}
    static = {t.child_frame_id for t in topics['/tf_static'][1][0].transforms}
    assert 'CAM_FRONT_optical' in static and len(static) == 6
    markers = topics[f'{NAMESPACE}/planner_markers'][1][-1].markers
    assert {marker.ns for marker in markers} == {'planned_trajectory', 'explanation'}
    assert topics[f'{NAMESPACE}/selected_path'][1][-1].header.frame_id == 'odom'


@pytest.mark.parametrize('stop_signal, started_in_background', [
    (signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=['SIGINT', 'SIGTERM', 'SIGINT-background-job'])
def test_record_outputs_finishes_its_bag_on_sigint_and_sigterm(tmp_path, stop_signal,
                                                               started_in_background):
    # ros2 launch escalates SIGINT -> SIGTERM and `docker stop` sends SIGTERM: either must
    # leave a finished bag (metadata.yaml written, MCAP summary), not a truncated one. A
    # script's background job (`record_outputs ... &`) starts with SIGINT ignored.
    bag = tmp_path / 'outputs'
    command = [executable('autovla_replay', 'record_outputs'), '--out', str(bag),
               '--namespace', NAMESPACE]
    if started_in_background:
        command = ['bash', '-c', 'trap "" INT; exec "$@"', 'record_outputs'] + command
    with NodeProcess(command) as recorder:
        assert recorder.wait_for_output('recording', timeout=60), recorder.output()
        recorder.process.send_signal(stop_signal)
        assert recorder.process.wait(timeout=120) == 0, recorder.output()
    assert (bag / 'metadata.yaml').is_file()
    with Reader(bag) as reader:
        assert reader.message_count == 0


def test_record_outputs_finishes_its_bag_when_the_signals_keep_coming(tmp_path):
    # ros2 launch escalates SIGINT -> SIGTERM; a user presses Ctrl-C twice. A signal that
    # lands while the bag is being finished (or while "recording" is still being printed:
    # a CI run under load), or inside the previous signal's handler (a loaded run: the
    # handler's threading.Event.set raised from its own lock), must not cut it short.
    bag = tmp_path / 'outputs'
    command = [executable('autovla_replay', 'record_outputs'), '--out', str(bag),
               '--namespace', NAMESPACE]
    with NodeProcess(command) as recorder:
        assert recorder.wait_for_output('recording', timeout=60), recorder.output()
        signals = itertools.cycle((signal.SIGINT, signal.SIGTERM))
        # Until the recorder says the bag is finished (a signal during the interpreter's own
        # exit, after that, ends the process with the signal's status: nothing is lost).
        while recorder.process.poll() is None and 'recorded {' not in recorder.output():
            recorder.process.send_signal(next(signals))
            time.sleep(0.002)
        recorder.process.wait(timeout=60)
        assert 'recorded {' in recorder.output(), recorder.output()
    assert (bag / 'metadata.yaml').is_file()
    with Reader(bag) as reader:
        assert reader.message_count == 0
