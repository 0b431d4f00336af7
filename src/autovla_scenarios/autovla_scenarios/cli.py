"""``generate_scenarios``: write the scenario catalogue (or a part of it) as rosbag2 files."""

import argparse
import sys
import time
from typing import Optional, Sequence

from autovla_scenarios.catalogue import CATALOGUE, DEFAULT_SET
from autovla_scenarios.generator import generate_set, GenerationConfig


def build_parser() -> argparse.ArgumentParser:
    """Command-line options, defaults taken from GenerationConfig."""
    defaults = GenerationConfig()
    parser = argparse.ArgumentParser(
        prog='generate_scenarios',
        description='Render catalogue scenarios for the nuScenes six-camera rig and write one '
                    'rosbag2 per scenario (cameras, CameraInfo, odometry, route, driving '
                    'command, ground truth) plus index.json into --out.')
    parser.add_argument('--out', required=True, help='output directory (created)')
    parser.add_argument('--scenarios', default=','.join(DEFAULT_SET),
                        help=f'comma-separated subset of: {", ".join(CATALOGUE)} '
                        '(default: the original seven)')
    parser.add_argument('--seed', type=int, default=defaults.seed)
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default=defaults.storage)
    parser.add_argument('--width', type=int, default=defaults.width, help='render width, px')
    parser.add_argument('--height', type=int, default=defaults.height, help='render height, px')
    parser.add_argument('--rate', type=float, default=defaults.camera_rate,
                        help='camera frames per second (Hz)')
    parser.add_argument('--odometry-rate', type=float, default=defaults.odometry_rate,
                        help='odometry messages per second (Hz)')
    parser.add_argument('--duration', type=float, default=defaults.duration,
                        help='seconds of frames per scenario')
    parser.add_argument('--jpeg-quality', type=int, default=defaults.jpeg_quality)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Generate the requested scenarios; exit 2 on a bad option."""
    args = build_parser().parse_args(argv)
    names = [name.strip() for name in args.scenarios.split(',') if name.strip()]
    unknown = [name for name in names if name not in CATALOGUE]
    if unknown or not names:
        print(f'generate_scenarios: unknown scenario(s) {unknown}; known: '
              f'{", ".join(CATALOGUE)}', file=sys.stderr)
        return 2
    config = GenerationConfig(width=args.width, height=args.height, camera_rate=args.rate,
                              odometry_rate=args.odometry_rate, duration=args.duration,
                              jpeg_quality=args.jpeg_quality, storage=args.storage,
                              seed=args.seed)
    try:
        config.validate()
    except ValueError as error:
        print(f'generate_scenarios: {error}', file=sys.stderr)
        return 2
    started = time.monotonic()
    finished = []

    def progress(line: str) -> None:
        # The generator reports once per finished scenario.
        finished.append(line)
        print(f'  [{len(finished)}/{len(names)}] {line} '
              f'({time.monotonic() - started:.1f} s since start)', flush=True)

    index = generate_set(args.out, names, config, progress)
    for entry in index['scenarios']:
        print(f'{entry["name"]:20s} {entry["frames"]:3d} frames  {entry["description"]}')
    print(f'wrote {len(names)} scenario bag(s) ({config.storage}, {config.width}x{config.height}'
          f' @ {config.camera_rate:g} Hz) to {args.out} in {time.monotonic() - started:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
