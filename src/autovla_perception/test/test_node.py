"""perception_node as a real process (one test in this process); inputs from a probe over DDS."""

import math
import time

from autovla_common.qos import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS, TF_QOS, TF_STATIC_QOS
from autovla_common.rig import load_rig
from autovla_common.ros_params import installed_params_file
from autovla_common.testing import NodeProcess, RosProbe, wait_until
from autovla_perception.node import PerceptionNode, RETRY_PERIOD_S
from builtin_interfaces.msg import Time
import cv2
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path
import numpy as np
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor, TimeoutException
from sensor_msgs.msg import CompressedImage
from tf2_msgs.msg import TFMessage
import yaml

from autovla_msgs.msg import DrivingCommand, DrivingObservation

RIG = load_rig(installed_params_file('autovla_perception', 'rigs/nuscenes.yaml'))
# Short history so the test warms up in 0.25 s: 2 frames at 4 Hz.
PARAMS = {'history_length': 2, 'history_rate_hz': 4.0, 'planning_rate_hz': 5.0}
JPEG = cv2.imencode('.jpg', np.full((900, 1600, 3), 120, np.uint8))[1].tobytes()


class Rig:
    """Publishes the six cameras and odometry at 12 Hz with probe-clock stamps."""

    def __init__(self, probe, topics=None, route_qos=LATCHED_QOS):
        self.probe = probe
        topics = topics or {camera.name: camera.topic for camera in RIG.cameras}
        self.cameras = {name: probe.publisher(CompressedImage, topic, SENSOR_QOS)
                        for name, topic in topics.items() if name.startswith('CAM_')}
        self.odometry = probe.publisher(Odometry, topics.get('odometry', 'odometry'), SENSOR_QOS)
        self.route = probe.publisher(Path, topics.get('route', 'route'), route_qos)
        self.stamps = []

    def wait_for_node(self):
        return all(self.probe.wait_for_subscribers(p, timeout=20)
                   for p in [*self.cameras.values(), self.odometry])

    def publish_route_turning_left(self):
        msg = Path()
        msg.header.frame_id = 'odom'
        for x, y in [(-10.0, 0.0), (10.0, 0.0), (20.0, 10.0), (20.0, 60.0)]:
            pose = PoseStamped()
            pose.pose.position.x, pose.pose.position.y = x, y
            msg.poses.append(pose)
        self.route.publish(msg)

    def tick(self, stamp=None, data=JPEG, broken=(), speed=5.0):
        stamp = stamp or self.probe.now()
        self.stamps.append(stamp)
        for name, publisher in self.cameras.items():
            msg = CompressedImage(format='jpeg')
            msg.header.stamp = stamp
            msg.header.frame_id = name.lower()
            msg.data = data[:len(data) // 3] if name in broken else data
            publisher.publish(msg)
        odometry = Odometry()
        odometry.header.stamp = stamp
        odometry.header.frame_id = 'odom'
        odometry.pose.pose.orientation.w = 1.0
        odometry.twist.twist.linear.x = speed
        self.odometry.publish(odometry)

    def run(self, seconds, until=None, **kwargs):
        """Publish at 12 Hz for ``seconds``, or until ``until()`` holds (then True)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.tick(**kwargs)
            time.sleep(1 / 12)
            if until is not None and until():
                return True
        return until is not None and until()


def counters(diagnostics):
    if not diagnostics:
        return {}
    return {kv.key: int(kv.value) for kv in diagnostics[-1].status[0].values
            if kv.value.isdigit()}


def test_six_compressed_cameras_become_an_observation():
    with RosProbe() as probe, NodeProcess.ros_node('autovla_perception', 'perception_node',
                                                   params=PARAMS) as node:
        observations = probe.collect(DrivingObservation, 'observation', RELIABLE_QOS)
        rig = Rig(probe)
        assert rig.wait_for_node(), node.output()
        rig.publish_route_turning_left()
        # Until an observation with a full 2-frame history arrives (a loaded CPU is slower).
        assert rig.run(15.0, until=lambda: len(observations) > 0), node.output()
        msg = observations[-1]
        assert msg.header.frame_id == 'base_link'
        assert msg.header.stamp in rig.stamps
        assert [c.name for c in msg.cameras] == RIG.names
        for camera in msg.cameras:
            assert not camera.missing and len(camera.frames) == 2
            assert camera.frames[-1].header.stamp == msg.header.stamp
            stamps = [f.header.stamp.sec + f.header.stamp.nanosec * 1e-9 for f in camera.frames]
            assert abs(stamps[1] - stamps[0] - 0.25) <= 0.06
            for frame in camera.frames:
                assert (frame.width, frame.height, frame.encoding) == (420, 224, 'rgb8')
                assert frame.step == 420 * 3 and len(frame.data) == 420 * 224 * 3
                assert abs(np.frombuffer(frame.data, np.uint8).mean() - 120) < 2
            assert camera.info.width == 420 and camera.info.height == 224
        front = msg.cameras[0]
        assert math.isclose(front.info.k[0], 1266.417203 * 420 / 1600, rel_tol=1e-9)
        assert math.isclose(front.extrinsics.position.x, 1.700791)
        assert math.isclose(msg.ego.speed, 5.0)
        assert msg.command.command == DrivingCommand.TURN_LEFT
        assert msg.command.source == DrivingCommand.SOURCE_ROUTE
        assert math.isclose(msg.route_points[1].x, 2.0)
        assert 'warming up' in node.output() and 'publishing observations' in node.output()


def test_bad_input_is_counted_and_the_node_recovers():
    with RosProbe() as probe, NodeProcess.ros_node('autovla_perception', 'perception_node',
                                                   params=PARAMS) as node:
        observations = probe.collect(DrivingObservation, 'observation', RELIABLE_QOS)
        diagnostics = probe.collect(DiagnosticArray, '/diagnostics', RELIABLE_QOS)
        rig = Rig(probe)
        assert rig.wait_for_node(), node.output()
        rig.run(0.8, broken=('CAM_BACK',))          # truncated JPEGs on one camera
        rig.run(0.2, speed=float('nan'))            # NaN odometry
        assert wait_until(lambda: counters(diagnostics).get('corrupt_image', 0) > 0, 5)
        assert wait_until(lambda: counters(diagnostics).get('bad_odometry', 0) > 0, 5)
        assert node.process.poll() is None, node.output()
        assert any(d.status[0].level == DiagnosticStatus.WARN for d in diagnostics)
        before = len(observations)
        assert rig.run(15.0, until=lambda: len(observations) > before), node.output()
        assert all(not c.missing for c in observations[-1].cameras)
        # A bag loop: stamps jump 100 s back; the old timeline is dropped, observations resume.
        loop_start = observations[-1].header.stamp.sec - 100
        looped_ticks = iter(range(12 * 60))

        def looped_observation():
            # The looped bag keeps playing (at 12 Hz) until perception publishes from it.
            n = next(looped_ticks)
            stamp = probe.now()
            stamp.sec = loop_start + n // 12
            stamp.nanosec = (n % 12) * 83_000_000
            rig.tick(stamp)
            return observations[-1].header.stamp.sec < loop_start + 60
        assert wait_until(looped_observation, 30, period=1 / 12), node.output()
        assert wait_until(lambda: counters(diagnostics).get('stamp_backwards', 0) > 0, 5)
        assert 'stamps went backwards' in node.output() and 'old timeline dropped' in node.output()
        assert node.stop() == 0, node.output()


@pytest.mark.parametrize('route_qos', [RELIABLE_QOS, LATCHED_QOS], ids=['volatile', 'latched'])
def test_a_topic_map_renames_every_input_and_the_route_comes_from_either_publisher(
        tmp_path, route_qos):
    topics = {name: f'/{name}/image_raw/compressed' for name in RIG.names}
    topics.update(odometry='/odom', route='/route')
    topic_map = tmp_path / 'map.yaml'
    topic_map.write_text(yaml.safe_dump({'cameras': {n: topics[n] for n in RIG.names},
                                         'odometry': '/odom', 'route': '/route'}))
    with RosProbe() as probe, NodeProcess.ros_node(
            'autovla_perception', 'perception_node',
            params={**PARAMS, 'topic_map': str(topic_map)}) as node:
        observations = probe.collect(DrivingObservation, 'observation', RELIABLE_QOS)
        rig = Rig(probe, topics, route_qos)
        assert rig.wait_for_node(), node.output()
        # A volatile publisher (nav2 /plan, ros2 bag play) must match too.
        assert probe.wait_for_subscribers(rig.route, timeout=20), node.output()
        rig.publish_route_turning_left()

        def routed():
            rig.tick()      # cameras keep coming until an observation carries the route
            return observations and observations[-1].command.source == \
                DrivingCommand.SOURCE_ROUTE
        assert wait_until(routed, 20, period=1 / 12), node.output()
        assert observations[-1].command.command == DrivingCommand.TURN_LEFT


def test_diagnostics_say_why_sparse_keyframes_give_no_observation():
    params = {**PARAMS, 'allow_recorded_spacing': False}
    with RosProbe() as probe, NodeProcess.ros_node('autovla_perception', 'perception_node',
                                                   params=params) as node:
        diagnostics = probe.collect(DiagnosticArray, '/diagnostics', RELIABLE_QOS)
        rig = Rig(probe)
        assert rig.wait_for_node(), node.output()
        stamps = iter(range(probe.node.get_clock().now().nanoseconds, 2**62, 1_000_000_000))

        def said():
            # Keyframes 1 s apart (stamps) until perception says why; the history wants 0.25 s.
            stamp = next(stamps)
            rig.tick(stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9))
            return diagnostics and 'no observation yet: CAM_FRONT frames are 1.00 s apart' \
                in diagnostics[-1].status[0].message
        assert wait_until(said, 30, period=0.1), [d.status[0].message for d in diagnostics[-3:]]
        message = diagnostics[-1].status[0].message
        assert diagnostics[-1].status[0].level == DiagnosticStatus.WARN
        assert 'one every 0.25 s' in message and 'allow_recorded_spacing: true' in message
        assert 'CAM_FRONT frames are 1.00 s apart' in node.output()


def test_tf_comes_from_odometry_and_the_rig_and_can_be_switched_off():
    with RosProbe() as probe, NodeProcess.ros_node('autovla_perception', 'perception_node',
                                                   params=PARAMS) as node:
        tf = probe.collect(TFMessage, '/tf', TF_QOS)
        diagnostics = probe.collect(DiagnosticArray, '/diagnostics', RELIABLE_QOS)
        rig = Rig(probe)
        assert rig.wait_for_node(), node.output()
        # Published at start-up, before this reader existed: latched.
        static = probe.collect(TFMessage, '/tf_static', TF_STATIC_QOS)
        assert wait_until(lambda: static, timeout=10), node.output()
        frames = {t.child_frame_id: t for t in static[0].transforms}
        assert sorted(frames) == sorted(f'{name}_optical' for name in RIG.names)
        front = frames['CAM_FRONT_optical']
        assert front.header.frame_id == 'base_link'
        assert math.isclose(front.transform.translation.x, RIG.camera('CAM_FRONT').translation[0])
        odometry = Odometry()
        odometry.header.stamp = probe.now()
        odometry.header.frame_id = 'odom'
        odometry.pose.pose.position.x, odometry.pose.pose.position.y = 3.0, 4.0
        odometry.pose.pose.orientation.z = math.sin(0.25)
        odometry.pose.pose.orientation.w = math.cos(0.25)
        rig.odometry.publish(odometry)
        assert wait_until(lambda: tf, timeout=10), node.output()
        [transform] = tf[0].transforms
        assert (transform.header.frame_id, transform.child_frame_id) == ('odom', 'base_link')
        assert transform.header.stamp == odometry.header.stamp
        assert (transform.transform.translation.x, transform.transform.translation.y) == (3.0, 4.0)
        assert math.isclose(transform.transform.rotation.z, math.sin(0.25))
        # A zero quaternion has no orientation: no transform, counted.
        broken = Odometry()
        broken.header.stamp = probe.now()
        broken.header.frame_id = 'odom'
        broken.pose.pose.orientation.w = 0.0   # the message default is the identity
        rig.odometry.publish(broken)
        assert wait_until(lambda: counters(diagnostics).get('bad_odometry_tf') == 1,
                          timeout=10), (counters(diagnostics), node.output())
        assert len(tf) == 1
    off = {**PARAMS, 'publish_odom_tf': False, 'publish_camera_frames': False}
    with RosProbe() as probe, NodeProcess.ros_node('autovla_perception', 'perception_node',
                                                   params=off) as node:
        rig = Rig(probe)
        assert rig.wait_for_node(), node.output()
        assert probe.node.count_publishers('/tf') == 0
        assert probe.node.count_publishers('/tf_static') == 0


def stamp_at(seconds):
    sec, nanosec = divmod(int(round(seconds * 1e9)), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def test_a_second_replay_keeps_the_cameras_that_arrived_before_another_saw_stamps_go_back():
    """Issue 10: a second replay into the same running stack timed out frame 0.

    The new replay's first cameras arrive (one of them sees its stamp go back and restarts the
    timeline), then a last frame of the old timeline on CAM_BACK delivered late, then
    CAM_BACK's first new frame: the restart that one causes wiped the cameras that had just
    arrived, so the new replay's first anchor frame was never published.
    """
    one_frame = {**PARAMS, 'history_length': 1}
    with RosProbe() as probe, NodeProcess.ros_node('autovla_perception', 'perception_node',
                                                   params=one_frame) as node:
        observations = probe.collect(DrivingObservation, 'observation', RELIABLE_QOS)
        diagnostics = probe.collect(DiagnosticArray, '/diagnostics', RELIABLE_QOS)
        rig = Rig(probe)
        assert rig.wait_for_node(), node.output()
        assert rig.run(15.0, until=lambda: len(observations) > 0), node.output()

        def backwards():
            return counters(diagnostics).get('stamp_backwards', 0)

        newest = rig.stamps[-1].sec + rig.stamps[-1].nanosec * 1e-9
        start = newest - 100.0
        cameras = rig.cameras
        for name in ('CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT', 'CAM_BACK_LEFT', 'CAM_BACK_RIGHT'):
            cameras[name].publish(image(name, stamp_at(start)))
        assert wait_until(lambda: backwards() == 1, 10), (counters(diagnostics), node.output())
        cameras['CAM_BACK'].publish(image('CAM_BACK', stamp_at(newest + 1 / 12)))   # old, late
        cameras['CAM_BACK'].publish(image('CAM_BACK', stamp_at(start)))
        assert wait_until(lambda: backwards() == 2, 10), (counters(diagnostics), node.output())
        odometry = Odometry()
        odometry.header.stamp, odometry.header.frame_id = stamp_at(start), 'odom'
        odometry.pose.pose.orientation.w = 1.0
        rig.odometry.publish(odometry)
        assert wait_until(lambda: backwards() == 3, 10), (counters(diagnostics), node.output())
        cameras['CAM_FRONT'].publish(image('CAM_FRONT', stamp_at(start)))
        assert wait_until(lambda: observations[-1].header.stamp == stamp_at(start), 10), \
            (counters(diagnostics), node.output())
        assert [c.missing for c in observations[-1].cameras] == [False] * len(RIG.cameras)


def image(camera, stamp):
    msg = CompressedImage(format='jpeg', data=JPEG)
    msg.header.stamp, msg.header.frame_id = stamp, camera.lower()
    return msg


def test_a_frame_completing_the_set_while_the_retry_timer_is_due_does_not_crash_the_executor():
    """CI, issue 14's stop: ``autovla_bringup --single-process`` died with rclpy's RCLError
    'timer is canceled'.

    Its multi-threaded executor had found the perception node's retry timer ready, then a
    camera frame that completed the set was handled first and cancelled the timer; taking
    the timer raised and stopped the whole stack. Here that order is forced in one thread:
    the timer's handler is held back while the frames are handled, then run.
    """
    # The longest max_wait_s: the node waits for the late cameras while they are published.
    rclpy.init(args=['--ros-args', '-p', 'history_length:=1', '-p', 'max_wait_s:=2.0',
                     '-r', '__ns:=/retry_race'])
    try:
        node = PerceptionNode()
        source = rclpy.create_node('retry_race_source', namespace='/retry_race')
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.add_node(source)
        rig = Rig(_SameContextProbe(source))
        held = []

        def spin_until(condition, timeout=20.0):
            end = time.monotonic() + timeout
            while not condition() and time.monotonic() < end:
                try:
                    handler, entity, _ = executor.wait_for_ready_callbacks(timeout_sec=0.1)
                except TimeoutException:   # nothing ready yet
                    continue
                if handler in held:
                    continue   # the executor offers its unfinished tasks again: not yet
                if (not held and entity in node.timers
                        and entity.timer_period_ns == int(RETRY_PERIOD_S * 1e9)
                        and node._waiting):
                    held.append(handler)   # the executor found it ready; take it later
                else:
                    handler()
                    handler.result()
            return condition()

        assert spin_until(lambda: all(p.get_subscription_count() for p in rig.cameras.values())
                          and rig.odometry.get_subscription_count())
        stamp = source.get_clock().now().to_msg()
        odometry = Odometry()
        odometry.header.stamp, odometry.header.frame_id = stamp, 'odom'
        odometry.pose.pose.orientation.w = 1.0
        rig.odometry.publish(odometry)
        rig.cameras['CAM_FRONT'].publish(image('CAM_FRONT', stamp))
        assert spin_until(lambda: held), 'the anchor frame alone never made the node wait'
        for name, publisher in rig.cameras.items():
            if name != 'CAM_FRONT':
                publisher.publish(image(name, stamp))
        assert spin_until(lambda: node.published == 1)
        held[0]()
        held[0].result()   # raised RCLError 'timer is canceled'
        executor.shutdown()
        source.destroy_node()
        node.destroy_node()
    finally:
        rclpy.try_shutdown()


class _SameContextProbe:
    """What ``Rig`` needs of a probe, from a node spun by the test's own executor."""

    def __init__(self, node):
        self.node = node

    def publisher(self, msg_type, topic, qos):
        return self.node.create_publisher(msg_type, topic, qos)
