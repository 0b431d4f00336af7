"""Other road users in closed loop: vehicles follow their script but brake for what is ahead.

Each moving vehicle (car or truck with a scripted speed) keeps its own distance and speed
along its path. Its acceleration is the smaller of (a) tracking its scripted speed, so with
nothing in the way it drives exactly its script, and (b) the intelligent driver model (IDM,
the expert's settings) behind the nearest box ahead in its lane: the ego or another vehicle.
So a car behind a braking ego brakes, and a crossing car stops for an ego in the junction.
Pedestrians, parked cars and cones follow their script (pedestrians cross as scripted).
"""

from dataclasses import dataclass
import math
from typing import List, Sequence, Tuple

from autovla_scenarios.world import (
    Agent,
    EGO_LENGTH_M,
    EGO_WIDTH_M,
    ExpertConfig,
    idm_acceleration,
    Scenario,
)

# Seconds over which a reactive vehicle closes a gap to its scripted speed.
SCRIPT_TRACKING_S = 0.5
# Lateral clearance (m) beyond both half-widths within which a box counts as in the lane.
LANE_MARGIN_M = 0.3


@dataclass(frozen=True)
class AgentBox:
    """One road user at one instant: footprint, heading, speed and class."""

    agent_id: int
    kind: str
    x: float
    y: float
    yaw: float
    length: float
    width: float
    speed: float

    @property
    def box(self) -> Tuple[float, float, float, float, float]:
        """(x, y, yaw, length, width), the box format of the open-loop metrics."""
        return self.x, self.y, self.yaw, self.length, self.width


def reactive(agent: Agent) -> bool:
    """Tell whether ``agent`` is a moving vehicle (IDM) rather than a scripted one."""
    return agent.kind in ('car', 'truck') and agent.speed > 0.0


class Traffic:
    """State of every agent of a scenario, stepped with the ego in simulated time."""

    def __init__(self, scenario: Scenario, config: ExpertConfig = ExpertConfig()):
        self.scenario = scenario
        self.config = config
        self.distance = [agent.distance_at(0.0) for agent in scenario.agents]
        self.speed = [agent.speed_at(0.0) for agent in scenario.agents]

    def boxes(self, t: float) -> List[AgentBox]:
        """Every agent at time ``t`` (reactive ones at their simulated distance)."""
        boxes = []
        for i, agent in enumerate(self.scenario.agents):
            if reactive(agent):
                pose = agent.pose_at(t, self.distance[i], self.speed[i])
                speed = self.speed[i]
            else:
                pose, speed = agent.pose(t), agent.speed_at(t)
            length, width, _ = agent.size
            boxes.append(AgentBox(agent.agent_id, agent.kind, *pose, length, width, speed))
        return boxes

    def step(self, t: float, dt: float, ego: Tuple[float, float, float, float]) -> None:
        """Advance the reactive vehicles from ``t`` to ``t + dt``; ego = (x, y, yaw, speed)."""
        boxes = self.boxes(t)
        ego_box = AgentBox(-1, 'ego', *ego[:3], EGO_LENGTH_M, EGO_WIDTH_M, ego[3])
        for i, agent in enumerate(self.scenario.agents):
            if not reactive(agent):
                continue
            scripted = agent.speed_at(t + dt)
            accel = (scripted - self.speed[i]) / SCRIPT_TRACKING_S
            others = [ego_box] + [box for j, box in enumerate(boxes) if j != i]
            gap, lead_speed = self._leader(agent, i, boxes[i], others)
            if math.isfinite(gap):
                accel = min(accel, idm_acceleration(self.speed[i], max(scripted, 0.1), gap,
                                                    lead_speed, self.config))
            accel = max(accel, -self.config.max_decel)
            new_speed = max(0.0, self.speed[i] + accel * dt)
            self.distance[i] += 0.5 * (new_speed + self.speed[i]) * dt
            self.speed[i] = new_speed

    def _leader(self, agent: Agent, index: int, own: AgentBox,
                others: Sequence[AgentBox]) -> Tuple[float, float]:
        """Bumper gap and along-path speed of the nearest box ahead in the agent's lane."""
        own_s = agent.s0 + self.distance[index]
        own_lateral = agent.path.project((own.x, own.y))[1]
        best = (math.inf, 0.0)
        for other in others:
            if math.hypot(other.x - own.x, other.y - own.y) > self.config.lookahead + 10.0:
                continue
            s, lateral = agent.path.project((other.x, other.y))
            if abs(lateral - own_lateral) > (own.width + other.width) / 2 + LANE_MARGIN_M:
                continue
            gap = s - own_s - (own.length + other.length) / 2
            if -own.length / 2 < gap < best[0] and gap < self.config.lookahead:
                _, _, path_yaw, _ = agent.path.at(s)
                best = (max(gap, 0.0), other.speed * math.cos(other.yaw - path_yaw))
        return best
