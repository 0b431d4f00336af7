"""Regression over N bags: each in a stack of its own, sequential vs a process pool vs Ray.

Data: N recordings rendered like real ones (six 320x180 cameras 0-50 ms apart, keyframes
0.5 s apart, 50 Hz odometry, foreign topic names through a topic map). Value: wall time of
``run_jobs`` with N workers on N DDS domains. Baseline: the same jobs one after the other
on one domain. Each job starts the stack (model load), replays in lock-step and stops it,
so the pool overlaps start-up and lock-step waits even on a 2-core machine. With the optional
ray extra installed (requirements/optional.txt) a third row runs the same jobs on a local Ray
cluster started for the run (``--ray local``: one actor per domain), its start-up included.
"""

from pathlib import Path
import tempfile
import time

from autovla_common.bench import write_result
from autovla_common.domain import claim_free_domain, DOMAINS
from autovla_common.rig import load_rig, save_rig
from autovla_common.topic_map import parse_topic_map
from autovla_replay.pipeline import LockstepConfig
from autovla_replay.recording import rendered_recording
from autovla_replay.regression import Job, run_jobs, run_on_ray, StackSpec
import yaml

BAGS = 3
FRAMES = 6
OFFSETS_MS = {'CAM_FRONT': 0, 'CAM_FRONT_LEFT': -8, 'CAM_FRONT_RIGHT': 12, 'CAM_BACK': 35,
              'CAM_BACK_LEFT': 50, 'CAM_BACK_RIGHT': 27}
MAP = {'cameras': {name: f'/{name}/image_raw/compressed' for name in OFFSETS_MS},
       'odometry': '/odom', 'route': '/route'}
REPO = Path(__file__).resolve().parents[1]


def timed_run(jobs, run_dir, config, stack, domains, ray=False):
    """Return (results, seconds) of one run_jobs (or local Ray) call."""
    started = time.perf_counter()
    if ray:
        results = run_on_ray('local', jobs, run_dir, config, stack, domains)
    else:
        results = run_jobs(jobs, run_dir, config, stack, domains, log=lambda line: None)
    return results, time.perf_counter() - started


def ray_installed():
    """Tell whether the optional ray extra is importable."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def main():
    """Render the bags, run them both ways, check every frame was answered, record."""
    with tempfile.TemporaryDirectory(prefix='bench_regression_') as tmp:
        root = Path(tmp)
        rig = load_rig(REPO / 'config' / 'rigs' / 'nuscenes.yaml').resized(320, 180)
        save_rig(rig, root / 'rig.yaml')
        (root / 'map.yaml').write_text(yaml.safe_dump(MAP))
        topic_map = parse_topic_map(MAP)
        jobs = []
        for k in range(BAGS):
            bag = root / 'bags' / f'bag{k}'
            rendered_recording(bag, topic_map, rig, 0.5, FRAMES, OFFSETS_MS,
                               ('curve', 'straight_cruise', 'intersection_left')[k % 3])
            jobs.append(Job(bag.name, bag))
        config = LockstepConfig(frame_timeout=120.0, topic_map=topic_map)
        # BAGS domains no DDS participant uses (never a live stack's), the first one alone.
        domains = []
        for _ in range(BAGS):
            domains.append(claim_free_domain(d for d in DOMAINS if d not in domains))
        stack = StackSpec(str(root / 'map.yaml'), str(root / 'rig.yaml'))
        sequential, sequential_s = timed_run(jobs, root / 'sequential', config, stack,
                                             domains[:1])
        parallel, parallel_s = timed_run(jobs, root / 'parallel', config, stack, domains)
        runs = [('sequential', sequential), ('parallel', parallel)]
        ray_s = None
        if ray_installed():
            on_ray, ray_s = timed_run(jobs, root / 'ray', config, stack, domains, ray=True)
            runs.append(('ray', on_ray))
    for name, results in runs:
        for bag, metrics in results.items():
            if metrics['timeouts'] or metrics['plans'] != FRAMES - 3:
                raise SystemExit(f'{name} {bag}: {metrics["plans"]} plans, '
                                 f'{metrics["timeouts"]} timeouts')
    ray_text = (f'; Ray (local cluster, {BAGS} actors) {ray_s:.1f} s '
                f'(x{sequential_s / ray_s:.2f})' if ray_s is not None
                else '; Ray not installed (requirements/optional.txt)')
    write_result(
        'regression_parallel', 's', parallel_s, sequential_s,
        f'{BAGS} bags x {FRAMES} frames, a stack per bag: {BAGS} workers {parallel_s:.1f} s '
        f'vs sequential {sequential_s:.1f} s (x{sequential_s / parallel_s:.2f} faster)'
        + ray_text, bags=BAGS, frames=FRAMES, ray_s=ray_s)


if __name__ == '__main__':
    main()
