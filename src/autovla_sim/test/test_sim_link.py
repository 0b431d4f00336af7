"""The simulator's ROS side over real DDS: the TF tree it publishes and how a run starts."""

import math

from autovla_common.frames import camera_frame, TF_STATIC_TOPIC, TF_TOPIC
from autovla_common.qos import RELIABLE_QOS, TF_QOS, TF_STATIC_QOS
from autovla_common.rig import load_rig
from autovla_common.spin import spinning_node
from autovla_common.testing import NodeProcess, RosProbe, wait_until
from autovla_safety.config import load_shipped_config
from autovla_scenarios.catalogue import make_scenario
from autovla_scenarios.generator import default_rig_path
from autovla_scenarios.messages import stamp_ns
from autovla_sim.node import CONTROL_STACK, RosLink
from autovla_sim.simulator import ClosedLoopSim, SimConfig
from autovla_sim.vehicle import VehicleModel
import pytest
from tf2_msgs.msg import TFMessage

from autovla_msgs.msg import SafetyStatus


def _sim() -> ClosedLoopSim:
    safety = load_shipped_config()
    return ClosedLoopSim(make_scenario('curve', 0), VehicleModel(safety.vehicle),
                         SimConfig(duration=2.0))


def test_simulator_publishes_odom_to_base_link_and_the_camera_frames():
    rig = load_rig(default_rig_path())
    sim = _sim()
    with RosProbe('sim_tf_probe') as probe, spinning_node('closed_loop_sim') as node:
        link = RosLink(node, sim, rig, CONTROL_STACK)
        tf = probe.collect(TFMessage, TF_TOPIC, TF_QOS)
        static = probe.collect(TFMessage, TF_STATIC_TOPIC, TF_STATIC_QOS)
        assert wait_until(lambda: link.tf.get_subscription_count() > 0, 20)
        poses = {}
        for _ in range(25):      # 0.5 s along the curve, driven by the expert
            link.publish_state(sim)
            poses[link.stamp_ns(sim.time)] = sim.pose()
            sim.step(None, 'expert')
        # /tf_static was published before the probe subscribed: it is latched.
        assert wait_until(lambda: len(tf) == 25 and static, 20), (len(tf), len(static))
        for message in tf:
            [transform] = message.transforms
            assert (transform.header.frame_id, transform.child_frame_id) == ('odom', 'base_link')
            x, y, yaw = poses[stamp_ns(transform.header.stamp)]
            t, q = transform.transform.translation, transform.transform.rotation
            assert (t.x, t.y, t.z) == pytest.approx((x, y, 0.0))
            assert 2.0 * math.atan2(q.z, q.w) == pytest.approx(yaw)
        frames = {t.child_frame_id: t for t in static[-1].transforms}
        assert set(frames) == {camera_frame(camera.name) for camera in rig.cameras}
        for camera in rig.cameras:
            transform = frames[camera_frame(camera.name)]
            assert transform.header.frame_id == 'base_link'
            t, q = transform.transform.translation, transform.transform.rotation
            assert (t.x, t.y, t.z) == pytest.approx(tuple(camera.translation))
            assert (q.x, q.y, q.z, q.w) == pytest.approx(tuple(camera.rotation_xyzw))


def test_a_run_starts_as_a_normal_drive_not_an_emergency_stop():
    # The safety node's first tick comes with the first /clock: it must have the car's
    # odometry by then (start_clock), or it starts in EMERGENCY_STOP (odometry_timeout).
    sim = _sim()
    with RosProbe('sim_start_probe') as probe, \
            NodeProcess.ros_node('autovla_safety', 'safety_node',
                                 params={'use_sim_time': True}) as safety, \
            spinning_node('closed_loop_sim') as node:
        status = probe.collect(SafetyStatus, 'safety_status', RELIABLE_QOS)
        link = RosLink(node, sim, load_rig(default_rig_path()), CONTROL_STACK)
        assert wait_until(lambda: link.odometry.get_subscription_count() > 0
                          and node.count_publishers('drive_command') > 0
                          and probe.node.count_publishers('safety_status') > 0, 30), \
            safety.output()
        assert link.start_clock(30.0), safety.output()
        for _ in range(15):      # the loop's first 0.3 s: state, clock, the stack's command
            link.publish_state(sim)
            command, _, _ = link.control(sim)
            assert command is not None
            sim.step(None, 'expert')
        assert wait_until(lambda: len(status) >= 3, 10), safety.output()
        assert {s.mode for s in status} == {SafetyStatus.COMFORTABLE_STOP}, safety.output()
        assert 'EMERGENCY_STOP' not in safety.output()
