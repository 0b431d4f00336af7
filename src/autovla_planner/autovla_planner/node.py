"""planner_node: ROS I/O only. The model runtime comes with its own issue."""

from autovla_common.params import ParamSpec
from autovla_common.ros_params import declare_parameters
from autovla_common.runner import run_node
from rclpy.node import Node

PARAMS = (
    ParamSpec('model_path', 'string', 'Model directory (HF layout + runtime descriptor).'),
    ParamSpec('device', 'string', 'Where to run the model.', choices=('auto', 'cuda', 'cpu')),
)


class PlannerNode(Node):
    """Declares its parameters and logs them; publishes nothing yet."""

    def __init__(self):
        super().__init__('planner_node')
        self.params = declare_parameters(self, PARAMS, 'autovla_planner', 'planner.yaml')
        self.get_logger().info(f'configuration: {self.params}')


def main(args=None):
    """Entry point of ``ros2 run autovla_planner planner_node``."""
    raise SystemExit(run_node(PlannerNode, args))
