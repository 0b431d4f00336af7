"""QoS profiles used across the stack (architecture.md, Conventions)."""

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    qos_profile_sensor_data,
    QoSProfile,
    ReliabilityPolicy,
)

from autovla_common.frames import TF_DEPTH

# Cameras and odometry: BEST_EFFORT, keep last 5. A late frame is worth less than a new one.
SENSOR_QOS = qos_profile_sensor_data

# Route: RELIABLE + TRANSIENT_LOCAL depth 1, so a node started later still gets the route.
LATCHED_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)

# Plans, commands, status: RELIABLE, small queue (only the newest matters).
RELIABLE_QOS = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                          reliability=ReliabilityPolicy.RELIABLE,
                          durability=DurabilityPolicy.VOLATILE)

# tf2_ros's broadcaster profiles, so RViz, Foxglove and tf2 listeners match them.
TF_QOS = QoSProfile(depth=TF_DEPTH, reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.VOLATILE)
TF_STATIC_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.TRANSIENT_LOCAL)


def create_latched_subscriptions(node, msg_type, topic: str, callback, **options) -> list:
    """Subscribe to a latched input so that it connects to every kind of publisher.

    A TRANSIENT_LOCAL subscription gets the last message of a latched publisher that started
    earlier, but does not match a VOLATILE publisher (nav2's /plan, ``ros2 bag play``
    defaults); a VOLATILE one matches both. So: one of each. A latched publisher then
    delivers twice, which is harmless for inputs that replace the previous value.
    """
    return [node.create_subscription(msg_type, topic, callback, qos, **options)
            for qos in (LATCHED_QOS, RELIABLE_QOS)]
