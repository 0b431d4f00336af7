"""The closed-loop world (ROS-free): ego vehicle model + reactive traffic, stepped together.

``ClosedLoopSim.step`` applies one control command for one control period; every step is
recorded (ego state, agent boxes, who controlled the car, the safety mode) into a
``Rollout`` that the scorer reads. Before ``handover`` seconds the ego follows the scenario's
expert exactly (the history a planner needs before its first decision, as logged history is
in NAVSIM); after it, only the commands move the car.
"""

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from autovla_safety.controller import Command
from autovla_scenarios.world import EgoTrack, Scenario, simulate_expert
import numpy as np

from autovla_sim.traffic import AgentBox, Traffic
from autovla_sim.vehicle import VehicleModel, VehicleState

SOURCE_EXPERT = 'expert'   # the scripted expert (before hand-over, or the expert baseline)
CLOUD_RATE_HZ = 10.0       # obstacle clouds per second, as the scenario bags carry them


@dataclass(frozen=True)
class SimConfig:
    """Timing of a closed-loop run."""

    duration: float = 10.0        # s of simulated driving
    control_dt: float = 0.02      # s, one control period (the safety node's 50 Hz)
    camera_period: float = 0.5    # s between camera frames (the planner's 2 Hz history)
    handover: float = 1.5         # s driven by the expert before the commands take over

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        if self.duration <= 0 or self.control_dt <= 0 or self.camera_period <= 0:
            raise ValueError('duration, control_dt and camera_period must be positive')
        ratio = self.camera_period / self.control_dt
        if abs(ratio - round(ratio)) > 1e-6:
            raise ValueError('camera_period must be a whole number of control periods')
        if not 0.0 <= self.handover < self.duration:
            raise ValueError('handover must be in [0, duration)')

    @property
    def steps(self) -> int:
        """Control steps in a run."""
        return int(round(self.duration / self.control_dt))

    @property
    def frame_steps(self) -> int:
        """Control steps between camera frames."""
        return int(round(self.camera_period / self.control_dt))


@dataclass
class Rollout:
    """Everything that happened in one run, one row per control step (time t, before it)."""

    scenario: Scenario
    expert: EgoTrack
    t: List[float] = field(default_factory=list)
    ego: List[VehicleState] = field(default_factory=list)
    agents: List[List[AgentBox]] = field(default_factory=list)
    source: List[str] = field(default_factory=list)    # who commanded the step
    mode: List[str] = field(default_factory=list)      # safety mode name ('' = none)

    def ego_array(self) -> np.ndarray:
        """(N, 6) t, x, y, yaw, speed, acceleration."""
        return np.array([(t, e.x, e.y, e.yaw, e.speed, e.acceleration)
                         for t, e in zip(self.t, self.ego)]).reshape(-1, 6)


class ClosedLoopSim:
    """One scenario driven by commands: call ``step`` once per control period."""

    def __init__(self, scenario: Scenario, vehicle: VehicleModel,
                 config: SimConfig = SimConfig(), expert: Optional[EgoTrack] = None):
        config.validate()
        self.scenario = scenario
        self.vehicle = vehicle
        self.config = config
        self.expert = expert or simulate_expert(scenario, config.duration + 5.0,
                                                config.control_dt)
        self.traffic = Traffic(scenario)
        self.index = 0
        x, y, yaw = self.expert.pose(0.0)
        self.ego = VehicleState(x, y, yaw, scenario.initial_speed)
        self.rollout = Rollout(scenario, self.expert)

    @property
    def time(self) -> float:
        """Simulated time of the current state (s)."""
        return self.index * self.config.control_dt

    @property
    def done(self) -> bool:
        """Tell whether the run's duration is used up."""
        return self.index >= self.config.steps

    @property
    def handed_over(self) -> bool:
        """Tell whether the commands drive the car (past the expert warm-up)."""
        return self.time >= self.config.handover - 1e-9

    @property
    def camera_due(self) -> bool:
        """Tell whether the current step starts a camera frame."""
        return self.index % self.config.frame_steps == 0

    def pose(self) -> Tuple[float, float, float]:
        """Ego (x, y, yaw) now."""
        return self.ego.x, self.ego.y, self.ego.yaw

    def agent_boxes(self) -> List[AgentBox]:
        """Every other road user now."""
        return self.traffic.boxes(self.time)

    @property
    def cloud_steps(self) -> int:
        """Control steps between two obstacle clouds (a range sensor's ``CLOUD_RATE_HZ``)."""
        return max(1, int(round(1.0 / (CLOUD_RATE_HZ * self.config.control_dt))))

    def obstacle_boxes(self) -> List[Tuple[float, ...]]:
        """Every road user as (x, y, yaw, length, width, height), for the obstacle cloud."""
        return [(b.x, b.y, b.yaw, b.length, b.width, agent.size[2])
                for b, agent in zip(self.agent_boxes(), self.scenario.agents)]

    def step(self, command: Optional[Command], source: str, mode: str = '') -> None:
        """Record the current state, then advance one control period.

        Before hand-over (or with ``command`` None) the ego follows the expert exactly.
        """
        t, dt = self.time, self.config.control_dt
        scripted = command is None or not self.handed_over
        self.rollout.t.append(t)
        self.rollout.ego.append(self.ego)
        self.rollout.agents.append(self.agent_boxes())
        self.rollout.source.append(SOURCE_EXPERT if scripted else source)
        self.rollout.mode.append('' if scripted else mode)
        self.traffic.step(t, dt, (self.ego.x, self.ego.y, self.ego.yaw, self.ego.speed))
        if scripted:
            i = self.expert.index(t + dt)
            self.ego = VehicleState(float(self.expert.x[i]), float(self.expert.y[i]),
                                    float(self.expert.yaw[i]), float(self.expert.speed[i]),
                                    float(self.expert.acceleration[i]), 0.0,
                                    float(self.expert.yaw_rate[i]))
        else:
            self.ego = self.vehicle.step(self.ego, command, dt)
        self.index += 1
