"""Scenario world: roads, crosswalks, agents moving along paths, and the rule-based expert ego."""

from dataclasses import dataclass, field
import math
from typing import List, Optional, Tuple

import numpy as np

from autovla_scenarios.geometry import Path2D

LANE_WIDTH_M = 3.5
# Ego footprint of the nuScenes planning metrics (ST-P3 / UniAD): width x length.
EGO_WIDTH_M = 1.85
EGO_LENGTH_M = 4.084
EGO_HEIGHT_M = 1.56

# Agent classes: size (length, width, height) in m and BGR colour of the rendered box.
AGENT_CLASSES = {
    'car': ((4.5, 1.9, 1.6), (180, 90, 30)),
    'truck': ((7.5, 2.5, 3.2), (40, 140, 200)),
    'pedestrian': ((0.6, 0.6, 1.8), (40, 40, 220)),
    'cone': ((0.4, 0.4, 0.75), (0, 120, 255)),
    'barrier': ((2.0, 0.5, 1.0), (60, 60, 230)),
}


@dataclass(frozen=True)
class Road:
    """A two-lane road (one lane each side of the centreline), markings omitted in gaps."""

    centerline: Path2D
    same_direction: bool = False          # left lane drives the same way (dashed centre line)
    marking_gaps: Tuple[Tuple[float, float], ...] = ()   # (s0, s1) without markings


@dataclass(frozen=True)
class TrafficLight:
    """A signal for the ego lane: red from ``red_from`` until ``red_until`` (s), else green.

    ``stop_s`` is the stop line's arc length along the scenario route; ``position`` is the
    signal head's (x, y) beside the road, for rendering.
    """

    stop_s: float
    position: Tuple[float, float]
    red_from: float = 0.0
    red_until: float = math.inf

    def red(self, t: float) -> bool:
        """Tell whether the light shows red at scenario time ``t``."""
        return self.red_from <= t < self.red_until


@dataclass(frozen=True)
class Crosswalk:
    """Zebra stripes across a road, centred on ``center``; ``yaw`` points across the road."""

    center: Tuple[float, float]
    yaw: float
    length: float = 2 * LANE_WIDTH_M
    depth: float = 3.0


def smoothstep(value: float) -> float:
    """0 below 0, 1 above 1, C1-smooth in between."""
    value = min(max(value, 0.0), 1.0)
    return value * value * (3.0 - 2.0 * value)


@dataclass(frozen=True)
class Agent:
    """A box moving along ``path`` at constant speed after ``start_time``, lane change optional.

    The lateral offset goes from ``lateral[0]`` to ``lateral[1]`` between the times
    ``lateral[2]`` and ``lateral[3]`` (a cut-in or a lane change).
    """

    agent_id: int
    kind: str
    path: Path2D
    s0: float
    speed: float = 0.0
    start_time: float = 0.0
    lateral: Tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    color: Optional[Tuple[int, int, int]] = None
    brake: Optional[Tuple[float, float]] = None   # (time, deceleration): brakes to a stop

    def speed_at(self, t: float) -> float:
        """Scripted speed (m/s) at scenario time ``t``."""
        if t < self.start_time:
            return 0.0
        if self.brake is None or t < self.brake[0]:
            return self.speed
        return max(0.0, self.speed - self.brake[1] * (t - self.brake[0]))

    def distance_at(self, t: float) -> float:
        """Scripted distance (m) travelled along the path by scenario time ``t``."""
        moving = max(0.0, t - self.start_time)
        if self.brake is None or t <= self.brake[0]:
            return self.speed * moving
        cruise = max(0.0, self.brake[0] - self.start_time)
        braking = min(t - self.brake[0], self.speed / self.brake[1])
        return self.speed * (cruise + braking) - 0.5 * self.brake[1] * braking ** 2

    @property
    def size(self) -> Tuple[float, float, float]:
        """(length, width, height) in m."""
        return AGENT_CLASSES[self.kind][0]

    @property
    def bgr(self) -> Tuple[int, int, int]:
        """Render colour."""
        return self.color or AGENT_CLASSES[self.kind][1]

    def _lateral_at(self, t: float) -> float:
        d0, d1, t0, t1 = self.lateral
        if t1 <= t0:
            return d0
        return d0 + (d1 - d0) * smoothstep((t - t0) / (t1 - t0))

    def pose(self, t: float) -> Tuple[float, float, float]:
        """World (x, y, yaw) at scenario time ``t`` (s), scripted motion."""
        return self.pose_at(t, self.distance_at(t), self.speed_at(t))

    def pose_at(self, t: float, distance: float, moving: float) -> Tuple[float, float, float]:
        """World (x, y, yaw) ``distance`` m along the path at speed ``moving`` at time ``t``.

        The lateral offset (cut-in, lane change) stays scripted in time; a reactive
        simulation supplies its own distance and speed.
        """
        x, y, yaw, _ = self.path.at(self.s0 + distance)
        lateral = self._lateral_at(t)
        dt = 0.05
        lateral_rate = (self._lateral_at(t + dt) - self._lateral_at(t - dt)) / (2 * dt)
        heading = yaw + (math.atan2(lateral_rate, moving) if moving > 0.1 else 0.0)
        return x - lateral * math.sin(yaw), y + lateral * math.cos(yaw), heading


@dataclass(frozen=True)
class Scenario:
    """Everything needed to simulate and render one scenario."""

    name: str
    description: str
    roads: Tuple[Road, ...]
    route: Path2D                 # the ego's lane centre, start = ego start (base_link)
    agents: Tuple[Agent, ...]
    cruise_speed: float           # m/s, the expert's desired speed on straight road
    initial_speed: float
    crosswalks: Tuple[Crosswalk, ...] = field(default=())
    traffic_lights: Tuple[TrafficLight, ...] = field(default=())
    lighting: float = 1.0         # image brightness factor (time of day); 1 = daylight


@dataclass(frozen=True)
class EgoTrack:
    """The expert ego's motion, sampled every ``dt`` seconds from t = 0."""

    dt: float
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    speed: np.ndarray
    acceleration: np.ndarray
    yaw_rate: np.ndarray

    def index(self, t: float) -> int:
        """Sample index at time ``t`` (nearest)."""
        return int(min(max(round(t / self.dt), 0), len(self.t) - 1))

    def pose(self, t: float) -> Tuple[float, float, float]:
        """(x, y, yaw) at time ``t``."""
        i = self.index(t)
        return float(self.x[i]), float(self.y[i]), float(self.yaw[i])


@dataclass(frozen=True)
class ExpertConfig:
    """Intelligent-driver-model settings of the rule-based expert."""

    max_accel: float = 1.5          # m/s^2
    comfort_decel: float = 2.0      # m/s^2
    max_decel: float = 6.0          # m/s^2
    max_lateral_accel: float = 2.0  # m/s^2, sets the speed through curves and turns
    time_headway: float = 1.5       # s
    standstill_gap: float = 4.0     # m, bumper to bumper
    lookahead: float = 60.0         # m
    corridor_margin: float = 0.4    # m each side of the ego width
    anticipation: float = 2.0       # s, agents entering the corridor this soon are obstacles


def curve_speed_limit(route: Path2D, cruise: float, config: ExpertConfig) -> np.ndarray:
    """Speed limit per route sample: lateral-acceleration cap, then braking feasibility."""
    with np.errstate(divide='ignore'):
        limit = np.minimum(cruise, np.sqrt(config.max_lateral_accel
                                           / np.maximum(np.abs(route.curvature), 1e-6)))
    ds = np.diff(route.s)
    for i in range(len(limit) - 2, -1, -1):
        limit[i] = min(limit[i], math.sqrt(limit[i + 1] ** 2 + 2 * config.comfort_decel * ds[i]))
    return limit


def gap_to_obstacle(scenario: Scenario, ego_s: float, t: float, v: float,
                    config: ExpertConfig) -> Tuple[float, float]:
    """Bumper gap (m) and speed along the route of the nearest obstacle ahead (inf if none)."""
    best_gap, best_speed = math.inf, 0.0
    half_corridor = EGO_WIDTH_M / 2 + config.corridor_margin
    for agent in scenario.agents:
        for horizon in (0.0, config.anticipation):
            x, y, yaw = agent.pose(t + horizon)
            s, lateral = scenario.route.project((x, y))
            length, width, _ = agent.size
            if abs(lateral) > half_corridor + width / 2:
                continue
            gap = s - ego_s - length / 2 - EGO_LENGTH_M
            if -EGO_LENGTH_M < gap < config.lookahead and gap < best_gap:
                _, _, route_yaw, _ = scenario.route.at(s)
                moving = agent.speed_at(t)
                best_gap = max(gap, 0.0)
                best_speed = 0.0 if horizon else moving * math.cos(yaw - route_yaw)
    return min((best_gap, best_speed), red_light_gap(scenario, ego_s, t, v, config))


def red_light_gap(scenario: Scenario, ego_s: float, t: float, speed: float,
                  config: ExpertConfig) -> Tuple[float, float]:
    """Gap (m) to the stop line of a red light ahead, as a standing obstacle (inf if none).

    A light the ego can no longer stop for at the largest deceleration is driven through
    (the dilemma zone), as a human driver would.
    """
    for light in scenario.traffic_lights:
        gap = light.stop_s - ego_s - EGO_LENGTH_M / 2
        if light.red(t) and gap > speed * speed / (2 * config.max_decel) and \
                gap < config.lookahead:
            return max(gap + config.standstill_gap - 1.0, 0.0), 0.0
    return math.inf, 0.0


def idm_acceleration(v: float, desired: float, gap: float, lead_speed: float,
                     config: ExpertConfig) -> float:
    """Intelligent-driver-model acceleration (m/s^2) at speed ``v`` behind a gap (inf: free).

    Never negative at standstill: the model does not reverse.
    """
    free = 1.0 - (v / max(desired, 0.1)) ** 4
    interaction = 0.0
    if math.isfinite(gap):
        wanted = config.standstill_gap + v * config.time_headway + v * (v - lead_speed) / (
            2 * math.sqrt(config.max_accel * config.comfort_decel))
        interaction = (max(wanted, 0.0) / max(gap, 0.1)) ** 2
    accel = float(np.clip(config.max_accel * (free - interaction), -config.max_decel,
                          config.max_accel))
    return 0.0 if v <= 0.0 and accel < 0.0 else accel


def simulate_expert(scenario: Scenario, duration: float, dt: float = 0.05,
                    config: ExpertConfig = ExpertConfig()) -> EgoTrack:
    """Drive the ego along the route with an intelligent driver model (IDM) for ``duration`` s."""
    limit = curve_speed_limit(scenario.route, scenario.cruise_speed, config)
    steps = int(round(duration / dt)) + 1
    s, v = 0.0, scenario.initial_speed
    rows: List[Tuple[float, ...]] = []
    for k in range(steps):
        t = k * dt
        x, y, yaw, curvature = scenario.route.at(s)
        desired = float(np.interp(s, scenario.route.s, limit))
        gap, lead_speed = gap_to_obstacle(scenario, s, t, v, config)
        accel = idm_acceleration(v, desired, gap, lead_speed, config)
        rows.append((t, x, y, yaw, v, accel, v * curvature))
        v = max(0.0, v + accel * dt)
        s += v * dt
    data = np.array(rows)
    return EgoTrack(dt, *(data[:, i].copy() for i in range(7)))
