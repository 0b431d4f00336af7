"""ros2 launch autovla_bringup autovla.launch.py: perception, planner and safety.

Everything about the nodes (packages, executables, params files, overrides, camera remaps)
comes from autovla_bringup.stack, the description the autovla_bringup command also runs,
so `ros2 launch` and `autovla_bringup` start the same processes with the same arguments.

Perception and planner respawn after a crash (fixed delay respawn.RESPAWN_DELAY_S: launch has
no backoff; `autovla_bringup` backs off), at most respawn.RESPAWN_MAX_RESTARTS times in all
(launch counts no window); the exit after the last restart logs `GIVEN UP` and the node stays
down while the safety node walks its stop ladder. The safety node is never respawned: if it exits,
the launch logs it loudly and shuts everything down; the drive-by-wire side must time out
on the silent command stream. On shutdown every node gets SIGINT at once and the safety node
sends a final stop command (ordering, safety last, needs `autovla_bringup`).

Arguments (all optional): model_path, device, rig_file, use_sim_time, namespace, params_file
(a user params YAML overlaying the shipped defaults), log_level;
`ros2 launch autovla_bringup autovla.launch.py --show-args` lists them with descriptions.
"""

from launch.actions import DeclareLaunchArgument, EmitEvent, LogInfo, OpaqueFunction
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from autovla_bringup import respawn, stack
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
             output='screen', emulate_tty=True, **exit_policy(launch.node))
        for launch in stack.describe(stack.StackOptions.from_arguments(values))
    ]


class GiveUpNotice:
    """on_exit of a respawned node: says loudly when launch stops restarting it."""

    def __init__(self, name, max_restarts):
        self.name = name
        self.max_restarts = max_restarts
        self.exits = 0

    def __call__(self, event, context):
        if context.is_shutdown:
            return None
        self.exits += 1
        if self.exits <= self.max_restarts:
            return None
        return [LogInfo(msg=f'GIVEN UP: {self.name} exited {self.exits} times '
                            f'(respawn_max_retries {self.max_restarts}); it is not restarted '
                            'again. The safety node keeps commanding its stop ladder; fix the '
                            'cause and restart.')]


def exit_policy(node):
    """Respawn for perception and planner (limited); the safety node's exit ends the launch."""
    if node.respawn:
        return {'respawn': True, 'respawn_delay': respawn.RESPAWN_DELAY_S,
                'respawn_max_retries': respawn.RESPAWN_MAX_RESTARTS,
                'on_exit': GiveUpNotice(node.name, respawn.RESPAWN_MAX_RESTARTS)}
    reason = (f'{node.name} exited: no drive command is sent any more; the drive-by-wire '
              'side must time out and stop the vehicle')
    return {'on_exit': [LogInfo(msg=f'SAFETY NODE DOWN: {reason}'),
                        EmitEvent(event=Shutdown(reason=reason))]}


def generate_launch_description():
    """Declare the stack's arguments and start its nodes."""
    return LaunchDescription(
        [DeclareLaunchArgument(argument.name, default_value=argument.default,
                               description=argument.description)
         for argument in stack.ARGUMENTS]
        + [OpaqueFunction(function=stack_nodes)])
