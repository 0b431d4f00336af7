"""Two separate processes exchange a PlannedTrajectory over DDS (built messages, real rclpy)."""

import math
import textwrap

from autovla_common.qos import RELIABLE_QOS
from autovla_common.testing import NodeProcess, PYTHON, RosProbe, wait_until

from autovla_msgs.msg import PlannedTrajectory

PUBLISHER = textwrap.dedent("""
    import rclpy
    from autovla_common.qos import RELIABLE_QOS
    from autovla_msgs.msg import PlannedTrajectory, TrajectoryPoint
    rclpy.init()
    node = rclpy.create_node('plan_publisher')
    pub = node.create_publisher(PlannedTrajectory, 'plan', RELIABLE_QOS)
    count = 0

    def tick():
        global count
        msg = PlannedTrajectory()
        msg.header.frame_id = 'base_link'
        msg.header.stamp.sec = 1000 + count
        msg.reasoning_mode = PlannedTrajectory.MODE_SLOW
        msg.explanation = 'pedestrian ahead, decelerate'
        msg.confidence = 0.75
        msg.action_token_ids = [7, 8, 9]
        for i in range(10):
            p = TrajectoryPoint(x=0.5 * i, y=0.01 * i * i, yaw=0.02 * i, velocity=5.0)
            p.time_from_start.nanosec = 500_000_000 * ((i + 1) % 2)
            p.time_from_start.sec = (i + 1) // 2
            msg.points.append(p)
        pub.publish(msg)
        count += 1

    node.create_timer(0.1, tick)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    rclpy.try_shutdown()
""")


def test_planned_trajectory_crosses_processes():
    with RosProbe() as probe, NodeProcess([PYTHON, '-c', PUBLISHER]) as publisher:
        received = probe.collect(PlannedTrajectory, 'plan', RELIABLE_QOS)
        assert wait_until(lambda: len(received) >= 3, timeout=20), publisher.output()
        msg = received[-1]
        assert msg.header.frame_id == 'base_link'
        assert msg.header.stamp.sec >= 1000
        assert msg.reasoning_mode == PlannedTrajectory.MODE_SLOW
        assert msg.explanation == 'pedestrian ahead, decelerate'
        assert math.isclose(msg.confidence, 0.75)
        assert list(msg.action_token_ids) == [7, 8, 9]
        assert len(msg.points) == 10
        last = msg.points[-1]
        assert (last.time_from_start.sec, last.time_from_start.nanosec) == (5, 0)
        assert math.isclose(last.x, 4.5) and math.isclose(last.y, 0.81)
        assert publisher.stop() == 0
