"""The launch files, checked without launch_ros (not installable here).

The launch API is replaced by a stand-in that only records the actions and their keyword
arguments: this is the one thing that truly cannot run on the dev machines. What runs for
real is the launch files' own code and autovla_bringup.stack.
"""

import ast
import importlib.util
from pathlib import Path
import sys
import types

import pytest

from autovla_bringup import respawn, stack

LAUNCH_DIR = Path(__file__).resolve().parents[3] / 'launch'


class Recorded:
    """An action of the stand-in launch API: keeps its arguments."""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs


class LaunchConfiguration(Recorded):
    def perform(self, context):
        return context[self.args[0]]


@pytest.fixture
def launch_api(monkeypatch):
    """Install a recording stand-in for launch / launch_ros into sys.modules."""
    names = {
        'launch': ['LaunchDescription'],
        'launch.actions': ['DeclareLaunchArgument', 'OpaqueFunction', 'ExecuteProcess',
                           'IncludeLaunchDescription', 'EmitEvent', 'LogInfo'],
        'launch.events': ['Shutdown'],
        'launch.launch_description_sources': ['PythonLaunchDescriptionSource'],
        'launch.substitutions': [],
        'launch_ros': [],
        'launch_ros.actions': ['Node'],
    }
    for module_name, classes in names.items():
        module = types.ModuleType(module_name)
        for class_name in classes:
            setattr(module, class_name, type(class_name, (Recorded,), {}))
        monkeypatch.setitem(sys.modules, module_name, module)
    sys.modules['launch.substitutions'].LaunchConfiguration = LaunchConfiguration


def load_launch_file(name):
    spec = importlib.util.spec_from_file_location(name.replace('.', '_'), LAUNCH_DIR / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def declared_arguments(description):
    return {action.args[0]: action.kwargs.get('default_value')
            for action in description.args[0]
            if type(action).__name__ == 'DeclareLaunchArgument'}


def opaque_function(description):
    [action] = [a for a in description.args[0] if type(a).__name__ == 'OpaqueFunction']
    return action.kwargs['function']


def test_autovla_launch_declares_every_stack_argument(launch_api):
    description = load_launch_file('autovla.launch.py').generate_launch_description()
    assert declared_arguments(description) == {
        'model_path': '', 'device': '', 'rig_file': '', 'topic_map': '',
        'use_sim_time': 'false', 'namespace': 'autovla', 'params_file': '', 'log_level': 'info'}


def test_autovla_launch_passes_the_user_params_file_after_the_defaults(launch_api, tmp_path):
    description = load_launch_file('autovla.launch.py').generate_launch_description()
    user = tmp_path / 'car.yaml'
    context = {**declared_arguments(description), 'params_file': str(user)}
    for node in opaque_function(description)(context):
        shipped, user_file, overrides = node.kwargs['parameters']
        assert Path(shipped).name.endswith('.yaml') and user_file == str(user)
        assert overrides == {'use_sim_time': False}


def test_autovla_launch_starts_the_same_processes_as_the_bringup_command(launch_api):
    description = load_launch_file('autovla.launch.py').generate_launch_description()
    context = {**{name: default for name, default in declared_arguments(description).items()},
               'device': 'cuda', 'use_sim_time': 'true', 'namespace': 'car'}
    nodes = opaque_function(description)(context)
    assert [node.kwargs['executable'] for node in nodes] == [
        'perception_node', 'planner_node', 'safety_node']
    planner = nodes[1].kwargs
    assert planner['package'] == 'autovla_planner'
    assert planner['name'] == 'planner_node' and planner['namespace'] == '/car'
    params_file, overrides = planner['parameters']
    assert Path(params_file).is_file() and Path(params_file).name == 'planner.yaml'
    assert overrides == {'device': 'cuda', 'use_sim_time': True}
    assert planner['arguments'] == ['--ros-args', '--log-level', 'info']
    # What `autovla_bringup --device cuda --use-sim-time --namespace car` would run.
    command = stack.describe(stack.StackOptions(device='cuda', use_sim_time=True,
                                                namespace='car'))[1].command()
    expected = [command[0].rsplit('/', 1)[-1], '-r', '__node:=planner_node', '-r',
                '__ns:=/car', '--params-file', params_file, '-p', 'device:=cuda',
                '-p', 'use_sim_time:=true', '--log-level', 'info']
    assert [command[0].rsplit('/', 1)[-1]] + command[2:] == expected


def test_perception_and_planner_respawn_and_the_safety_nodes_exit_shuts_down(launch_api):
    description = load_launch_file('autovla.launch.py').generate_launch_description()
    context = dict(declared_arguments(description))
    perception, planner, safety = (node.kwargs for node in opaque_function(description)(context))
    for respawned in (perception, planner):
        assert respawned['respawn'] is True and respawned['respawn_delay'] > 0
        # Issue 15 item 3: a limit, and a loud line once launch stops restarting the node.
        assert respawned['respawn_max_retries'] == respawn.RESPAWN_MAX_RESTARTS
        notice = respawned['on_exit']
        running = types.SimpleNamespace(is_shutdown=False)
        exits = [notice(None, running) for _ in range(respawn.RESPAWN_MAX_RESTARTS + 1)]
        assert exits[:-1] == [None] * respawn.RESPAWN_MAX_RESTARTS
        (given_up,) = exits[-1]
        assert given_up.kwargs['msg'].startswith(f'GIVEN UP: {respawned["name"]}')
        assert notice(None, types.SimpleNamespace(is_shutdown=True)) is None
    assert not safety.get('respawn')
    log, shutdown = safety['on_exit']
    assert 'SAFETY NODE DOWN' in log.kwargs['msg']
    assert 'drive-by-wire' in shutdown.kwargs['event'].kwargs['reason']


def test_replay_launch_includes_the_stack_with_sim_time_and_needs_replay_bag(launch_api):
    description = load_launch_file('replay.launch.py').generate_launch_description()
    arguments = declared_arguments(description)
    assert arguments['mode'] == 'lockstep' and arguments['rate'] == '1.0' and 'bag' in arguments
    assert stack.USE_SIM_TIME not in arguments
    [include] = [a for a in description.args[0]
                 if type(a).__name__ == 'IncludeLaunchDescription']
    passed = dict(include.kwargs['launch_arguments'])
    assert passed[stack.USE_SIM_TIME] == 'true'
    assert set(passed) == {argument.name for argument in stack.ARGUMENTS}
    source = include.args[0].args[0]
    assert Path(source).name == 'autovla.launch.py' and Path(source).is_file()
    replay = stack.InstallSpace().installed_executable(stack.REPLAY.package,
                                                       stack.REPLAY.executable)
    context = {'bag': '/bags/a', 'mode': 'lockstep', 'rate': '1.0', 'namespace': 'car',
               'topic_map': '/maps/car.yaml'}
    if replay is not None:
        [process] = opaque_function(description)(context)
        assert process.kwargs['cmd'] == stack.REPLAY.command(replay, '/bags/a', 'lockstep',
                                                             1.0, 'car', '/maps/car.yaml')
        assert process.kwargs['cmd'][-6:-4] == ['--namespace', '/car']
        assert process.kwargs['cmd'][-2:] == ['--topic-map', '/maps/car.yaml']
    else:
        with pytest.raises(RuntimeError, match='replay_bag not found'):
            opaque_function(description)(context)


@pytest.mark.parametrize('name', ['autovla.launch.py', 'replay.launch.py'])
def test_launch_files_take_node_facts_only_from_the_stack(name):
    tree = ast.parse((LAUNCH_DIR / name).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert 'autovla_bringup' in imported
    strings = {node.value for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    # No package, executable or params file named in the launch file itself.
    for node in stack.NODES:
        assert not {node.package, node.executable, node.params_file} & strings
    assert 'generate_launch_description' in {
        node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
