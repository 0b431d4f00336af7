"""QoS profiles used across the stack (architecture.md, Conventions)."""

from rclpy.qos import (
                       DurabilityPolicy,
                       HistoryPolicy,
                       qos_profile_sensor_data,
                       QoSProfile,
                       ReliabilityPolicy,
)

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
