"""No node prints a traceback when it is stopped with SIGINT or SIGTERM while it works.

The nodes run on a replayed scenario (data flowing into perception, plans made, the safety
node commanding); then they get the signal: each node process at once, as ``ros2 launch`` and
systemd deliver it, or the ``autovla_bringup`` command that runs them (in its own processes or
in one). The planner stopped in the middle of an inference is tested in autovla_planner's node
tests.
"""

import signal

from autovla_common.qos import RELIABLE_QOS
from autovla_common.testing import executable, NodeProcess, RosProbe, wait_until
from autovla_scenarios.generator import generate_set, GenerationConfig
import pytest

from autovla_msgs.msg import DriveCommand, PlannedTrajectory

NAMESPACE = '/shutdown_test'
NODES = (('autovla_perception', 'perception_node'), ('autovla_planner', 'planner_node'),
         ('autovla_safety', 'safety_node'))
# A rate replay runs on, however far behind a loaded machine's nodes fall (CI: perception's
# first observation reached the planner 3.5 s old); the planner must plan all the same.
MAX_OBSERVATION_AGE_S = 60.0


@pytest.fixture(scope='module')
def scenario(tmp_path_factory):
    out = tmp_path_factory.mktemp('scenarios')
    generate_set(out, ['curve'], GenerationConfig(width=320, height=180, duration=90.0))
    return out


def stop_while_data_flows(scenario, commands, signum):
    """Run ``commands`` beside a replay until plans and drive commands flow, then signal them.

    Return {name: (exit code, output)}.
    """
    with RosProbe(f'shutdown_probe_{signum.name.lower()}') as probe:
        plans = probe.collect(PlannedTrajectory, f'{NAMESPACE}/planned_trajectory',
                              RELIABLE_QOS)
        drive = probe.collect(DriveCommand, f'{NAMESPACE}/drive_command', RELIABLE_QOS)
        processes = {name: NodeProcess(command) for name, command in commands.items()}
        replay = NodeProcess([executable('autovla_replay', 'replay_bag'),
                              str(scenario / 'curve'), '--mode', 'rate',
                              '--namespace', NAMESPACE, '--subscriber-timeout', '120'])
        results = {}
        try:
            assert wait_until(lambda: plans and drive, timeout=180), \
                '\n'.join(p.output() for p in processes.values()) + replay.output()
            assert replay.process.poll() is None, 'the replay ended before the signal'
            for process in processes.values():
                process.process.send_signal(signum)
            for name, process in processes.items():
                results[name] = (process.process.wait(timeout=60), process.output())
        finally:
            for process in list(processes.values()) + [replay]:
                process.__exit__(None, None, None)
    return results


def assert_clean(results):
    for name, (code, output) in results.items():
        assert code == 0, f'{name} exited {code}:\n{output}'
        assert 'Traceback' not in output, f'{name}:\n{output}'


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_every_node_process_stops_cleanly_while_data_flows(scenario, signum):
    # Simulated time: the replay's /clock makes the bag's stamps current for every node.
    params = {'perception_node': ['-p', f'rig_file:={scenario / "rig.yaml"}'],
              'planner_node': ['-p', 'reasoning_mode:=fast',
                               '-p', f'max_observation_age_s:={MAX_OBSERVATION_AGE_S}']}
    commands = {name: [executable(package, name), '--ros-args', '-r', f'__ns:={NAMESPACE}',
                       '-p', 'use_sim_time:=true'] + params.get(name, [])
                for package, name in NODES}
    assert_clean(stop_while_data_flows(scenario, commands, signum))


@pytest.mark.parametrize('mode', [[], ['--single-process']], ids=['processes', 'single'])
def test_bringup_stops_the_stack_cleanly_while_data_flows(scenario, mode):
    command = [executable('autovla_bringup', 'autovla_bringup'), '--use-sim-time',
               '--namespace', NAMESPACE, '--rig-file', str(scenario / 'rig.yaml'),
               '--params-override', 'planner.reasoning_mode=fast',
               '--params-override', f'planner.max_observation_age_s={MAX_OBSERVATION_AGE_S}'
               ] + mode
    assert_clean(stop_while_data_flows(scenario, {'autovla_bringup': command}, signal.SIGTERM))
