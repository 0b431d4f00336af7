"""safety_node: ROS I/O only. Validator, supervisor and controller come with their own issue."""

from autovla_common.params import ParamSpec
from autovla_common.ros_params import declare_parameters
from autovla_common.runner import run_node
from rclpy.node import Node

PARAMS = (
    ParamSpec('control_rate_hz', 'double', 'DriveCommand publish rate (Hz).', min=10.0, max=200.0),
)


class SafetyNode(Node):
    """Declares its parameters and logs them; publishes nothing yet."""

    def __init__(self):
        super().__init__('safety_node')
        self.params = declare_parameters(self, PARAMS, 'autovla_safety', 'safety.yaml')
        self.get_logger().info(f'configuration: {self.params}')


def main(args=None):
    """Entry point of ``ros2 run autovla_safety safety_node``."""
    raise SystemExit(run_node(SafetyNode, args))
