"""In-process drivers of the simulated car (ROS-free), for the baselines that need no stack.

- ``ExpertDriver``: privileged. The scenario's own rule-based expert (IDM on the scripted
  future of every agent and the traffic lights, lateral-acceleration speed limit in curves)
  with pure pursuit along the route.
- ``RouteFollower``: the rule-based controller alone: the safety node's route-following
  trajectory and tracker (no model, no perception), at the road's speed (the scenario's
  cruise speed stands for the map's speed limit), plus the safety node's AEB.
- ``PlanFollower``: the model alone: the newest plan tracked by the safety node's tracker
  with no validation and no ladder (measurement only: nothing checks the plan).
All three return the control part of a DriveCommand (``autovla_safety.controller.Command``).
"""

from dataclasses import replace
from typing import Optional

from autovla_safety.aeb import ObstacleMonitor
from autovla_safety.config import SafetyConfig
from autovla_safety.controller import Command, route_trajectory, Tracker
from autovla_safety.trajectory import EgoState, Plan, plan_to_odom, Trajectory
from autovla_scenarios.world import (
    curve_speed_limit,
    ExpertConfig,
    gap_to_obstacle,
    idm_acceleration,
    Scenario,
)
import numpy as np

from autovla_scenarios import obstacles
from autovla_sim.vehicle import VehicleState


def ego_state(t: float, state: VehicleState) -> EgoState:
    """Return the safety core's view of the simulated car."""
    return EgoState(t, state.x, state.y, state.yaw, state.speed)


def _route_trajectory(scenario: Scenario) -> Trajectory:
    route = scenario.route
    zeros = np.zeros(len(route.s))
    return Trajectory.from_arrays(0.0, route.s, route.xy[:, 0], route.xy[:, 1], route.yaw,
                                  zeros, zeros)


class ExpertDriver:
    """The scenario expert's IDM with privileged knowledge, steered by pure pursuit."""

    def __init__(self, scenario: Scenario, config: SafetyConfig,
                 expert: ExpertConfig = ExpertConfig()):
        self.scenario = scenario
        self.expert = expert
        self.tracker = Tracker(config.vehicle, config.controller)
        self.route = _route_trajectory(scenario)
        self.limit = curve_speed_limit(scenario.route, scenario.cruise_speed, expert)

    def command(self, t: float, state: VehicleState, dt: float) -> Command:
        """IDM acceleration along the route and the pursuit angle to it."""
        s = self.scenario.route.project((state.x, state.y))[0]
        desired = float(np.interp(s, self.scenario.route.s, self.limit))
        gap, lead = gap_to_obstacle(self.scenario, s, t, state.speed, self.expert)
        accel = idm_acceleration(state.speed, desired, gap, lead, self.expert)
        steering = self.tracker.pursuit_angle(self.route, ego_state(t, state))
        vehicle = self.tracker.vehicle
        return Command(steering, vehicle.max_steering_rate, state.speed, accel,
                       vehicle.max_jerk)


class RouteFollower:
    """The safety node's route following at the road speed, with the safety node's AEB.

    The AEB (``autovla_safety.aeb.ObstacleMonitor``, the node's own check) sees the obstacle
    cloud the simulator publishes, made the same way (``autovla_scenarios.obstacles``) at the
    same rate, and brakes at ``aeb.deceleration`` with its hold, as the node does.
    """

    def __init__(self, scenario: Scenario, config: SafetyConfig, aeb: bool = True):
        self.config = config
        self.fallback = replace(config.fallback, speed_cap=min(scenario.cruise_speed,
                                                                config.vehicle.speed_limit),
                                max_lateral_acceleration=config.vehicle.max_lateral_acceleration)
        self.route = scenario.route.xy
        self.tracker = Tracker(config.vehicle, config.controller)
        self.monitor = ObstacleMonitor(config.aeb) if aeb and config.aeb.enabled else None
        self.aeb_activations = 0

    def observe(self, t: float, pose, boxes) -> None:
        """Take the obstacle cloud of ``boxes`` (x, y, yaw, l, w, h) seen from ``pose``."""
        if self.monitor is not None:
            points = obstacles.obstacle_points(boxes, pose)
            self.monitor.on_cloud(t, points, EgoState(t, *pose, 0.0))

    def command(self, t: float, state: VehicleState, dt: float) -> Command:
        """Track the route trajectory from here; the AEB brake overrides it."""
        ego = ego_state(t, state)
        trajectory = route_trajectory(self.route, ego, t, self.config.vehicle, self.fallback,
                                      self.config.stop.comfortable_deceleration)
        stop = self.config.stop
        if isinstance(trajectory, str):
            return self.tracker.stop(stop.comfortable_deceleration, stop.comfortable_jerk, dt,
                                     None, None)
        if self.monitor is not None:
            self.monitor.step(t, ego, state.yaw_rate, trajectory)
            self.aeb_activations = self.monitor.activations
            if self.monitor.braking(t):
                aeb = self.config.aeb
                return self.tracker.stop(aeb.deceleration, aeb.jerk, dt, ego, trajectory)
        return self.tracker.track(trajectory, ego, t, dt)


class PlanFollower:
    """Tracks the newest plan as it is (model alone); stops when it has none left."""

    def __init__(self, config: SafetyConfig):
        self.config = config
        self.tracker = Tracker(config.vehicle, config.controller)
        self.trajectory: Optional[Trajectory] = None

    def on_plan(self, plan: Plan, pose_at_stamp: VehicleState) -> None:
        """Take ``plan`` (base_link at its stamp) with the car's pose at that stamp."""
        self.trajectory = plan_to_odom(plan, ego_state(plan.stamp, pose_at_stamp))
        self.tracker.reset_speed_control()

    def command(self, t: float, state: VehicleState, dt: float) -> Command:
        """Track the plan; a comfortable stop before the first plan and after the last point."""
        ego = ego_state(t, state)
        if self.trajectory is None or t > self.trajectory.end_time:
            stop = self.config.stop
            return self.tracker.stop(stop.comfortable_deceleration, stop.comfortable_jerk, dt,
                                     ego, self.trajectory)
        return self.tracker.track(self.trajectory, ego, t, dt)
