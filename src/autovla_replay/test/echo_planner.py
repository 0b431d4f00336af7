"""A tiny stand-in planner for the lock-step tests: a real rclpy node in its own process.

It answers each anchor-camera image with a PlannedTrajectory stamped with the image stamp:
straight ahead at --speed m/s, 10 waypoints 0.5 s apart, explanation 'echo'. It skips the
first --skip images, like the real stack while its history fills.
"""

import argparse

from autovla_common.qos import RELIABLE_QOS, SENSOR_QOS
from builtin_interfaces.msg import Duration
from nav_msgs.msg import Odometry
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage

from autovla_msgs.msg import PlannedTrajectory, TrajectoryPoint


class EchoPlanner(Node):

    def __init__(self, speed, skip, delay):
        super().__init__('echo_planner')
        self.speed, self.skip, self.delay, self.seen = speed, skip, delay, 0
        self.publisher = self.create_publisher(PlannedTrajectory, 'planned_trajectory',
                                               RELIABLE_QOS)
        self.create_subscription(CompressedImage, 'cameras/CAM_FRONT/image/compressed',
                                 self.on_image, SENSOR_QOS)
        # Listening to odometry too makes the replay wait for it like for a real stack.
        self.create_subscription(Odometry, 'odometry', lambda msg: None, SENSOR_QOS)
        self.get_logger().info('echo planner ready')

    def on_image(self, image):
        self.seen += 1
        if self.seen <= self.skip:
            return
        if self.delay:
            import time
            time.sleep(self.delay)
        plan = PlannedTrajectory()
        plan.header.stamp = image.header.stamp
        plan.header.frame_id = 'base_link'
        for k in range(1, 11):
            t = 0.5 * k
            plan.points.append(TrajectoryPoint(
                time_from_start=Duration(sec=int(t), nanosec=int(round((t % 1) * 1e9))),
                x=self.speed * t, y=0.0, yaw=0.0, velocity=self.speed))
        plan.explanation = 'echo'
        plan.model_id = 'echo'
        self.publisher.publish(plan)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--speed', type=float, default=8.0)
    parser.add_argument('--skip', type=int, default=0)
    parser.add_argument('--delay', type=float, default=0.0)
    args, ros_args = parser.parse_known_args()
    rclpy.init(args=ros_args)
    node = EchoPlanner(args.speed, args.skip, args.delay)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
