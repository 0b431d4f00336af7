"""Closed-loop speed: simulated seconds per wall second, with render, stack and scoring split out.

Two runs of ``stopped_vehicle`` (seed 0, 10 s simulated, 800x450 cameras), side by side:
the full stack over DDS in lock-step (a fresh stack, as every closed-loop run), and the
rule-based controller in process with the six cameras still rendered (the simulator's own
cost). value = wall seconds of the full-stack run, baseline = the simulated seconds it
covers (ratio > 1: slower than real time). Stack start-up (model loading) is reported apart.
"""

import argparse
from pathlib import Path
import tempfile
import time

from autovla_common.bench import write_result
from autovla_common.rig import load_rig
from autovla_safety.config import load_shipped_config
from autovla_scenarios.catalogue import make_scenario
from autovla_scenarios.generator import default_rig_path
from autovla_sim.drivers import RouteFollower
from autovla_sim.loop import DriverLink, run
from autovla_sim.scoring import score_rollout
from autovla_sim.simulator import ClosedLoopSim, SimConfig
from autovla_sim.vehicle import VehicleModel

from autovla_sim import cli

SCENARIO, SEED, DURATION = 'stopped_vehicle', 0, 10.0


def in_process_with_render() -> dict:
    """Rule-based driver, cameras rendered every frame: the simulator's own speed."""
    scenario = make_scenario(SCENARIO, SEED)
    safety = load_shipped_config()
    sim = ClosedLoopSim(scenario, VehicleModel(safety.vehicle), SimConfig(duration=DURATION))
    scene = cli.Scene(scenario, load_rig(default_rig_path()), 800, 450)
    started = time.monotonic()
    stats = run(sim, DriverLink(RouteFollower(scenario, safety), 'rule'), scene)
    scored = time.monotonic()
    score_rollout(sim.rollout, sim.config.handover)
    return {'wall_s': time.monotonic() - started, 'render_s': stats.render_s,
            'sim_s': stats.sim_s, 'scoring_s': time.monotonic() - scored}


def main():
    """Run both, write bench_results/closed_loop.json."""
    local = in_process_with_render()
    with tempfile.TemporaryDirectory() as out:
        args = cli.build_parser().parse_args(['--device', 'cpu', '--out', out])
        rig_file = Path(out) / 'rig.yaml'
        cli.write_rig(rig_file, args.width, args.height)
        started = time.monotonic()
        result = cli.run_one(SCENARIO, SEED, 'stack', args, rig_file, Path(out))
        total = time.monotonic() - started
    timing = result['timing_s']
    loop = timing['render'] + timing['stack'] + timing['sim']
    write_result(
        'closed_loop', 's', loop, DURATION,
        f'{SCENARIO}: {DURATION:g} simulated s in {loop:.1f} wall s with the full stack in '
        f'lock-step ({DURATION / loop:.2f} sim s per wall s; render {timing["render"]:.1f} s, '
        f'stack {timing["stack"]:.1f} s, vehicle+traffic {timing["sim"]:.1f} s, scoring '
        f'{timing["scoring"]:.2f} s; outside the loop: stack start-up, model loading and '
        f'shutdown {total - loop:.0f} s); in process with render: '
        f'{DURATION / local["wall_s"]:.1f} sim s per wall s (render {local["render_s"]:.1f} s, '
        f'vehicle+traffic {local["sim_s"]:.1f} s, scoring {local["scoring_s"]:.2f} s)',
        sim_per_wall_stack=DURATION / loop, timing_stack=timing, in_process=local,
        sim_per_wall_in_process=DURATION / local['wall_s'])


if __name__ == '__main__':
    argparse.ArgumentParser(description=__doc__.split('\n')[0]).parse_args()
    main()
