"""perception_node: ROS I/O only. The observation assembly itself comes with its own issue."""

from autovla_common.params import ParamSpec
from autovla_common.ros_params import declare_parameters
from autovla_common.runner import run_node
from rclpy.node import Node

PARAMS = (
    ParamSpec('planning_rate_hz', 'double', 'Rate at which observations are published (Hz).',
              min=0.1, max=20.0),
    ParamSpec('anchor_camera', 'string', 'Camera whose frame stamp anchors each observation.'),
)


class PerceptionNode(Node):
    """Declares its parameters and logs them; publishes nothing yet."""

    def __init__(self):
        super().__init__('perception_node')
        self.params = declare_parameters(self, PARAMS, 'autovla_perception', 'perception.yaml')
        self.get_logger().info(f'configuration: {self.params}')


def main(args=None):
    """Entry point of ``ros2 run autovla_perception perception_node``."""
    raise SystemExit(run_node(PerceptionNode, args))
