"""Regression over a user's bags: each bag replayed into a stack of its own, scored, reported.

A job is one bag. Without a running stack, every job starts the stack (``autovla_bringup``,
simulated time) on a DDS domain of its own, replays the bag in lock-step, and stops it, so
jobs can run side by side in a process pool (``workers``), one domain per worker.
"""

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
import json
import multiprocessing
import os
from pathlib import Path
import subprocess
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from autovla_replay.pipeline import LockstepConfig, run_scenario

STACK_NAMESPACE = '/autovla'


@dataclass(frozen=True)
class Job:
    """One bag to replay: its name in the run directory and its path."""

    name: str
    bag: Path


@dataclass(frozen=True)
class StackSpec:
    """How a job starts its own stack (the bring-up command line options)."""

    topic_map: str = ''
    rig_file: str = ''
    model_path: str = ''
    device: str = 'cpu'
    overrides: Tuple[str, ...] = ()   # NODE.PARAM=VALUE

    def command(self, executable: str) -> List[str]:
        """Return the ``autovla_bringup`` command line."""
        command = [executable, '--use-sim-time', '--namespace', STACK_NAMESPACE,
                   '--device', self.device]
        for option, value in (('--topic-map', self.topic_map), ('--rig-file', self.rig_file),
                              ('--model-path', self.model_path)):
            if value:
                command += [option, value]
        for override in self.overrides:
            command += ['--params-override', override]
        return command


def is_bag(path: Path) -> bool:
    """Tell whether ``path`` is a rosbag2 directory (it has a metadata.yaml)."""
    return (Path(path) / 'metadata.yaml').is_file()


def bag_jobs(paths: Sequence[Path]) -> List[Job]:
    """Jobs for bag directories and directories of bags; ValueError names what is not a bag."""
    bags = []
    for path in map(Path, paths):
        if is_bag(path):
            bags.append(path)
        elif path.is_dir() and any(is_bag(child) for child in path.iterdir()):
            bags += sorted(child for child in path.iterdir() if is_bag(child))
        else:
            raise ValueError(f'{path} is neither a rosbag2 directory (with metadata.yaml) '
                             'nor a directory of them')
    names = [bag.name for bag in bags]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f'bags with the same name: {", ".join(repeated)}; rename one')
    return [Job(bag.name, bag) for bag in bags]


def scenario_jobs(scenario_dir: Path, names: Optional[Sequence[str]] = None) -> List[Job]:
    """Jobs for the generated scenarios listed in ``scenario_dir/index.json``."""
    index = json.loads((Path(scenario_dir) / 'index.json').read_text(encoding='utf-8'))
    return [Job(entry['name'], Path(scenario_dir) / entry['bag']) for entry in index['scenarios']
            if not names or entry['name'] in names]


def start_stack(spec: StackSpec, log_path: Path) -> subprocess.Popen:
    """Start ``autovla_bringup`` for ``spec``; its output goes to ``log_path``."""
    from autovla_common.testing import executable
    log = open(log_path, 'w', encoding='utf-8')  # noqa: SIM115 - lives as long as the stack
    return subprocess.Popen(spec.command(executable('autovla_bringup', 'autovla_bringup')),
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, 'PYTHONUNBUFFERED': '1'})


def stop_stack(process: subprocess.Popen, timeout: float = 30.0) -> int:
    """SIGINT the bring-up (it stops its nodes) and return its exit code."""
    from autovla_common.testing import stop_process
    return stop_process(process, timeout)


def run_job(job: Job, run_dir: Path, config: LockstepConfig, stack: Optional[StackSpec],
            domain: Optional[int] = None, log: Callable[[str], None] = print
            ) -> Dict[str, object]:
    """Replay one bag (starting and stopping its own stack when ``stack`` is given)."""
    if domain is not None:
        os.environ['ROS_DOMAIN_ID'] = str(domain)
        os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    out_dir = Path(run_dir) / job.name
    out_dir.mkdir(parents=True, exist_ok=True)
    if stack is None:
        return run_scenario(job.bag, out_dir, config, log=log)
    log(f'{job.name}: starting a stack on ROS_DOMAIN_ID {os.environ.get("ROS_DOMAIN_ID", 0)} '
        f'(log: {out_dir / "stack.log"})')
    process = start_stack(stack, out_dir / 'stack.log')
    try:
        return run_scenario(job.bag, out_dir, replace(config, namespace=STACK_NAMESPACE),
                            log=log)
    finally:
        stop_stack(process)


_worker_domain: Optional[int] = None


def _take_domain(domains) -> None:
    global _worker_domain
    _worker_domain = domains.get()


def _pool_job(job: Job, run_dir: Path, config: LockstepConfig, stack: StackSpec
              ) -> Dict[str, object]:
    return run_job(job, run_dir, config, stack, _worker_domain,
                   lambda line: print(line, flush=True))


def run_jobs(jobs: Sequence[Job], run_dir: Path, config: LockstepConfig,
             stack: Optional[StackSpec], domains: Sequence[int],
             log: Callable[[str], None] = print) -> Dict[str, Dict[str, object]]:
    """Run every job; in parallel on ``len(domains)`` workers (one domain each) when > 1."""
    if stack is None or len(domains) <= 1 or len(jobs) <= 1:
        domain = domains[0] if domains and stack is not None else None
        return {job.name: run_job(job, run_dir, config, stack, domain, log) for job in jobs}
    context = multiprocessing.get_context('spawn')   # no rclpy state crosses a fork
    queue = context.Manager().Queue()
    for domain in domains:
        queue.put(domain)
    with ProcessPoolExecutor(len(domains), context, _take_domain, (queue,)) as pool:
        futures = {job.name: pool.submit(_pool_job, job, run_dir, config, stack)
                   for job in jobs}
        return {name: future.result() for name, future in futures.items()}


class DomainWorker:
    """A Ray actor that runs jobs one at a time on its own DDS domain."""

    def __init__(self, domain: int):
        self.domain = domain

    def run(self, job: Job, run_dir: Path, config: LockstepConfig, stack: StackSpec
            ) -> Tuple[str, Dict[str, object]]:
        """Run ``job`` (its stack started and stopped here); return (name, metrics)."""
        return job.name, run_job(job, run_dir, config, stack, self.domain,
                                 lambda line: print(line, flush=True))


def run_on_ray(address: str, jobs: Sequence[Job], run_dir: Path, config: LockstepConfig,
               stack: StackSpec, domains: Sequence[int]) -> Dict[str, Dict[str, object]]:
    """Run the jobs on a Ray cluster: one actor per domain, each running one job at a time.

    ``address`` as ``ray.init`` takes it: 'local' (a cluster started for this run), 'auto'
    (the one ``ray start --head`` runs here) or 'ray://host:10001'. An actor per domain, not
    a task per job: two jobs on one domain at the same time would see each other's stacks
    (same namespace). Bags, the run directory and the install space must be at the same paths
    on every node (one machine, or a shared file system). ray is an optional extra
    (requirements/optional.txt).
    """
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as error:
        raise SystemExit('--ray needs the optional ray package: '
                         'pip install -r requirements/optional.txt') from error
    # A cluster started here needs no dashboard; a running one keeps its own settings.
    ray.init(address=address, **({'include_dashboard': False} if address == 'local' else {}))
    try:
        # The stack's processes use the CPUs; the actor itself only waits on them.
        worker = ray.remote(num_cpus=0)(DomainWorker)
        pool = ActorPool([worker.remote(domain) for domain in domains[:max(1, len(jobs))]])
        results = dict(pool.map_unordered(
            lambda actor, job: actor.run.remote(job, run_dir, config, stack), jobs))
    finally:
        ray.shutdown()
    return {job.name: results[job.name] for job in jobs}
