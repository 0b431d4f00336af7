"""ros2 launch autovla_bringup autovla.launch.py: perception, planner and safety.

Everything about the nodes (packages, executables, params files, overrides, camera remaps)
comes from autovla_bringup.stack, the description the autovla_bringup command also runs,
so `ros2 launch` and `autovla_bringup` start the same processes with the same arguments.

Arguments (all optional): model_path, device, rig_file, use_sim_time, namespace, params_file
(a user params YAML overlaying the shipped defaults), log_level;
`ros2 launch autovla_bringup autovla.launch.py --show-args` lists them with descriptions.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from autovla_bringup import stack
from launch import LaunchDescription


def stack_nodes(context):
    """Resolve the launch arguments into one launch_ros Node per node of the stack."""
    values = {argument.name: LaunchConfiguration(argument.name).perform(context)
              for argument in stack.ARGUMENTS}
    return [
        Node(package=launch.node.package, executable=launch.node.executable,
             name=launch.node.name, namespace=launch.namespace,
             parameters=[str(path) for path in launch.params_files()] + [launch.overrides],
             remappings=list(launch.remaps),
             arguments=['--ros-args', '--log-level', launch.log_level],
             output='screen', emulate_tty=True)
        for launch in stack.describe(stack.StackOptions.from_arguments(values))
    ]


def generate_launch_description():
    """Declare the stack's arguments and start its nodes."""
    return LaunchDescription(
        [DeclareLaunchArgument(argument.name, default_value=argument.default,
                               description=argument.description)
         for argument in stack.ARGUMENTS]
        + [OpaqueFunction(function=stack_nodes)])
