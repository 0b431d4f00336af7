"""perception_node as a real process; cameras, odometry and route from a probe over DDS."""

import math
import time

from autovla_common.qos import LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from autovla_common.rig import load_rig
from autovla_common.ros_params import installed_params_file
from autovla_common.testing import NodeProcess, RosProbe, wait_until
import cv2
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path
import numpy as np
from sensor_msgs.msg import CompressedImage

from autovla_msgs.msg import DrivingCommand, DrivingObservation

RIG = load_rig(installed_params_file('autovla_perception', 'rigs/nuscenes.yaml'))
# Short history so the test warms up in 0.25 s: 2 frames at 4 Hz.
PARAMS = {'history_length': 2, 'history_rate_hz': 4.0, 'planning_rate_hz': 5.0}
JPEG = cv2.imencode('.jpg', np.full((900, 1600, 3), 120, np.uint8))[1].tobytes()


class Rig:
    """Publishes the six cameras and odometry at 12 Hz with probe-clock stamps."""

    def __init__(self, probe):
        self.probe = probe
        self.cameras = {camera.name: probe.publisher(CompressedImage, camera.topic, SENSOR_QOS)
                        for camera in RIG.cameras}
        self.odometry = probe.publisher(Odometry, 'odometry', SENSOR_QOS)
        self.route = probe.publisher(Path, 'route', LATCHED_QOS)
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
    return {kv.key: int(kv.value) for kv in diagnostics[-1].status[0].values}


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
        # A bag loop: stamps jump 100 s back; buffers reset, then observations resume.
        loop_start = observations[-1].header.stamp.sec - 100
        for n in range(18):
            stamp = probe.now()
            stamp.sec = loop_start + n // 12
            stamp.nanosec = (n % 12) * 83_000_000
            rig.tick(stamp)
            time.sleep(1 / 12)
        assert wait_until(lambda: counters(diagnostics).get('stamp_backwards', 0) > 0, 5)
        assert wait_until(lambda: observations[-1].header.stamp.sec < loop_start + 2, 3)
        assert 'stamp' in node.output() and 'reset' in node.output()
        assert node.stop() == 0, node.output()
