"""Read any rosbag2 (sqlite3 or MCAP) into raw messages and split it into lock-step frames."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from autovla_scenarios.typestore import typestore
from rosbags.rosbag2 import Reader


@dataclass(frozen=True)
class BagMessage:
    """One serialized message: topic, ROS type name, log time (ns), CDR bytes."""

    topic: str
    msgtype: str
    stamp: int
    data: bytes

    def decode(self):
        """Deserialize with the shared typestore."""
        return typestore().deserialize_cdr(self.data, self.msgtype)


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
        messages = [BagMessage(c.topic, c.msgtype, stamp, bytes(data))
                    for c, stamp, data in reader.messages(connections=connections)]
    messages.sort(key=lambda m: m.stamp)    # stable: same-stamp messages keep bag order
    return messages


def topic_types(messages: Iterable[BagMessage]) -> Dict[str, str]:
    """Topic -> type name of the messages."""
    return {m.topic: m.msgtype for m in messages}


def split_frames(messages: List[BagMessage], anchor_topic: str) -> List[Frame]:
    """Group messages into frames: everything up to each anchor stamp, inclusive.

    Messages stamped at the anchor stamp (the other cameras of the same capture) belong to
    that frame even when the bag stores them after the anchor image.
    """
    anchors = sorted({m.stamp for m in messages if m.topic == anchor_topic})
    if not anchors:
        raise ValueError(f'anchor topic {anchor_topic!r} has no messages in the bag')
    frames = [Frame(stamp) for stamp in anchors]
    trailing = Frame(None)
    index = 0
    for message in messages:
        while index < len(anchors) and message.stamp > anchors[index]:
            index += 1
        frame = frames[index] if index < len(anchors) else trailing
        if message.topic == anchor_topic and message.stamp == frame.anchor_stamp:
            frame.anchor.append(message)
        else:
            frame.messages.append(message)
    return frames + ([trailing] if trailing.messages else [])
