"""Write a rosbag2 (MCAP) laid out the way dataset recordings are, from JPEG frames.

What real recordings look like, and generated scenarios do not: foreign topic names (from a
topic map), cameras captured a few ms apart, keyframes seconds apart, odometry at 50 Hz,
a route from a plain (volatile) publisher, and messages logged in arrival order (a little
after capture). Used by tools/make_nuscenes_bag.py for real frames and by the tests for
rendered ones.
"""

from dataclasses import dataclass
import math
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

from autovla_common.rig import CameraRig
from autovla_common.topic_map import TopicMap
from autovla_scenarios.catalogue import make_scenario
from autovla_scenarios.render import Renderer, scene_ground
from autovla_scenarios.typestore import BAG_VERSION, STORAGE_PLUGINS, typestore
from autovla_scenarios.world import simulate_expert
import cv2
from rosbags.rosbag2 import Writer

from autovla_scenarios import messages

# (t seconds from the first keyframe) -> (x, y, yaw, speed, yaw rate) in odom.
Motion = Callable[[float], Tuple[float, float, float, float, float]]


@dataclass(frozen=True)
class Keyframe:
    """One capture of every camera: its stamp and each camera's JPEG and offset (ns)."""

    stamp_ns: int
    jpegs: Dict[str, bytes]
    offsets_ns: Dict[str, int]


def straight(speed: float) -> Motion:
    """Constant speed along x from the origin."""
    return lambda t: (speed * t, 0.0, 0.0, speed, 0.0)


def write_recording(path: Path, topic_map: TopicMap, keyframes: Sequence[Keyframe],
                    motion: Motion, odometry_rate_hz: float = 50.0,
                    future_s: float = 5.5, route_length_m: float = 200.0,
                    log_delay_ns: int = 20_000_000) -> Dict[str, int]:
    """Write the bag at ``path``; return message counts per topic.

    Odometry covers 0.5 s before the first keyframe to ``future_s`` after the last (the
    expert of the last frame). The route follows ``motion`` and is logged once at the start.
    """
    if not keyframes:
        raise ValueError('no keyframes to write')
    start = keyframes[0].stamp_ns
    events: List[Tuple[int, str, object]] = []   # (log time, topic, message)
    route = [(start, *motion(s)[:3]) for s in _route_times(motion, route_length_m)]
    if topic_map.route:
        events.append((start - 500_000_000, topic_map.route,
                       messages.path(start, 'odom', route)))
    end = keyframes[-1].stamp_ns + int(future_s * 1e9)
    step = int(round(1e9 / odometry_rate_hz))
    for stamp in range(start - 500_000_000, end + 1, step):
        x, y, yaw, speed, yaw_rate = motion((stamp - start) / 1e9)
        events.append((stamp + 2_000_000, topic_map.odometry,
                       messages.odometry(stamp, x, y, yaw, speed, yaw_rate)))
    for keyframe in keyframes:
        for camera, jpeg in keyframe.jpegs.items():
            stamp = keyframe.stamp_ns + keyframe.offsets_ns.get(camera, 0)
            events.append((stamp + log_delay_ns, topic_map.camera(camera).image,
                           messages.compressed_image(stamp, f'{camera}_optical', jpeg)))
    events.sort(key=lambda event: event[0])
    counts: Dict[str, int] = {}
    with Writer(Path(path), version=BAG_VERSION,
                storage_plugin=STORAGE_PLUGINS['mcap']) as writer:
        connections = {}
        for log_time, topic, message in events:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, message.__msgtype__,
                                                           typestore=typestore())
            writer.write(connections[topic], log_time,
                         typestore().serialize_cdr(message, message.__msgtype__))
            counts[topic] = counts.get(topic, 0) + 1
    return counts


def _route_times(motion: Motion, length_m: float) -> List[float]:
    """Return times at which ``motion`` is about every 2 m along its first ``length_m``."""
    speed = max(abs(motion(0.0)[3]), 0.5)
    count = int(math.ceil(length_m / 2.0))
    return [k * 2.0 / speed for k in range(count + 1)]


def rendered_recording(path: Path, topic_map: TopicMap, rig: CameraRig, spacing_s: float,
                       count: int, offsets_ms: Dict[str, int], scenario: str = 'curve'
                       ) -> Dict[str, int]:
    """Write a recording of ``count`` keyframes ``spacing_s`` apart, rendered.

    The frames show the expert drive of a catalogue scenario at the rig's image size; the
    odometry (50 Hz) is that drive.
    """
    world = make_scenario(scenario, 0)
    track = simulate_expert(world, spacing_s * count + 6.0)
    width, height = rig.cameras[0].width, rig.cameras[0].height
    renderer, ground = Renderer(rig, width, height), scene_ground(world)
    start = 1_533_280_036_162_460_000
    keyframes = []
    for k in range(count):
        images = renderer.render(track.pose(k * spacing_s), ground, [])
        keyframes.append(Keyframe(
            start + int(round(k * spacing_s * 1e9)),
            {name: cv2.imencode('.jpg', image)[1].tobytes() for name, image in images.items()},
            {name: ms * 1_000_000 for name, ms in offsets_ms.items()}))

    def motion(t):
        i = track.index(max(t, 0.0))
        return (*track.pose(max(t, 0.0)), float(track.speed[i]), float(track.yaw_rate[i]))
    return write_recording(path, topic_map, keyframes, motion)
