"""Every command line the stack description produces, parsed by the real parser it meets.

Node processes get only ``--ros-args``: rcl itself parses them (rclpy.init on a context of
its own), which also loads each params file. The replay command is parsed by replay_bag's own
argparse parser. A mismatch between the description and an executable fails here, not on a car.
"""

from pathlib import Path

from autovla_replay.cli import build_replay_parser
import pytest
import rclpy
from rclpy.context import Context
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.utilities import remove_ros_args

from autovla_bringup import stack

OPTIONS = [
    stack.StackOptions(),
    stack.StackOptions(model_path='/models/autovla', device='cuda', use_sim_time=True,
                       namespace='car_7', log_level='debug',
                       overrides=(('safety', 'control_rate_hz', 20.0),
                                  ('planner', 'reasoning_mode', 'fast'))),
]


def parse_ros_args(command):
    """Let rcl parse ``command``'s ROS arguments; return what is left for the program."""
    # --log-level sets this process's default logger level: keep the other tests' level.
    level = rclpy.logging.get_logger_level('')
    context = Context()
    try:
        rclpy.init(args=command, context=context)
        rclpy.shutdown(context=context)
        return remove_ros_args(command)
    finally:
        rclpy.logging.set_logger_level('', level)


@pytest.mark.parametrize('options', OPTIONS, ids=['defaults', 'every-argument'])
def test_every_node_command_line_parses_with_rcl(options):
    for launch in stack.describe(options):
        command = launch.command()
        assert Path(command[0]).is_file()
        assert parse_ros_args(command) == [command[0]], launch.node.name


def test_parsing_leaves_the_test_process_log_level_alone():
    [launch] = stack.describe(stack.StackOptions(nodes=('safety',), log_level='debug'))
    before = rclpy.logging.get_logger_level('')
    parse_ros_args(launch.command())
    assert rclpy.logging.get_logger_level('') == before


def test_rcl_refuses_a_broken_node_command_line():
    [launch] = stack.describe(stack.StackOptions(nodes=('safety',)))
    broken = launch.command()
    broken[broken.index('-r') + 1] = '__node'   # a remap without ':='
    with pytest.raises(rclpy_implementation.RCLError, match='remap rule'):
        parse_ros_args(broken)


@pytest.mark.parametrize('mode', stack.REPLAY.modes)
def test_replay_command_parses_with_replay_bags_parser(mode):
    command = stack.REPLAY.command(Path('/ws/lib/autovla_replay/replay_bag'), '/bags/scene 1',
                                   mode, 2.0, 'car_7', '/maps/car 7.yaml')
    args = build_replay_parser().parse_args(command[1:])
    assert args.topic_map == '/maps/car 7.yaml'
    assert args.bag == '/bags/scene 1'
    assert args.mode == mode and args.rate == 2.0
    # The replay publishes where the stack listens.
    assert args.namespace == stack.normalize_namespace('car_7') == '/car_7'
    # The stack publishes TF itself; the bag's ground truth is replayed for RViz.
    assert args.exclude_prefix == '/tf'


def test_replay_parser_refuses_an_option_it_does_not_have():
    with pytest.raises(SystemExit):
        build_replay_parser().parse_args(['/bags/a', '--clock'])
