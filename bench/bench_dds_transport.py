#!/usr/bin/env python3
"""Cost of moving one DrivingObservation (6 cameras x 4 frames, 420x224 rgb8) between processes.

value:    median one-way latency publish -> callback in another process over Fast DDS (ms)
baseline: median CDR serialize + deserialize of the same message in one process (ms), i.e. the
          copying work any transport has to do at least once.
Both measured in this run, one after the other.
"""

import json
import statistics
import subprocess
import sys
import textwrap
import time

from autovla_common.bench import write_result
from autovla_common.qos import RELIABLE_QOS
from autovla_common.testing import RosProbe, wait_until
import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image

from autovla_msgs.msg import CameraHistory, DrivingObservation

CAMERAS, FRAMES, WIDTH, HEIGHT = 6, 4, 420, 224
MESSAGES = 30

RECEIVER = textwrap.dedent("""
    import json, sys, time
    import rclpy
    from autovla_common.qos import RELIABLE_QOS
    from autovla_msgs.msg import DrivingObservation
    rclpy.init()
    node = rclpy.create_node('bench_receiver')
    latencies = []

    def on_observation(msg):
        sent = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        latencies.append((time.time() - sent) * 1e3)
        if len(latencies) >= int(sys.argv[1]):
            print(json.dumps(latencies), flush=True)
            raise SystemExit(0)

    node.create_subscription(DrivingObservation, 'bench_observation', on_observation,
                             RELIABLE_QOS)
    rclpy.spin(node)
""")


def make_observation() -> DrivingObservation:
    """Build an observation of the size the planner receives from perception by default."""
    rng = np.random.default_rng(0)
    observation = DrivingObservation()
    for index in range(CAMERAS):
        history = CameraHistory(name=f'CAM_{index}')
        for _ in range(FRAMES):
            history.frames.append(Image(
                height=HEIGHT, width=WIDTH, encoding='rgb8', step=WIDTH * 3,
                data=rng.integers(0, 255, WIDTH * HEIGHT * 3, dtype=np.uint8).tobytes()))
        observation.cameras.append(history)
    return observation


def main():
    """Measure both figures and write the record."""
    observation = make_observation()
    megabytes = CAMERAS * FRAMES * WIDTH * HEIGHT * 3 / 1e6

    copy_ms = []
    for _ in range(MESSAGES):
        start = time.perf_counter()
        deserialize_message(serialize_message(observation), DrivingObservation)
        copy_ms.append((time.perf_counter() - start) * 1e3)

    receiver = subprocess.Popen([sys.executable, '-c', RECEIVER, str(MESSAGES)],
                                stdout=subprocess.PIPE, text=True)
    with RosProbe('bench_sender') as probe:
        publisher = probe.publisher(DrivingObservation, 'bench_observation', RELIABLE_QOS)
        if not probe.wait_for_subscribers(publisher, timeout=30):
            receiver.kill()
            raise SystemExit('receiver never subscribed')
        for _ in range(MESSAGES + 5):
            if receiver.poll() is not None:
                break
            now = time.time()
            observation.header.stamp.sec = int(now)
            observation.header.stamp.nanosec = int((now % 1) * 1e9)
            publisher.publish(observation)
            time.sleep(0.25)  # well below the 2 Hz the stack runs at: no queueing
        wait_until(lambda: receiver.poll() is not None, timeout=30)
    output = receiver.communicate(timeout=5)[0] if receiver.poll() is not None else ''
    if not output.strip():
        receiver.kill()
        raise SystemExit('receiver returned no latencies')
    dds_ms = json.loads(output.strip().splitlines()[-1])

    value, baseline = statistics.median(dds_ms), statistics.median(copy_ms)
    write_result(
        'dds_observation_transport', 'ms', value, baseline,
        f'{megabytes:.1f} MB observation: {value:.1f} ms publish->callback across processes '
        f'(p90 {np.percentile(dds_ms, 90):.1f}) vs {baseline:.1f} ms in-process '
        f'serialize+deserialize',
        megabytes=megabytes, messages=len(dds_ms), dds_p90_ms=float(np.percentile(dds_ms, 90)))


if __name__ == '__main__':
    main()
