"""ros2 launch autovla_bringup replay.launch.py bag:=PATH: the stack on a recorded bag.

Starts autovla.launch.py with use_sim_time:=true and the bag replay tool (autovla_replay's
replay_bag, described in autovla_bringup.stack.REPLAY): it publishes /clock and the bag's
topics in the stack's namespace, named by the same topic map as the stack. The other
autovla.launch.py arguments (model_path, device, rig_file, topic_map, namespace, params_file,
log_level) pass through.
"""

from pathlib import Path

from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    IncludeLaunchDescription,
    OpaqueFunction,
)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

from autovla_bringup import stack
from launch import LaunchDescription


def replay_process(context):
    """The replay_bag process; a clear error if autovla_replay is not installed."""
    executable = stack.InstallSpace().installed_executable(stack.REPLAY.package,
                                                           stack.REPLAY.executable)
    if executable is None:
        raise RuntimeError(f'{stack.REPLAY.executable} not found: build the '
                           f'{stack.REPLAY.package} package (it lands with the replay issue)')
    command = stack.REPLAY.command(
        executable, LaunchConfiguration('bag').perform(context),
        LaunchConfiguration('mode').perform(context),
        float(LaunchConfiguration('rate').perform(context)),
        LaunchConfiguration('namespace').perform(context),
        LaunchConfiguration('topic_map').perform(context))
    return [ExecuteProcess(cmd=command, output='screen', emulate_tty=True)]


def generate_launch_description():
    """Declare the replay arguments, include the stack with simulated time, start the replay."""
    passed_through = [argument.name for argument in stack.ARGUMENTS
                      if argument.name != stack.USE_SIM_TIME]
    stack_launch = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(Path(__file__).with_name('autovla.launch.py'))),
        launch_arguments=[(stack.USE_SIM_TIME, 'true')]
        + [(name, LaunchConfiguration(name)) for name in passed_through])
    return LaunchDescription(
        [DeclareLaunchArgument('bag', description='rosbag2 directory or file to replay'),
         DeclareLaunchArgument('mode', default_value=stack.REPLAY.modes[0],
                               description='replay mode: ' + ', '.join(stack.REPLAY.modes)),
         DeclareLaunchArgument('rate', default_value='1.0',
                               description='replay speed factor (mode rate)')]
        + [DeclareLaunchArgument(argument.name, default_value=argument.default,
                                 description=argument.description)
           for argument in stack.ARGUMENTS if argument.name in passed_through]
        + [stack_launch, OpaqueFunction(function=replay_process)])
