"""The stack description against the install space, the nodes' PARAMS and the YAML files."""

from pathlib import Path

from autovla_common.params import ParamSpec
import pytest
from rclpy.node import Node
import yaml

from autovla_bringup import specs, stack

REPO = Path(__file__).resolve().parents[3]
INSTALL = stack.InstallSpace()


@pytest.mark.parametrize('node', stack.NODES, ids=lambda node: node.key)
def test_every_node_executable_params_file_and_class_exists(node):
    assert INSTALL.executable(node.package, node.executable).is_file()
    params_file = INSTALL.params_file(node)
    assert params_file.is_file()
    # The installed file is the workspace config/ file (one source of defaults).
    assert params_file.read_text() == (REPO / 'config' / node.params_file).read_text()
    module, class_name = node.node_class.split(':')
    node_class = getattr(__import__(module, fromlist=[class_name]), class_name)
    assert issubclass(node_class, Node)


@pytest.mark.parametrize('node', stack.NODES, ids=lambda node: node.key)
def test_yaml_and_declared_parameters_agree(node):
    declared = specs.node_params(node)
    assert declared and all(isinstance(spec, ParamSpec) for spec in declared)
    assert specs.consistency_problems(node, INSTALL) == []


def test_consistency_check_catches_a_yaml_key_the_node_does_not_declare(tmp_path):
    node = stack.node_by_key('safety')
    config = tmp_path / node.package / 'config'
    config.mkdir(parents=True)
    document = yaml.safe_load(INSTALL.params_file(node).read_text())
    document['/**/safety_node']['ros__parameters']['not_a_parameter'] = 1.0
    (config / node.params_file).write_text(yaml.safe_dump(document))
    problems = specs.consistency_problems(node, stack.InstallSpace(share=lambda p: tmp_path / p))
    assert problems == ['safety_node: params YAML sets not_a_parameter, '
                        'which the node does not declare']


ARGUMENT_TARGETS = [(argument.name, node_key, param) for argument in stack.ARGUMENTS
                    for node_key, param in argument.targets if node_key != stack.ALL_NODES]


@pytest.mark.parametrize('argument,node_key,param', ARGUMENT_TARGETS)
def test_every_launch_argument_targets_a_declared_parameter(argument, node_key, param):
    declared = {spec.name for spec in specs.node_params(stack.node_by_key(node_key))}
    assert param in declared, f'{argument} overrides undeclared {node_key}.{param}'


def _by_name(launches):
    return {launch.node.name: launch for launch in launches}


def test_default_stack_runs_three_nodes_in_autovla_with_their_yaml_and_sim_time_off():
    launches = _by_name(stack.describe(stack.StackOptions()))
    assert list(launches) == ['perception_node', 'planner_node', 'safety_node']
    planner = launches['planner_node']
    share = Path(INSTALL.share('autovla_planner'))
    assert planner.command() == [
        str(INSTALL.prefix('autovla_planner') / 'lib/autovla_planner/planner_node'),
        '--ros-args', '-r', '__node:=planner_node', '-r', '__ns:=/autovla',
        '--params-file', str(share / 'config/planner.yaml'),
        '-p', 'use_sim_time:=false', '--log-level', 'info']
    assert planner.full_name == '/autovla/planner_node'
    # The nuScenes rig has no source_topic: no remaps.
    assert launches['perception_node'].remaps == ()


def test_launch_arguments_become_overrides_of_the_right_nodes():
    options = stack.StackOptions.from_arguments(
        {'model_path': '/models/autovla', 'device': 'cpu', 'use_sim_time': 'True',
         'namespace': '/car1/', 'log_level': 'debug'})
    launches = _by_name(stack.describe(options))
    assert launches['planner_node'].overrides == {
        'model_path': '/models/autovla', 'device': 'cpu', 'use_sim_time': True}
    assert launches['safety_node'].overrides == {'use_sim_time': True}
    assert launches['perception_node'].overrides == {'use_sim_time': True}
    assert {launch.namespace for launch in launches.values()} == {'/car1'}
    assert launches['safety_node'].command()[-2:] == ['--log-level', 'debug']


def test_params_override_and_node_selection():
    options = stack.StackOptions(
        nodes=stack.select_nodes('safety_node, planner'),
        overrides=(stack.parse_override('safety.control_rate_hz=20'),
                   stack.parse_override('planner_node.model_path=123')))
    launches = _by_name(stack.describe(options))
    assert list(launches) == ['planner_node', 'safety_node']
    assert launches['safety_node'].overrides == {'use_sim_time': False, 'control_rate_hz': 20}
    assert launches['planner_node'].overrides == {'use_sim_time': False, 'model_path': 123}
    # The declared types settle YAML's guesses; a numeric-looking string stays quoted.
    typed = _by_name(specs.typed_overrides(launches.values()))
    assert typed['safety_node'].overrides['control_rate_hz'] == 20.0
    assert isinstance(typed['safety_node'].overrides['control_rate_hz'], float)
    assert "model_path:='123'" in typed['planner_node'].command()


@pytest.mark.parametrize('text', ['safety.control_rate_hz', 'safety=1', 'nobody.x=1', '.x=1'])
def test_malformed_overrides_are_refused(text):
    with pytest.raises(ValueError):
        stack.parse_override(text)


def test_undeclared_override_is_reported():
    options = stack.StackOptions(overrides=(
        ('planner', 'no_such_param', 1), ('safety', 'control_rate_hz', 20)))
    problems = specs.undeclared_overrides(stack.describe(options))
    assert len(problems) == 1 and "planner_node does not declare parameter 'no_such_param'" \
        in problems[0]


@pytest.mark.parametrize('value,literal', [
    ('', "''"), ('123', "'123'"), ('true', "'true'"), ('CAM_FRONT', 'CAM_FRONT'),
    (True, 'true'), (2.0, '2.0'), (20, '20'), ([1.0, 2.5], '[1.0, 2.5]'),
    ('/models/my model', '/models/my model')])
def test_param_literal_keeps_the_type(value, literal):
    assert stack.param_literal(value) == literal
    assert yaml.safe_load(literal if literal else "''") == value


def test_rig_source_topics_become_perception_remaps(tmp_path):
    rig = yaml.safe_load((REPO / 'config/rigs/nuscenes.yaml').read_text())
    rig['cameras'][0]['source_topic'] = '/sensing/camera/front/image_raw/compressed'
    rig_file = tmp_path / 'car.yaml'
    rig_file.write_text(yaml.safe_dump(rig))
    launches = _by_name(stack.describe(stack.StackOptions(rig_file=str(rig_file))))
    remap = ('cameras/CAM_FRONT/image/compressed', '/sensing/camera/front/image_raw/compressed')
    assert launches['perception_node'].remaps == (remap,)
    assert launches['perception_node'].overrides['rig_file'] == str(rig_file)
    assert '-r' in launches['perception_node'].command()
    assert f'{remap[0]}:={remap[1]}' in launches['perception_node'].command()
    assert launches['planner_node'].remaps == ()


def test_topic_map_goes_to_perception_and_renames_safetys_inputs():
    topic_map = str(REPO / 'config/topic_maps/nuscenes.yaml')
    launches = _by_name(stack.describe(stack.StackOptions(topic_map=topic_map)))
    assert launches['perception_node'].overrides['topic_map'] == topic_map
    assert launches['safety_node'].remaps == (('odometry', '/odom'), ('route', '/route'))
    assert 'odometry:=/odom' in launches['safety_node'].command()
    assert launches['planner_node'].remaps == ()
    with pytest.raises(ValueError, match='cannot read'):
        stack.describe(stack.StackOptions(topic_map=str(REPO / 'no_such_map.yaml')))


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match='log level'):
        stack.StackOptions(log_level='verbose')
    with pytest.raises(ValueError, match='expected true or false'):
        stack.StackOptions.from_arguments({'use_sim_time': 'maybe'})
    with pytest.raises(ValueError, match='replay mode'):
        stack.REPLAY.command(Path('/x'), 'b', 'fast', 1.0)


def test_replay_command_replays_into_the_stack_namespace():
    assert stack.REPLAY.command(Path('/ws/lib/replay_bag'), '/bags/a', 'rate', 2.0) == [
        '/ws/lib/replay_bag', '/bags/a', '--mode', 'rate', '--rate', '2.0',
        '--namespace', '/autovla', '--exclude-prefix', '/tf']
    with pytest.raises(ValueError, match='bag:=PATH'):
        stack.REPLAY.command(Path('/x'), '', 'rate', 1.0)


def test_namespaces_resolve_like_ros():
    assert stack.normalize_namespace('autovla') == '/autovla'
    assert stack.normalize_namespace('') == '/'
    assert stack.resolve_topic('/', 'odometry') == '/odometry'
    assert stack.resolve_topic('autovla', 'odometry') == '/autovla/odometry'
    assert stack.resolve_topic('autovla', '/diagnostics') == '/diagnostics'
