"""The rclpy side: publish bag messages as raw CDR with /clock, record outputs into MCAP.

Replay modes:
- ``play_rate``: like ``ros2 bag play``: messages paced by their log times, scaled by a rate.
- ``play_lockstep``: publish one frame (all messages up to an anchor-camera stamp), then wait
  until the stack's output topic carries a message stamped at or after that anchor stamp (or
  a timeout), then advance. The outcome does not depend on how loaded the machine is.
"""

from dataclasses import dataclass
import importlib
from pathlib import Path
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

from autovla_common.frames import TF_STATIC_TOPIC
from autovla_common.qos import LATCHED_QOS
from autovla_scenarios.typestore import (
    BAG_VERSION,
    LATCHED_BAG_QOS,
    STORAGE_PLUGINS,
    typestore,
)
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from rosbags.rosbag2 import Writer
from rosgraph_msgs.msg import Clock

from autovla_replay.bagdata import BagMessage, Frame

# Replay publishers are RELIABLE (they match BEST_EFFORT subscribers too) with room for a
# burst of one frame; the route and /tf_static are latched like their live publishers.
REPLAY_QOS = QoSProfile(depth=20, history=HistoryPolicy.KEEP_LAST,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
RECORD_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
# /tf_static is published once at start: only a transient-local reader gets it later.
RECORD_LATCHED_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                                reliability=ReliabilityPolicy.RELIABLE,
                                durability=DurabilityPolicy.TRANSIENT_LOCAL)
FRAME_CONTEXT_SETTLE_S = 0.05   # s between a lock-step frame's context and its anchor image
# Lock-step paces large messages (camera frames) at this rate. Cameras are BEST_EFFORT: a
# burst of full-size JPEGs overruns the DDS transport buffers and frames are lost silently
# (seen with six 1600x900 nuScenes JPEGs per frame: 2-3 cameras missing in every frame).
LOCKSTEP_BYTES_PER_S = 10e6
LARGE_MESSAGE_BYTES = 32_000
DISCOVERY_SETTLE_S = 1.0   # s after matching before the first message (see wait_for_stack)
WAITING_REPORT_S = 5.0     # s between "still waiting for ..." lines
DEFAULT_RECORD_TOPICS = {
    'planned_trajectory': 'autovla_msgs/msg/PlannedTrajectory',
    'explanation': 'std_msgs/msg/String',
    'safety_status': 'autovla_msgs/msg/SafetyStatus',
    'drive_command': 'autovla_msgs/msg/DriveCommand',
}


def ros_type(type_name: str):
    """Return the rclpy message class of 'pkg/msg/Name'."""
    package, _, name = type_name.split('/')
    try:
        return getattr(importlib.import_module(f'{package}.msg'), name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f'message type {type_name} is not importable: {error}') from error


def stamp_of(msg) -> int:
    """header.stamp of an rclpy message in ns."""
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


@dataclass
class FrameOutcome:
    """What happened to one lock-step frame."""

    index: int
    anchor_stamp: int
    waited: bool                  # False during warm-up
    answered: bool                # the output for this frame arrived before the timeout
    latency_ms: Optional[float]   # publish of the frame -> arrival of its output


class BagReplayer:
    """Publishes bag messages on ``node`` (relative topics resolve in its namespace)."""

    def __init__(self, node: Node, types: Dict[str, str], remap: Optional[Dict[str, str]] = None,
                 latched: Sequence[str] = ()):
        """Create a publisher per bag topic; ``latched`` topics (the route) are latched.

        A latched (TRANSIENT_LOCAL) publisher also matches volatile subscribers, so the route
        reaches a stack subscribed either way, and one that subscribes late.
        """
        self.node = node
        self.remap = remap or {}
        self.clock = node.create_publisher(Clock, '/clock', 10)
        latched = set(latched) | {TF_STATIC_TOPIC}
        self.publishers = {
            topic: node.create_publisher(ros_type(type_name), self.remap.get(topic, topic),
                                         LATCHED_QOS if topic in latched else REPLAY_QOS)
            for topic, type_name in types.items()}
        self._last_clock = -1
        self._output_topic = ''          # set by watch_output (lock-step)
        self._output_stamp = -1
        self._output_event = threading.Condition()

    def wait_for_stack(self, input_topics: Sequence[str], timeout: float,
                       log: Callable[[str], None] = print) -> List[str]:
        """Wait until the stack listens and (in lock-step) can answer; return what is missing.

        Ready means: every replayed topic among ``input_topics`` (the topic map's inputs, as
        named in the bag) has a subscriber, and the watched output topic has a publisher (a
        planner creates it only once its model is loaded). Starting earlier would lose the
        first frames to DDS discovery and leave histories incomplete. While waiting, ``log``
        hears what is still missing every few seconds. Discovery is not symmetric (our writer
        can match a reader before that reader accepts our data), so a short settle follows.
        """
        topics = sorted(topic for topic in self.publishers if topic in input_topics)
        started = time.monotonic()
        reported = started
        while True:
            missing = [f'{self.remap.get(topic, topic)} (no subscriber)' for topic in topics
                       if self.publishers[topic].get_subscription_count() == 0]
            if self._output_topic and self.node.count_publishers(self._output_topic) == 0:
                missing.append(f'{self._output_topic} (no publisher)')
            now = time.monotonic()
            if not missing or now - started >= timeout:
                time.sleep(DISCOVERY_SETTLE_S)
                return missing
            if now - reported >= WAITING_REPORT_S:
                reported = now
                log(f'waiting {now - started:.0f} s for the stack: {", ".join(missing)}')
            time.sleep(0.05)

    def publish(self, message: BagMessage) -> None:
        """Advance /clock to the message's log time and publish its raw CDR bytes."""
        if message.stamp > self._last_clock:
            self._last_clock = message.stamp
            self.clock.publish(Clock(clock=Time(nanoseconds=message.stamp).to_msg()))
        self.publishers[message.topic].publish(message.data)

    def play_rate(self, messages: Sequence[BagMessage], rate: float = 1.0) -> None:
        """Publish ``messages`` paced by their log times divided by ``rate``."""
        if rate <= 0:
            raise ValueError('rate must be positive')
        if not messages:
            return
        start_wall, start_bag = time.monotonic(), messages[0].stamp
        for message in messages:
            delay = start_wall + (message.stamp - start_bag) / 1e9 / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.publish(message)

    def watch_output(self, topic: str, type_name: str) -> None:
        """Subscribe to the stack output that ends a lock-step frame."""
        self._output_topic = topic
        self.node.create_subscription(ros_type(type_name), topic, self._on_output, RECORD_QOS)

    def _on_output(self, msg) -> None:
        with self._output_event:
            self._output_stamp = max(self._output_stamp, stamp_of(msg))
            self._output_event.notify_all()

    def play_lockstep(self, frames: Sequence[Frame], timeout: float, warmup_frames: int = 0,
                      warmup_pause: float = 0.2,
                      on_frame: Optional[Callable[[FrameOutcome], None]] = None
                      ) -> List[FrameOutcome]:
        """Publish frame by frame, waiting for the output of each (needs watch_output)."""
        outcomes = []
        for index, frame in enumerate(frames):
            for message in frame.messages:
                self.publish(message)
                if len(message.data) > LARGE_MESSAGE_BYTES:
                    time.sleep(len(message.data) / LOCKSTEP_BYTES_PER_S)
            if frame.anchor_stamp is None:
                continue
            # Let the context (odometry, command, other cameras) land before the anchor image
            # completes the frame, so the observation never depends on callback order.
            time.sleep(FRAME_CONTEXT_SETTLE_S)
            for message in frame.anchor:
                self.publish(message)
            published = time.monotonic()
            waited = index >= warmup_frames
            with self._output_event:
                answered = self._output_event.wait_for(
                    lambda: self._output_stamp >= frame.anchor_stamp,
                    timeout if waited else warmup_pause)
            latency = (time.monotonic() - published) * 1e3 if answered else None
            outcome = FrameOutcome(index, frame.anchor_stamp, waited, answered, latency)
            outcomes.append(outcome)
            if on_frame:
                on_frame(outcome)
        return outcomes


class OutputRecorder:
    """Raw subscriptions to the stack's outputs, written as CDR into a rosbag2 (MCAP)."""

    def __init__(self, node: Node, path: Path, topics: Optional[Dict[str, str]] = None,
                 storage: str = 'mcap'):
        self.node = node
        self.topics = dict(topics or DEFAULT_RECORD_TOPICS)
        path = Path(path)
        if path.exists():
            raise FileExistsError(f'{path} exists; choose a new output bag path')
        self._writer = Writer(path, version=BAG_VERSION, storage_plugin=STORAGE_PLUGINS[storage])
        self._writer.open()
        self._lock = threading.Lock()
        self.counts = {topic: 0 for topic in self.topics}
        self._connections = {}
        for topic, type_name in self.topics.items():
            latched = topic == TF_STATIC_TOPIC
            self._connections[topic] = self._writer.add_connection(
                topic, type_name, typestore=typestore(),
                offered_qos_profiles=[LATCHED_BAG_QOS] if latched else [])
            node.create_subscription(ros_type(type_name), topic,
                                     lambda data, topic=topic: self._on_message(topic, data),
                                     RECORD_LATCHED_QOS if latched else RECORD_QOS, raw=True)

    def _on_message(self, topic: str, data: bytes) -> None:
        now = time.time_ns()
        with self._lock:
            if self._writer is not None:
                self._writer.write(self._connections[topic], now, data)
                self.counts[topic] += 1

    def close(self) -> None:
        """Finish the bag (idempotent)."""
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
