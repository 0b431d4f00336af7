"""Params files the way ROS 2 users write them: namespaced nodes, a user file over the defaults.

The node tests start the installed safety_node (directly and through autovla_bringup) and
read its parameters back over its real parameter service.
"""

from pathlib import Path
import time

from autovla_common.testing import executable, NodeProcess, RosProbe, wait_until
import pytest
from rcl_interfaces.srv import GetParameters
import yaml

from autovla_bringup import specs, stack

NAMESPACE = '/autovla_params_test'
SAFETY = stack.node_by_key('safety')


def get_parameters(probe, node_name, names, timeout=60.0):
    """Values of ``names`` read from the running node ``node_name`` (None if unreachable)."""
    client = probe.node.create_client(GetParameters, f'{node_name}/get_parameters')
    if not client.wait_for_service(timeout_sec=timeout):
        return None
    # Asked again until answered: on a busy CPU the node's response can time out in the rmw
    # ("failed to send response (timeout)") and that request is then never answered.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        future = client.call_async(GetParameters.Request(names=list(names)))
        if wait_until(future.done, 5.0):
            return [value.double_value for value in future.result().values]
    return None


@pytest.fixture
def probe():
    with RosProbe('params_file_probe') as ros_probe:
        yield ros_probe


def test_a_namespaced_node_takes_an_edited_copy_of_the_shipped_file(tmp_path, probe):
    shipped = stack.InstallSpace().params_file(SAFETY)
    edited = tmp_path / 'edited.yaml'
    edited.write_text(shipped.read_text().replace('control_rate_hz: 50.0',
                                                  'control_rate_hz: 20.0'))
    assert edited.read_text() != shipped.read_text()
    command = [executable(SAFETY.package, SAFETY.executable), '--ros-args',
               '-r', f'__ns:={NAMESPACE}', '--params-file', str(edited)]
    with NodeProcess(command) as node:
        values = get_parameters(probe, f'{NAMESPACE}/safety_node', ['control_rate_hz'])
        assert values == [20.0], node.output()


def test_bringup_params_file_overlays_the_shipped_defaults(tmp_path, probe):
    user = tmp_path / 'car.yaml'
    user.write_text(yaml.safe_dump(
        {'/**/safety_node': {'ros__parameters': {'control_rate_hz': 20.0}}}))
    command = [executable(stack.BRINGUP_PACKAGE, 'autovla_bringup'), '--nodes', 'safety',
               '--namespace', NAMESPACE, '--params-file', str(user)]
    with NodeProcess(command) as bringup:
        values = get_parameters(probe, f'{NAMESPACE}/safety_node',
                                ['control_rate_hz', 'status_rate_hz'])
        # The user's value, and the shipped default for what the user file leaves out.
        assert values == [20.0, 10.0], bringup.output()
        assert f'--params-file {user}' in bringup.output()


def _launches(namespace='autovla', params_file=''):
    return stack.describe(stack.StackOptions(namespace=namespace, params_file=params_file))


def test_user_file_comes_after_the_defaults_and_before_overrides(tmp_path):
    user = tmp_path / 'car.yaml'
    options = stack.StackOptions(params_file=str(user), device='cpu', nodes=('planner',))
    [launch] = stack.describe(options)
    command = launch.command()
    files = [command[i + 1] for i, arg in enumerate(command) if arg == '--params-file']
    assert files == [str(launch.params_file), str(user)]
    assert command.index('-p') > command.index(str(user))


@pytest.mark.parametrize('key, full_name, matches', [
    ('/**/safety_node', '/autovla/safety_node', True),
    ('/**/safety_node', '/safety_node', True),
    ('/**', '/a/b/planner_node', True),
    ('/autovla/safety_node', '/autovla/safety_node', True),
    ('/*/safety_node', '/a/b/safety_node', False),
    ('safety_node', '/autovla/safety_node', False),
    ('safety_node', '/safety_node', True),
    ('/**/safety_node', '/autovla/planner_node', False),
])
def test_section_keys_match_like_rcl(key, full_name, matches):
    assert specs.section_matches(key, full_name) is matches


def test_user_file_problems_name_what_ros_would_silently_ignore(tmp_path):
    user = tmp_path / 'car.yaml'
    user.write_text(yaml.safe_dump({
        'safety_node': {'ros__parameters': {'control_rate_hz': 20.0}},
        '/**/planner_node': {'ros__parameters': {'devise': 'cuda'}},
        '/**': {'ros__parameters': {'use_sim_time': True}},
    }))
    problems = '\n'.join(specs.user_params_problems(_launches(params_file=str(user))))
    assert len(problems.splitlines()) == 2, problems
    assert "section 'safety_node' applies to none of the nodes" in problems
    assert 'key it /**/<node name>' in problems
    assert "section '/**/planner_node': devise declared by none of planner_node" in problems
    # The same file in the root namespace: the bare key reaches safety_node there.
    root_problems = specs.user_params_problems(_launches('/', str(user)))
    assert len(root_problems) == 1 and 'devise' in root_problems[0]


def test_bringup_refuses_a_user_file_it_cannot_use(tmp_path):
    missing = tmp_path / 'nope.yaml'
    problems = specs.user_params_problems(_launches(params_file=str(missing)))
    assert problems and 'cannot read it' in problems[0]
    empty = tmp_path / 'empty.yaml'
    empty.write_text('')
    assert 'expected sections' in specs.user_params_problems(
        _launches(params_file=str(empty)))[0]


def test_shipped_files_reach_namespaced_nodes():
    for node in stack.NODES:
        document = yaml.safe_load(Path(stack.InstallSpace().params_file(node)).read_text())
        assert list(document) == [f'/**/{node.name}']
