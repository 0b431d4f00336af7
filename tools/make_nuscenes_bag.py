#!/usr/bin/env python3
"""Write MCAP bags from nuScenes keyframe JPEGs (e.g. ../shared/data/nuscenes_drivelm_sample).

One bag per scene, recorded the nuScenes way: topics named by a topic map (default
config/topic_maps/nuscenes.yaml), each camera at its own capture time (the microseconds in
the file name), keyframes seconds apart. The sample has no ego poses, so the odometry
(50 Hz) and the route are SYNTHETIC: straight ahead at --speed. Scores against it measure
the pipeline, not driving quality. The bags are for local use: never commit them (nuScenes
licence, CC BY-NC-SA 4.0).

    python tools/make_nuscenes_bag.py ../shared/data/nuscenes_drivelm_sample --out /tmp/nusc
"""

import argparse
from collections import defaultdict
from pathlib import Path
import re
import sys

from autovla_common.topic_map import load_topic_map
from autovla_replay.recording import Keyframe, straight, write_recording

REPO = Path(__file__).resolve().parents[1]
# <scene>__<CAMERA>__<microseconds>.jpg
NAME = re.compile(r'^(?P<scene>.+)__(?P<camera>CAM_[A-Z_]+)__(?P<us>\d+)\.jpg$')


def scenes(data_dir: Path):
    """Scene -> camera -> sorted [(stamp ns, path)] of every JPEG under ``data_dir``."""
    found = defaultdict(lambda: defaultdict(list))
    for path in sorted(Path(data_dir).rglob('*.jpg')):
        match = NAME.match(path.name)
        if match:
            found[match['scene']][match['camera']].append((int(match['us']) * 1000, path))
    return {scene: {camera: sorted(frames) for camera, frames in cameras.items()}
            for scene, cameras in found.items()}


def keyframes(cameras, anchor: str):
    """One Keyframe per anchor-camera frame, with each camera's nearest frame and offset."""
    result = []
    for stamp, _ in cameras[anchor]:
        jpegs, offsets = {}, {}
        for camera, frames in cameras.items():
            nearest_stamp, path = min(frames, key=lambda frame: abs(frame[0] - stamp))
            jpegs[camera] = path.read_bytes()
            offsets[camera] = nearest_stamp - stamp
        result.append(Keyframe(stamp, jpegs, offsets))
    return result


def main(argv=None) -> int:
    """Write the bags; print one line per scene."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_dir', help='directory of nuScenes JPEGs (searched recursively)')
    parser.add_argument('--out', required=True, help='directory for the bags (one per scene)')
    parser.add_argument('--topic-map', default=str(REPO / 'config/topic_maps/nuscenes.yaml'))
    parser.add_argument('--anchor-camera', default='CAM_FRONT')
    parser.add_argument('--speed', type=float, default=5.0,
                        help='m/s of the synthetic straight-ahead odometry')
    args = parser.parse_args(argv)
    topic_map = load_topic_map(Path(args.topic_map))
    found = scenes(Path(args.data_dir))
    if not found:
        raise SystemExit(f'no <scene>__<CAMERA>__<us>.jpg files under {args.data_dir}')
    for scene, cameras in sorted(found.items()):
        missing = [name for name in topic_map.camera_names if name not in cameras]
        if missing:
            print(f'{scene}: skipped, no frames of {", ".join(missing)}')
            continue
        bag = Path(args.out) / re.sub(r'[^A-Za-z0-9_]', '_', scene)
        frames = keyframes({name: cameras[name] for name in topic_map.camera_names},
                           args.anchor_camera)
        counts = write_recording(bag, topic_map, frames, straight(args.speed))
        gaps = [(b.stamp_ns - a.stamp_ns) / 1e9 for a, b in zip(frames, frames[1:])]
        print(f'{bag}: {len(frames)} keyframes '
              f'({min(gaps, default=0):.2f}-{max(gaps, default=0):.2f} s apart), '
              f'{sum(counts.values())} messages')
    return 0


if __name__ == '__main__':
    sys.exit(main())
