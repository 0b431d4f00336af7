"""AEB cost per control tick vs the NOMINAL tick it is added to, same state, same run.

Value: one ``ObstacleMonitor.step`` (current motion over the motion horizon + the tracked
10-point plan over the stopping distance) at 10 m/s with the stopped_vehicle scenario's
cloud (the stopped car inside the stopping distance, the roadside and oncoming agents
around it). Baseline: the NOMINAL tick without AEB (supervisor step + pure pursuit and
speed PID on the same plan). Also recorded: the cloud's size, the step with no obstacle on
the paths, the share of the 20 ms budget at 50 Hz, and the cloud intake (clustering and
tracking for obstacle velocities, once per cloud at 10 Hz). Medians over many repetitions.
"""

from pathlib import Path

from autovla_common.bench import median_us, write_result
from autovla_common.params import load_defaults
from autovla_safety.aeb import ObstacleMonitor
from autovla_safety.config import SafetyConfig
from autovla_safety.controller import Tracker
from autovla_safety.supervisor import Supervisor
from autovla_safety.trajectory import EgoState, Plan, plan_to_odom
from autovla_scenarios.catalogue import make_scenario
from autovla_scenarios.obstacles import scene_points
import numpy as np

DT = 0.02
SPEED = 10.0
ROOT = Path(__file__).resolve().parents[1]



def main():
    """Time the AEB step and the NOMINAL tick on the same state; record the ratio."""
    config = SafetyConfig.from_params(load_defaults(ROOT / 'config' / 'safety.yaml',
                                                    'safety_node'))
    scenario = make_scenario('stopped_vehicle', 0)
    stopped_x = scenario.agents[0].pose(0.0)[0]
    # 12 m (rear bumper to front bumper) before the stopped car: inside the 14 m needed.
    x = stopped_x - scenario.agents[0].size[0] / 2 - 12.0 - (4.084 - 0.6)
    ego = EgoState(0.0, x, -1.75, 0.0, SPEED)
    t = 0.5 * np.arange(1, 11)
    zeros = np.zeros(10)
    plan = plan_to_odom(Plan(0.0, 'base_link', t, SPEED * t, zeros, zeros,
                             np.full(10, SPEED), zeros, zeros, 0.9), ego)
    supervisor = Supervisor(config.supervisor, 0.0)
    supervisor.on_odometry(0.0)
    supervisor.on_route(0.0)
    tracker = Tracker(config.vehicle, config.controller)

    def nominal_tick():
        supervisor.step(0.0)
        tracker.track(plan, ego, 0.1, DT)

    def monitor_with(points):
        monitor = ObstacleMonitor(config.aeb)
        monitor.on_cloud(0.0, points, ego)
        return monitor

    cloud = scene_points(scenario, 0.0, (ego.x, ego.y, ego.yaw))
    busy = monitor_with(cloud)
    assert busy.step(0.0, ego, 0.0, plan) is not None, 'the stopped car must be imminent'
    clear = monitor_with(cloud[np.abs(cloud[:, 1]) > 3.0])   # nothing on the paths
    aeb_us = median_us(lambda: busy.step(0.0, ego, 0.0, plan))
    clear_us = median_us(lambda: clear.step(0.0, ego, 0.0, plan))
    nominal_us = median_us(nominal_tick)
    stamps = iter(0.1 * np.arange(1, 10_000_000))    # every intake associates with the last
    intake_us = median_us(lambda: busy.on_cloud(next(stamps), cloud, ego))
    write_result(
        'safety_aeb_step', 'us', aeb_us, nominal_us,
        f'AEB step {aeb_us:.0f} us ({len(cloud)}-point cloud, car inside the stopping '
        f'distance) vs NOMINAL tick {nominal_us:.0f} us ({aeb_us / nominal_us:.1f}x); no '
        f'obstacle on the paths {clear_us:.0f} us; AEB = {100 * aeb_us / (1e6 * DT):.1f} % '
        'of the 20 ms budget at 50 Hz; cloud intake (clusters, tracks) '
        f'{intake_us:.0f} us per cloud',
        cloud_points=len(cloud), clear_step_us=clear_us, cloud_intake_us=intake_us)


if __name__ == '__main__':
    main()
