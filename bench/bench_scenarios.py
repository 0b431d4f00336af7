"""Generation time of the default scenario set against the driving time it covers.

value = wall-clock seconds to render and write the seven default scenario bags,
baseline = seconds of driving they contain (ratio < 1: generated faster than real time).
"""

from pathlib import Path
import tempfile
import time

from autovla_common.bench import write_result
from autovla_scenarios.catalogue import DEFAULT_SET
from autovla_scenarios.generator import generate_set, GenerationConfig


def main():
    """Generate the default set once, timed."""
    config = GenerationConfig()
    with tempfile.TemporaryDirectory() as out:
        started = time.monotonic()
        generate_set(Path(out), DEFAULT_SET, config)
        seconds = time.monotonic() - started
        size_mb = sum(p.stat().st_size for p in Path(out).rglob('*') if p.is_file()) / 1e6
    driving = config.duration * len(DEFAULT_SET)
    write_result('scenario_generation', 's', seconds, driving,
                 f'{len(DEFAULT_SET)} scenarios ({config.width}x{config.height}, '
                 f'{config.camera_rate:g} Hz, {driving:g} s of driving) generated in '
                 f'{seconds:.1f} s, {size_mb:.1f} MB', size_mb=size_mb)


if __name__ == '__main__':
    main()
