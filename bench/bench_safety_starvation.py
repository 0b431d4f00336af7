"""Safety control loop under a rogue planner: command gaps with vs without oversized plans.

The installed safety_node runs as its own process over real DDS. This process plays
localisation (odometry at 50 Hz, standing still), the route and a good planner (a valid
10-point plan at 5 Hz), and collects every DriveCommand. Two phases of equal length, side by
side in one run: without, then with a 20,000-point PlannedTrajectory (1.1 MB) published at
4 Hz on the same topic (the fault campaign's rogue plan, issue 15). Measured from the
command header stamps (the node's tick times): the largest gap between two commands and the
jitter (standard deviation of the tick interval). Value: the largest gap with rogue plans;
baseline: the largest gap without. Target: largest gap <= 2 control periods (40 ms at 50 Hz).
"""

import statistics
import time

from autovla_common.bench import write_result
from autovla_common.domain import isolate_ros_domain
from autovla_common.qos import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from autovla_common.testing import NodeProcess, RosProbe, wait_until
from autovla_safety.conversions import seconds
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from rclpy.time import Time

from autovla_msgs.msg import DriveCommand, PlannedTrajectory, SafetyStatus, TrajectoryPoint

PHASE_S = 10.0
CONTROL_RATE_HZ = 50.0    # config/safety.yaml default
ROGUE_POINTS = 20000
ROGUE_PERIOD_S = 0.25


def plan(stamp, points, step=0.5):
    """Straight ahead at 1 m/s from the ego, ``points`` points ``step`` s apart."""
    msg = PlannedTrajectory(confidence=0.9)
    msg.header.stamp = stamp
    msg.header.frame_id = 'base_link'
    for i in range(1, points + 1):
        t = step * i
        point = TrajectoryPoint(x=t, velocity=1.0)
        point.time_from_start.sec, point.time_from_start.nanosec = divmod(
            int(round(t * 1e9)), 1_000_000_000)
        msg.points.append(point)
    return msg


class Feeder:
    """Odometry, route and valid plans into the node; rogue plans when switched on."""

    def __init__(self, probe):
        self.probe = probe
        self.odometry = probe.publisher(Odometry, 'odometry', SENSOR_QOS)
        self.plans = probe.publisher(PlannedTrajectory, 'planned_trajectory', RELIABLE_QOS)
        self.route = probe.publisher(Path, 'route', LATCHED_QOS)
        self.rogue = serialize_message(plan(probe.now(), ROGUE_POINTS, 0.1))
        self.rogue_on = False
        probe.node.create_timer(0.02, self._odometry)
        probe.node.create_timer(0.2, self._plan)
        probe.node.create_timer(ROGUE_PERIOD_S, self._rogue)

    def publish_route(self):
        """Publish a straight 200 m route along x through the ego (odom frame)."""
        msg = Path()
        msg.header.stamp = self.probe.now()
        msg.header.frame_id = 'odom'
        for i in range(200):
            pose = PoseStamped()
            pose.pose.position.x = float(i) - 5.0
            msg.poses.append(pose)
        self.route.publish(msg)

    def _odometry(self):
        msg = Odometry()
        msg.header.stamp = self.probe.now()
        msg.header.frame_id = 'odom'
        msg.pose.pose.orientation.w = 1.0
        self.odometry.publish(msg)

    def _plan(self):
        stamp = Time.from_msg(self.probe.now()).nanoseconds - 50_000_000
        self.plans.publish(plan(Time(nanoseconds=stamp).to_msg(), 10))

    def _rogue(self):
        if self.rogue_on:
            self.plans.publish(self.rogue)


def measure(commands, start, end):
    """Largest gap and interval jitter (s) of the commands stamped in [start, end)."""
    stamps = sorted(seconds(c.header.stamp) for c in list(commands)
                    if start <= seconds(c.header.stamp) < end)
    intervals = [b - a for a, b in zip(stamps, stamps[1:])]
    return max(intervals), statistics.pstdev(intervals), len(stamps)


def main():
    """Run both phases against one node and record the ratio of the largest gaps."""
    domain = isolate_ros_domain()
    with RosProbe('starvation_bench') as probe, \
            NodeProcess.ros_node('autovla_safety', 'safety_node') as node:
        commands = probe.collect(DriveCommand, 'drive_command',
                                 QoSProfile(depth=500, reliability=ReliabilityPolicy.RELIABLE))
        status = probe.collect(SafetyStatus, 'safety_status', RELIABLE_QOS)
        feeder = Feeder(probe)
        if not probe.wait_for_subscribers(feeder.route, timeout=30):
            raise SystemExit(f'safety_node did not come up:\n{node.output()}')
        feeder.publish_route()
        if not wait_until(lambda: any(s.mode == SafetyStatus.NOMINAL for s in status), 20):
            raise SystemExit(f'safety_node never reached NOMINAL:\n{node.output()[-3000:]}')
        phases = {}
        for name, rogue in (('none', False), ('rogue', True)):
            feeder.rogue_on = rogue
            start = time.time()
            wait_until(lambda: time.time() > start + PHASE_S + 0.5, PHASE_S + 5)
            phases[name] = measure(commands, start, start + PHASE_S)
            print(f'[bench] {name}: max gap {1e3 * phases[name][0]:.1f} ms, jitter '
                  f'{1e3 * phases[name][1]:.2f} ms, {phases[name][2]} commands', flush=True)
        feeder.rogue_on = False
    period = 1.0 / CONTROL_RATE_HZ
    (gap, jitter, count), (base_gap, base_jitter, base_count) = phases['rogue'], phases['none']
    write_result(
        'safety_starvation', 'ms', 1e3 * gap, 1e3 * base_gap,
        f'max command gap with a {ROGUE_POINTS}-point plan at {1 / ROGUE_PERIOD_S:.0f} Hz '
        f'{1e3 * gap:.1f} ms ({gap / period:.2f} periods) vs {1e3 * base_gap:.1f} ms without; '
        f'jitter {1e3 * jitter:.2f} vs {1e3 * base_jitter:.2f} ms; {count} vs {base_count} '
        f'commands in {PHASE_S:.0f} s; target <= 2 periods: '
        f'{"met" if gap <= 2 * period else "MISSED"}',
        jitter_ms=1e3 * jitter, baseline_jitter_ms=1e3 * base_jitter, commands=count,
        baseline_commands=base_count, control_period_ms=1e3 * period, ros_domain_id=domain)


if __name__ == '__main__':
    main()
