"""AEB evaluation on the scenario catalogue, ROS-free: collisions avoided and false activations.

Two measurements, each over many seeds of the catalogue (``python -m
autovla_replay.aeb_evaluation``, about a minute per 10 seeds):

- **Collisions, planner forced straight on.** The ego starts as the scenario says and a
  planner that ignores the world (2 Hz, 10 points at 0.5 s straight ahead at the
  scenario's initial speed) drives it. Closed loop at 50 Hz: the safety core the node
  wires (validator, obstacle check of plans, supervisor, tracker and stops,
  ``ObstacleMonitor``) turns plans into commands, a kinematic bicycle (base_link on the
  rear axle, perfect odometry) moves the ego, the world's boxes become a 10 Hz cloud
  (``autovla_scenarios.obstacles``). A collision is the ego footprint overlapping an
  agent box. Run with and without the AEB.
- **False activations, expert driving.** The catalogue's rule-based expert (which brakes,
  yields and turns correctly) drives open loop; at every 50 Hz tick the AEB checks the
  current motion and the expert's own 5 s future (the path a good planner would send);
  at 2 Hz that future is also checked as a plan. Any brake or plan rejection counts.

What this leaves out (and the live stack adds): DDS latency, planner latency, odometry
noise and a real sensor's occlusion and noise.
"""

import argparse
from dataclasses import dataclass, replace
import math
from pathlib import Path
import time
from typing import Dict, List, Optional, Sequence

from autovla_safety.aeb import ObstacleMonitor, yaw_rate
from autovla_safety.config import load_shipped_config, SafetyConfig
from autovla_safety.controller import route_trajectory, Tracker
from autovla_safety.supervisor import Mode, Supervisor
from autovla_safety.trajectory import EgoState, Plan, plan_to_odom, PoseHistory, Trajectory
from autovla_safety.validator import Fault, validate_plan
from autovla_scenarios.catalogue import make_scenario
from autovla_scenarios.geometry import box_corners, rectangles_overlap
from autovla_scenarios.obstacles import scene_points, world_boxes
from autovla_scenarios.world import Scenario, simulate_expert
import numpy as np

CRITICAL = ('stopped_vehicle', 'pedestrian_crossing', 'cut_in')
NORMAL = ('straight_cruise', 'curve', 'intersection_left', 'intersection_right')
DT = 0.02                 # s, control period (50 Hz)
CLOUD_PERIOD = 0.1        # s, range sensor (10 Hz)
PLAN_PERIOD = 0.5         # s, planner (2 Hz)
PLAN_POINTS, PLAN_STEP = 10, 0.5
DURATION = 12.0           # s per run
YAW_RATE_WINDOW = 0.2     # s, as the node measures it
STEPS_PER = (int(round(CLOUD_PERIOD / DT)), int(round(PLAN_PERIOD / DT)))



@dataclass(frozen=True)
class RunResult:
    """One scenario seed driven once."""

    scenario: str
    seed: int
    aeb: bool
    collision_time: Optional[float]   # s, first overlap (None = no collision)
    activations: int                  # AEB brake onsets
    plans_rejected_for_obstacles: int
    final_speed: float                # m/s; at a collision, the impact speed


def straight_plan(stamp: float, speed: float) -> Plan:
    """Plan like the forced planner: straight ahead at ``speed`` whatever is in front."""
    t = PLAN_STEP * np.arange(1, PLAN_POINTS + 1)
    zeros = np.zeros(PLAN_POINTS)
    return Plan(stamp, 'base_link', t, speed * t, zeros, zeros, np.full(PLAN_POINTS, speed),
                zeros, zeros, 0.9)


def ego_box(state: EgoState, config: SafetyConfig) -> np.ndarray:
    """Ego footprint corners: base_link on the rear axle, ``rear_overhang`` behind it."""
    forward = config.aeb.ego_length / 2.0 - config.aeb.rear_overhang
    return box_corners(state.x + forward * math.cos(state.yaw),
                       state.y + forward * math.sin(state.yaw), state.yaw,
                       config.aeb.ego_length, config.aeb.ego_width)


def collides(scenario: Scenario, t: float, state: EgoState, config: SafetyConfig) -> bool:
    """Whether the ego footprint overlaps any agent box at time ``t``."""
    ego = ego_box(state, config)
    return any(rectangles_overlap(ego, box_corners(x, y, yaw, length, width))
               for x, y, yaw, length, width, _ in world_boxes(scenario, t))


def drive_straight_on(name: str, seed: int, config: SafetyConfig, aeb: bool,
                      duration: float = DURATION) -> RunResult:
    """Drive closed loop with the forced planner; stop at the first collision."""
    scenario = make_scenario(name, seed)
    route = scenario.route.xy
    x, y = route[0]
    state = EgoState(0.0, float(x), float(y), float(scenario.route.yaw[0]),
                     scenario.initial_speed)
    supervisor = Supervisor(config.supervisor, 0.0)
    supervisor.on_route(0.0)
    tracker = Tracker(config.vehicle, config.controller)
    monitor = ObstacleMonitor(config.aeb)
    history = PoseHistory(3.0)
    valid: Optional[Trajectory] = None
    selected: Optional[Trajectory] = None
    previous_mode = supervisor.mode
    rejected = 0
    for k in range(int(round(duration / DT)) + 1):
        now = k * DT
        state = EgoState(now, state.x, state.y, state.yaw, state.speed)
        history.add(state)
        supervisor.on_odometry(now)
        if collides(scenario, now, state, config):
            return RunResult(name, seed, aeb, now, monitor.activations, rejected, state.speed)
        if aeb and k % STEPS_PER[0] == 0:
            monitor.on_cloud(now, scene_points(scenario, now, (state.x, state.y, state.yaw)),
                             state)
        if k % STEPS_PER[1] == 0:
            plan = straight_plan(now, scenario.initial_speed)
            faults = validate_plan(plan, now, state, None, config.vehicle, config.validator)
            trajectory = None if faults else plan_to_odom(plan, state)
            if trajectory is not None and monitor.fresh(now):
                collision = monitor.check_trajectory('plan', trajectory, state)
                if collision is not None and collision.imminent:
                    faults, trajectory = [Fault('obstacle_on_plan', collision.describe())], None
                    rejected += 1
            supervisor.on_plan(now, now, faults, plan.end_time)
            valid = trajectory or valid
        fallback = route_trajectory(route, state, now, config.vehicle, config.fallback,
                                    config.stop.comfortable_deceleration)
        tracked = {Mode.NOMINAL: valid, Mode.DEGRADED: valid,
                   Mode.FALLBACK: fallback if isinstance(fallback, Trajectory) else None
                   }.get(supervisor.mode)
        monitor.step(now, state, yaw_rate(state, history.at(now - YAW_RATE_WINDOW, 0.0)),
                     tracked)
        supervisor.on_aeb(monitor.reason if monitor.braking(now) else None)
        supervisor.step(now, fallback if isinstance(fallback, str) else None)
        mode = supervisor.mode
        if mode != previous_mode:
            tracker.reset_speed_control()
            previous_mode = mode
        tracked = {Mode.NOMINAL: valid, Mode.DEGRADED: valid,
                   Mode.FALLBACK: fallback if isinstance(fallback, Trajectory) else None
                   }.get(mode)
        if tracked is not None:
            selected = tracked
            command = tracker.track(tracked, state, now, DT)
        elif mode == Mode.EMERGENCY_STOP and monitor.braking(now):
            command = tracker.stop(config.aeb.deceleration, config.aeb.jerk, DT, state, selected)
        elif mode == Mode.EMERGENCY_STOP:
            command = tracker.stop(config.stop.emergency_deceleration, config.stop.emergency_jerk,
                                   DT, state, selected)
        else:
            command = tracker.stop(config.stop.comfortable_deceleration,
                                   config.stop.comfortable_jerk, DT, state, selected)
        state = bicycle_step(state, command.steering_angle, command.acceleration,
                             config.vehicle.wheelbase)
    return RunResult(name, seed, aeb, None, monitor.activations, rejected, state.speed)


def bicycle_step(state: EgoState, steering: float, acceleration: float,
                 wheelbase: float) -> EgoState:
    """Kinematic bicycle about the rear axle, one control period; no reversing."""
    speed = max(0.0, state.speed + acceleration * DT)
    mean_speed = 0.5 * (state.speed + speed)
    yaw = state.yaw + mean_speed * math.tan(steering) / wheelbase * DT
    heading = 0.5 * (state.yaw + yaw)
    return EgoState(state.stamp, state.x + mean_speed * math.cos(heading) * DT,
                    state.y + mean_speed * math.sin(heading) * DT, yaw, speed)


def expert_activations(name: str, seed: int, config: SafetyConfig,
                       duration: float = DURATION) -> RunResult:
    """Open-loop expert drive: AEB brakes and plan rejections (all false by construction)."""
    scenario = make_scenario(name, seed)
    horizon = PLAN_POINTS * PLAN_STEP
    track = simulate_expert(scenario, duration + horizon, DT)
    # The world's ego pose is the footprint centre; the AEB's base_link is the rear axle.
    back = config.aeb.ego_length / 2.0 - config.aeb.rear_overhang
    track = replace(track, x=track.x - back * np.cos(track.yaw),
                    y=track.y - back * np.sin(track.yaw))
    monitor = ObstacleMonitor(config.aeb)
    history = PoseHistory(3.0)
    rejected = 0
    for k in range(int(round(duration / DT)) + 1):
        now = k * DT
        state = EgoState(now, float(track.x[k]), float(track.y[k]), float(track.yaw[k]),
                         float(track.speed[k]))
        history.add(state)
        if k % STEPS_PER[0] == 0:
            monitor.on_cloud(now, scene_points(scenario, now, (state.x, state.y, state.yaw)),
                             state)
        future = slice(k, k + int(round(horizon / DT)) + 1)
        expert = Trajectory.from_arrays(now, track.t[future], track.x[future], track.y[future],
                                        track.yaw[future], track.speed[future],
                                        track.acceleration[future])
        if k % STEPS_PER[1] == 0:
            collision = monitor.check_trajectory('plan', expert, state)
            rejected += bool(collision is not None and collision.imminent)
        monitor.step(now, state, yaw_rate(state, history.at(now - YAW_RATE_WINDOW, 0.0)),
                     expert)
    return RunResult(name, seed, True, None, monitor.activations, rejected,
                     float(track.speed[-1]))


def evaluate(seeds: Sequence[int], config: SafetyConfig, progress=print) -> Dict[str, List]:
    """Every measurement over ``seeds``: {'straight_on': [...], 'expert': [...]}."""
    results: Dict[str, List[RunResult]] = {'straight_on': [], 'expert': []}
    for name in CRITICAL:
        started = time.monotonic()
        for seed in seeds:
            for aeb in (False, True):
                results['straight_on'].append(drive_straight_on(name, seed, config, aeb))
        progress(f'[aeb] {name}: {len(seeds)} seeds x with/without AEB in '
                 f'{time.monotonic() - started:.0f} s')
    for name in CRITICAL + NORMAL:
        started = time.monotonic()
        results['expert'].extend(expert_activations(name, seed, config) for seed in seeds)
        progress(f'[aeb] {name}: expert drive, {len(seeds)} seeds in '
                 f'{time.monotonic() - started:.0f} s')
    return results


def _collisions(runs: Sequence[RunResult]) -> str:
    hits = [r.final_speed for r in runs if r.collision_time is not None]
    impact = f' ({np.mean(hits):.1f} m/s)' if hits else ''
    return f'{len(hits)}/{len(runs)}{impact}'


def table(results: Dict[str, List[RunResult]], seeds: Sequence[int]) -> str:
    """Markdown tables of both measurements."""
    lines = [f'Seeds {min(seeds)}-{max(seeds)} ({len(seeds)} per scenario), {DURATION:g} s '
             'each.', '', '| scenario (planner forced straight on) | collisions without AEB '
             '(mean impact speed) | collisions with AEB (mean impact speed) | AEB activations | '
             'plans rejected (obstacle) |', '|---|---|---|---|---|']
    for name in CRITICAL:
        runs = [r for r in results['straight_on'] if r.scenario == name]
        with_aeb = [r for r in runs if r.aeb]
        lines.append(f'| {name} | {_collisions([r for r in runs if not r.aeb])} | '
                     f'{_collisions(with_aeb)} | {sum(r.activations for r in with_aeb)} | '
                     f'{sum(r.plans_rejected_for_obstacles for r in with_aeb)} |')
    lines += ['', '| scenario (expert driving) | false AEB activations | '
              'false plan rejections |', '|---|---|---|']
    for name in CRITICAL + NORMAL:
        runs = [r for r in results['expert'] if r.scenario == name]
        lines.append(f'| {name} | {sum(r.activations for r in runs)} | '
                     f'{sum(r.plans_rejected_for_obstacles for r in runs)} |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    """Run the evaluation and print (and optionally write) the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, default=20, help='seeds 0..N-1 per scenario')
    parser.add_argument('--config', type=Path, default=None, help='safety params YAML')
    parser.add_argument('--output', type=Path, default=None, help='write the tables here')
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error('--seeds must be at least 1')
    config = load_shipped_config(args.config)
    seeds = list(range(args.seeds))
    text = table(evaluate(seeds, config), seeds)
    print(text)
    if args.output:
        args.output.write_text(text + '\n', encoding='utf-8')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
