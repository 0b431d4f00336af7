"""Safety control-loop cost per tick vs the bare control arithmetic, same data, same run.

Value: the ROS-free work of one safety_node tick in its most expensive mode, FALLBACK:
supervisor step, the route-following trajectory rebuilt from a 2 km route, pure pursuit +
speed PID, and the DriveCommand message built. Baseline: the bare numpy arithmetic of one
pure-pursuit + proportional-speed step on a precomputed path (closest point, lookahead
point, steering angle), without supervision, validation, saturation or message. Also
recorded: a NOMINAL tick (tracking a 10-point VLA plan), the cost of validating one plan,
and the share of the 20 ms budget at the default 50 Hz. Medians over many repetitions.
"""

from functools import partial
from pathlib import Path

from autovla_common.bench import median_us, write_result
from autovla_common.params import load_defaults
from autovla_safety.config import SafetyConfig
from autovla_safety.controller import route_trajectory, Tracker
from autovla_safety.supervisor import Supervisor
from autovla_safety.trajectory import EgoState, Plan, plan_to_odom
from autovla_safety.validator import validate_plan
import numpy as np

from autovla_safety import conversions

REPEATS = 2000
time_us = partial(median_us, repeats=REPEATS)
DT = 0.02
ROOT = Path(__file__).resolve().parents[1]



def bare_pursuit(xs, ys, ego, wheelbase, lookahead, v_ref):
    """Minimal pure pursuit + P speed: nearest vertex, first vertex beyond the lookahead."""
    distances = np.hypot(xs - ego.x, ys - ego.y)
    nearest = int(np.argmin(distances))
    ahead = np.nonzero(distances[nearest:] >= lookahead)[0]
    target = nearest + (int(ahead[0]) if len(ahead) else len(xs) - 1 - nearest)
    dx, dy = xs[target] - ego.x, ys[target] - ego.y
    left = -np.sin(ego.yaw) * dx + np.cos(ego.yaw) * dy
    return np.arctan(2.0 * wheelbase * left / (dx * dx + dy * dy)), 0.8 * (v_ref - ego.speed)


def main():
    """Time both on the same route and state and record the ratio."""
    config = SafetyConfig.from_params(load_defaults(ROOT / 'config' / 'safety.yaml',
                                                    'safety_node'))
    s = np.arange(0.0, 2000.0, 1.0)
    route = np.column_stack([s, 30.0 * np.sin(s / 100.0)])
    ego = EgoState(0.0, 500.0, 30.0 * np.sin(5.0) + 0.4, 0.3, 2.5)
    supervisor = Supervisor(config.supervisor, 0.0)
    supervisor.on_odometry(0.0)
    supervisor.on_route(0.0)
    tracker = Tracker(config.vehicle, config.controller)
    fallback = route_trajectory(route, ego, 0.0, config.vehicle, config.fallback,
                                config.stop.comfortable_deceleration)

    def fallback_tick():
        trajectory = route_trajectory(route, ego, 0.0, config.vehicle, config.fallback,
                                      config.stop.comfortable_deceleration)
        supervisor.step(0.0)
        command = tracker.track(trajectory, ego, 0.0, DT)
        conversions.command_msg(command, 0.0, supervisor.mode)

    t = 0.5 * np.arange(1, 11)
    zeros = np.zeros(10)
    plan = Plan(stamp=0.0, frame_id='base_link', t=t, x=5.0 * t, y=zeros, yaw=zeros,
                velocity=np.full(10, 5.0), acceleration=zeros, curvature=zeros, confidence=0.9)
    vla = plan_to_odom(plan, ego)

    def nominal_tick():
        supervisor.step(0.0)
        command = tracker.track(vla, ego, 0.1, DT)
        conversions.command_msg(command, 0.0, supervisor.mode)

    fallback_us = time_us(fallback_tick)
    nominal_us = time_us(nominal_tick)
    validate_us = time_us(lambda: validate_plan(plan, 0.1, ego, route, config.vehicle,
                                                  config.validator))
    bare_us = time_us(lambda: bare_pursuit(fallback.x, fallback.y, ego,
                                             config.vehicle.wheelbase, 4.0, 3.0))
    budget_us = 1e6 * DT
    write_result(
        'safety_tick', 'us', fallback_us, bare_us,
        f'FALLBACK tick {fallback_us:.0f} us vs bare pure pursuit {bare_us:.0f} us '
        f'({fallback_us / bare_us:.1f}x); NOMINAL tick {nominal_us:.0f} us; validate a plan '
        f'{validate_us:.0f} us; FALLBACK tick = {100 * fallback_us / budget_us:.1f} % of the '
        '20 ms budget at 50 Hz',
        nominal_tick_us=nominal_us, validate_plan_us=validate_us,
        fallback_budget_share=fallback_us / budget_us, route_points=len(route))


if __name__ == '__main__':
    main()
