"""Read any rosbag2 (sqlite3 or MCAP) into raw messages and split it into lock-step frames."""

from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
import struct
from typing import Collection, Dict, Iterable, List, Optional

from autovla_scenarios.typestore import typestore
from rosbags.rosbag2 import Reader


@dataclass(frozen=True)
class BagMessage:
    """One serialized message: topic, ROS type name, log time (ns), CDR bytes."""

    topic: str
    msgtype: str
    stamp: int
    data: bytes
    header_stamp: Optional[int] = None   # ns, header.stamp of stamped message types

    def decode(self):
        """Deserialize with the shared typestore."""
        return typestore().deserialize_cdr(self.data, self.msgtype)

    @property
    def capture_stamp(self) -> int:
        """When the data was captured: header.stamp when set, else the log time."""
        return self.header_stamp if self.header_stamp else self.stamp


def header_stamp(msgtype: str, data: bytes) -> Optional[int]:
    """header.stamp (ns) read from the CDR bytes of a type whose first field is a Header."""
    fields = typestore().fielddefs.get(msgtype)
    if not fields or not fields[1] or len(data) < 12:
        return None
    name, (_, type_name) = fields[1][0]
    if name != 'header' or type_name != 'std_msgs/msg/Header':
        return None
    # 4-byte encapsulation header (byte 1: 0 big-, 1 little-endian), then sec, nanosec.
    sec, nanosec = struct.unpack_from('<iI' if data[1] else '>iI', data, 4)
    return sec * 1_000_000_000 + nanosec


@dataclass
class Frame:
    """Messages up to and including one anchor-camera stamp (all cameras of that stamp).

    ``anchor`` holds the anchor camera's message(s) of that stamp and ``messages`` everything
    else: a lock-step replay sends the context first and the anchor image last, because the
    anchor image is what completes an observation in the perception node.
    """

    anchor_stamp: Optional[int]          # None for the messages after the last anchor
    messages: List[BagMessage] = field(default_factory=list)
    anchor: List[BagMessage] = field(default_factory=list)


def read_messages(path: Path, topics: Optional[Iterable[str]] = None) -> List[BagMessage]:
    """All messages of the bag at ``path`` (optionally only ``topics``) in log-time order."""
    wanted = set(topics) if topics is not None else None
    with Reader(Path(path)) as reader:
        connections = [c for c in reader.connections if wanted is None or c.topic in wanted]
        if not connections:     # rosbags reads every topic when given no connection
            return []
        messages = [BagMessage(c.topic, c.msgtype, stamp, bytes(data),
                               header_stamp(c.msgtype, data))
                    for c, stamp, data in reader.messages(connections=connections)]
    messages.sort(key=lambda m: m.stamp)    # stable: same-stamp messages keep bag order
    return messages


def topic_types(messages: Iterable[BagMessage]) -> Dict[str, str]:
    """Topic -> type name of the messages."""
    return {m.topic: m.msgtype for m in messages}


def split_frames(messages: List[BagMessage], anchor_topic: str,
                 camera_topics: Collection[str] = (), tolerance_ns: int = 0) -> List[Frame]:
    """Group messages into frames around each anchor-camera capture, by capture stamp.

    A frame holds everything captured up to its anchor stamp, and the frames of
    ``camera_topics`` captured up to ``tolerance_ns`` after it (cameras are triggered a few
    ms apart, and a recorder logs them in arrival order, so log time would split one
    capture over two frames). Messages without a header stamp go by log time.
    """
    anchors = sorted({m.capture_stamp for m in messages if m.topic == anchor_topic})
    if not anchors:
        raise ValueError(f'anchor topic {anchor_topic!r} has no messages in the bag '
                         f'(topics: {", ".join(sorted({m.topic for m in messages}))})')
    frames = [Frame(stamp) for stamp in anchors]
    trailing = Frame(None)
    for message in messages:
        stamp = message.capture_stamp
        if message.topic in camera_topics and message.topic != anchor_topic:
            stamp -= tolerance_ns
        index = bisect_left(anchors, stamp)
        frame = frames[index] if index < len(anchors) else trailing
        if message.topic == anchor_topic and message.capture_stamp == frame.anchor_stamp:
            frame.anchor.append(message)
        else:
            frame.messages.append(message)
    return frames + ([trailing] if trailing.messages else [])
