"""The one scorer: NAVSIM PDM score terms and a Bench2Drive driving score (ROS-free).

Scores a *trace*: the ego's motion (t, x, y, yaw, speed) with the other road users at the
same instants. Two uses, one code path:
- ``score_rollout``: a closed-loop run (``Rollout`` of the simulator), plus the run-only
  figures (time per safety mode, planner share of control).
- ``score_plan``: a single plan against the scenario's future, as NAVSIM scores a plan
  (agents replayed non-reactively from their script). Training imports it as the RFT reward.

PDMS (NAVSIM v1) = NC x DAC x DDC x (5 TTC + 2 C + 5 EP) / 12:
- NC, no at-fault collision: 0 after hitting a vehicle or pedestrian, 0.5 after hitting a
  static object (cone, barrier); a collision while the ego stands still, or one from
  behind, is not the ego's fault.
- DAC, drivable area: 0 if any ego corner leaves the asphalt of every road.
- DDC, driving direction: 1 / 0.5 / 0 for at most 2 m / 6 m / more driven in an oncoming
  lane (outside junctions).
- TTC: 0 if, at some instant while moving, ego (continued at its speed and turn rate) and a
  road user ahead (at its velocity) would collide within 1 s.
- EP, ego progress along the route divided by the expert's in the same time (1 when the
  expert moves less than 5 m), clipped to [0, 1].
- C, comfort: 1 if every nuPlan bound holds (longitudinal acceleration, lateral
  acceleration, yaw rate and acceleration, longitudinal and total jerk).
Bench2Drive driving score = route completion x 0.5 per pedestrian collision x 0.6 per
vehicle collision x 0.65 per static collision x 0.7 per red light run; the expert's distance
in the same time stands in for the route length (our runs have a fixed duration).
"""

from dataclasses import dataclass
import math
from typing import Dict, List, Optional, Sequence

from autovla_scenarios.geometry import box_corners, rectangles_overlap
from autovla_scenarios.world import (
    EGO_LENGTH_M,
    EGO_WIDTH_M,
    EgoTrack,
    LANE_WIDTH_M,
    Scenario,
)
import numpy as np
from scipy.signal import savgol_filter

from autovla_sim.traffic import AgentBox

ROAD_HALF_WIDTH_M = LANE_WIDTH_M + 0.3     # two lanes and the shoulder, as rendered
KERB_TOLERANCE_M = 0.3                     # corner fillets at junctions are not modelled
JUNCTION_RADIUS_M = 12.0                   # within this of two roads' crossing: a junction
STATIC_KINDS = ('cone', 'barrier')
TTC_HORIZON_S = 1.0
MIN_TTC_SEARCH_S = 3.0
TTC_STEP_S = 0.1
MOVING_SPEED = 0.1                         # m/s, below it the ego stands still
EP_MIN_EXPERT_PROGRESS_M = 5.0
DDC_LIMITS_M = (2.0, 6.0)
# nuPlan comfort bounds (as NAVSIM uses them).
COMFORT_BOUNDS = {
    'min_lon_accel': -4.05, 'max_lon_accel': 2.40, 'max_abs_lat_accel': 4.89,
    'max_abs_yaw_rate': 0.95, 'max_abs_yaw_accel': 1.93, 'max_abs_lon_jerk': 4.13,
    'max_abs_mag_jerk': 8.37,
}
B2D_PENALTIES = {'pedestrian': 0.5, 'vehicle': 0.6, 'static': 0.65, 'red_light': 0.7}
PDMS_WEIGHTS = {'ttc': 5.0, 'comfort': 2.0, 'ego_progress': 5.0}


@dataclass(frozen=True)
class Trace:
    """An ego motion to score, with the road users at the same instants."""

    t: np.ndarray          # (N,) s, scenario time
    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    speed: np.ndarray
    agents: Sequence[Sequence[AgentBox]]


def agent_class(kind: str) -> str:
    """Bench2Drive / NAVSIM class of an agent kind: pedestrian, vehicle or static."""
    if kind == 'pedestrian':
        return 'pedestrian'
    return 'static' if kind in STATIC_KINDS else 'vehicle'


def _ego_box(x: float, y: float, yaw: float) -> np.ndarray:
    return box_corners(x, y, yaw, EGO_LENGTH_M, EGO_WIDTH_M)


def collisions(trace: Trace) -> List[Dict[str, object]]:
    """Collision events: the first instant each road user overlaps the ego (with fault)."""
    events, touching = [], set()
    for i in range(len(trace.t)):
        ego = _ego_box(trace.x[i], trace.y[i], trace.yaw[i])
        reach = EGO_LENGTH_M
        now = set()
        for agent in trace.agents[i]:
            if math.hypot(agent.x - trace.x[i], agent.y - trace.y[i]) > reach + agent.length:
                continue
            if not rectangles_overlap(ego, box_corners(*agent.box)):
                continue
            now.add(agent.agent_id)
            if agent.agent_id in touching:
                continue
            c, s = math.cos(trace.yaw[i]), math.sin(trace.yaw[i])
            ahead = c * (agent.x - trace.x[i]) + s * (agent.y - trace.y[i])
            at_fault = trace.speed[i] > MOVING_SPEED and ahead > -EGO_LENGTH_M / 4
            events.append({'t': round(float(trace.t[i]), 3), 'agent_id': agent.agent_id,
                           'kind': agent.kind, 'class': agent_class(agent.kind),
                           'at_fault': bool(at_fault)})
        touching = now
    return events


def _on_road(scenario: Scenario, point: np.ndarray) -> List[float]:
    """Signed lateral offsets of ``point`` from each road centreline it lies on."""
    offsets = []
    for road in scenario.roads:
        s, lateral = road.centerline.project(point)
        if -0.5 <= s <= road.centerline.length + 0.5 and \
                abs(lateral) <= ROAD_HALF_WIDTH_M + KERB_TOLERANCE_M:
            offsets.append(lateral)
    return offsets


def drivable_area_compliance(scenario: Scenario, trace: Trace) -> float:
    """1 if every ego corner stays on some road's asphalt at every instant, else 0."""
    for i in range(len(trace.t)):
        for corner in _ego_box(trace.x[i], trace.y[i], trace.yaw[i]):
            if not _on_road(scenario, corner):
                return 0.0
    return 1.0


def _in_junction(scenario: Scenario, point: np.ndarray) -> bool:
    """Tell whether ``point`` is near where two roads cross (turns cross lanes there)."""
    near = 0
    for road in scenario.roads:
        s, lateral = road.centerline.project(point)
        near += 0.0 <= s <= road.centerline.length and abs(lateral) <= JUNCTION_RADIUS_M
    return near > 1


def oncoming_distance(scenario: Scenario, trace: Trace) -> float:
    """Longest stretch (m) the ego centre drives in an oncoming lane, junctions excepted."""
    longest = current = 0.0
    for i in range(1, len(trace.t)):
        point = np.array([trace.x[i], trace.y[i]])
        step = math.hypot(trace.x[i] - trace.x[i - 1], trace.y[i] - trace.y[i - 1])
        oncoming = False
        if not _in_junction(scenario, point):
            for road in scenario.roads:
                if road.same_direction:
                    continue
                s, lateral = road.centerline.project(point)
                if abs(lateral) > ROAD_HALF_WIDTH_M:
                    continue
                _, _, road_yaw, _ = road.centerline.at(s)
                forward = math.cos(trace.yaw[i] - road_yaw) > 0.0
                oncoming = oncoming or (lateral > 0.0 if forward else lateral < 0.0)
        current = current + step if oncoming else 0.0
        longest = max(longest, current)
    return longest


def driving_direction_compliance(distance: float) -> float:
    """NAVSIM's 1 / 0.5 / 0 of the longest oncoming stretch."""
    if distance <= DDC_LIMITS_M[0]:
        return 1.0
    return 0.5 if distance <= DDC_LIMITS_M[1] else 0.0


def _turning_path(x: float, y: float, yaw: float, speed: float, yaw_rate: float,
                  times: np.ndarray) -> np.ndarray:
    """(N, 3) poses at ``times`` of constant speed and turn rate (straight if no turn)."""
    heading = yaw + yaw_rate * times
    if abs(yaw_rate) < 1e-4:
        return np.column_stack([x + speed * times * math.cos(yaw),
                                y + speed * times * math.sin(yaw), heading])
    radius = speed / yaw_rate
    return np.column_stack([x + radius * (np.sin(heading) - math.sin(yaw)),
                            y - radius * (np.cos(heading) - math.cos(yaw)), heading])


def time_to_collision(trace: Trace, horizon: float = MIN_TTC_SEARCH_S) -> float:
    """Smallest time to collision (s) with a road user ahead (inf if none).

    The ego continues at its speed and turn rate, the road user at its velocity.
    """
    best = math.inf
    stride = max(1, int(round(TTC_STEP_S / max(np.median(np.diff(trace.t)), 1e-3))))\
        if len(trace.t) > 1 else 1
    offsets = np.arange(TTC_STEP_S, horizon + 1e-9, TTC_STEP_S)
    yaw_rate = np.gradient(np.unwrap(trace.yaw), trace.t) if len(trace.t) > 1 else [0.0]
    for i in range(0, len(trace.t), stride):
        v = float(trace.speed[i])
        if v <= MOVING_SPEED:
            continue
        c, s = math.cos(trace.yaw[i]), math.sin(trace.yaw[i])
        ego_path = _turning_path(trace.x[i], trace.y[i], trace.yaw[i], v, float(yaw_rate[i]),
                                 offsets)
        for agent in trace.agents[i]:
            dx, dy = agent.x - trace.x[i], agent.y - trace.y[i]
            if c * dx + s * dy <= 0.0:
                continue   # behind the ego: not the ego's conflict
            if math.hypot(dx, dy) > (v + agent.speed) * horizon + EGO_LENGTH_M + agent.length:
                continue
            ac, as_ = math.cos(agent.yaw), math.sin(agent.yaw)
            for k, dt in enumerate(offsets):
                if dt >= best:
                    break
                ego = _ego_box(*ego_path[k])
                other = box_corners(agent.x + agent.speed * ac * dt,
                                    agent.y + agent.speed * as_ * dt, agent.yaw,
                                    agent.length, agent.width)
                if rectangles_overlap(ego, other):
                    best = float(dt)
                    break
    return best


def progress(scenario: Scenario, x: Sequence[float], y: Sequence[float]) -> float:
    """Distance (m) gained along the route between the first and last position."""
    start = scenario.route.project((x[0], y[0]))[0]
    end = scenario.route.project((x[-1], y[-1]))[0]
    return float(end - start)


def comfort_figures(trace: Trace) -> Dict[str, float]:
    """Extremes of the nuPlan comfort quantities, from Savitzky-Golay derivatives at 10 Hz."""
    if len(trace.t) < 4 or trace.t[-1] - trace.t[0] < 0.5:
        return {}
    t = np.arange(trace.t[0], trace.t[-1] + 1e-9, 0.1)
    x, y = np.interp(t, trace.t, trace.x), np.interp(t, trace.t, trace.y)
    yaw = np.interp(t, trace.t, np.unwrap(trace.yaw))
    window = min(15, len(t) if len(t) % 2 else len(t) - 1)
    if window < 5:
        return {}

    def derivative(values: np.ndarray, order: int) -> np.ndarray:
        return savgol_filter(values, window, 2, deriv=order, delta=0.1, mode='interp')

    ax, ay = derivative(x, 2), derivative(y, 2)
    c, s = np.cos(yaw), np.sin(yaw)
    lon_accel = c * ax + s * ay
    lat_accel = -s * ax + c * ay
    lon_jerk = derivative(lon_accel, 1)
    mag_jerk = np.hypot(np.gradient(ax, 0.1), np.gradient(ay, 0.1))
    yaw_rate = derivative(yaw, 1)
    yaw_accel = derivative(yaw, 2)
    return {'min_lon_accel': float(lon_accel.min()), 'max_lon_accel': float(lon_accel.max()),
            'max_abs_lat_accel': float(np.abs(lat_accel).max()),
            'max_abs_yaw_rate': float(np.abs(yaw_rate).max()),
            'max_abs_yaw_accel': float(np.abs(yaw_accel).max()),
            'max_abs_lon_jerk': float(np.abs(lon_jerk).max()),
            'max_abs_mag_jerk': float(mag_jerk.max())}


def comfort(figures: Dict[str, float]) -> float:
    """1 if every figure is within its nuPlan bound (or there are none), else 0."""
    for name, value in figures.items():
        bound = COMFORT_BOUNDS[name]
        if (value < bound) if name.startswith('min') else (value > bound):
            return 0.0
    return 1.0


def red_lights_run(scenario: Scenario, trace: Trace) -> int:
    """Count the times the ego's front crossed a stop line while its light was red."""
    count = 0
    for light in scenario.traffic_lights:
        front = [scenario.route.project((x, y))[0] + EGO_LENGTH_M / 2
                 for x, y in zip(trace.x, trace.y)]
        for i in range(1, len(front)):
            if front[i - 1] < light.stop_s <= front[i] and light.red(float(trace.t[i])):
                count += 1
    return count


def score_trace(scenario: Scenario, trace: Trace, expert_progress: float) -> Dict[str, object]:
    """Every PDMS term, the PDMS, the Bench2Drive driving score and their raw figures."""
    events = collisions(trace)
    at_fault = [e for e in events if e['at_fault']]
    nc = 1.0
    for event in at_fault:
        nc = min(nc, 0.5 if event['class'] == 'static' else 0.0)
    dac = drivable_area_compliance(scenario, trace)
    oncoming = oncoming_distance(scenario, trace)
    ddc = driving_direction_compliance(oncoming)
    ttc_value = time_to_collision(trace)
    ttc = 0.0 if ttc_value <= TTC_HORIZON_S else 1.0
    ego_progress = progress(scenario, trace.x, trace.y)
    ep = 1.0 if expert_progress < EP_MIN_EXPERT_PROGRESS_M else \
        float(np.clip(ego_progress / expert_progress, 0.0, 1.0))
    figures = comfort_figures(trace)
    c = comfort(figures)
    weighted = (PDMS_WEIGHTS['ttc'] * ttc + PDMS_WEIGHTS['comfort'] * c
                + PDMS_WEIGHTS['ego_progress'] * ep) / sum(PDMS_WEIGHTS.values())
    red_runs = red_lights_run(scenario, trace)
    penalty = B2D_PENALTIES['red_light'] ** red_runs
    for event in events:
        if event['at_fault']:
            penalty *= B2D_PENALTIES[event['class']]
    route_completion = 1.0 if expert_progress < EP_MIN_EXPERT_PROGRESS_M else \
        float(np.clip(ego_progress / expert_progress, 0.0, 1.0))
    return {
        'pdms': nc * dac * ddc * weighted,
        'terms': {'no_at_fault_collision': nc, 'drivable_area': dac,
                  'driving_direction': ddc, 'time_to_collision': ttc,
                  'ego_progress': ep, 'comfort': c},
        'driving_score': 100.0 * route_completion * penalty,
        'route_completion': 100.0 * route_completion,
        'infraction_penalty': penalty,
        'collisions': events,
        'at_fault_collisions': len(at_fault),
        'red_lights_run': red_runs,
        'min_ttc_s': ttc_value,
        'oncoming_m': oncoming,
        'progress_m': ego_progress,
        'expert_progress_m': expert_progress,
        'comfort_figures': figures,
    }


def score_rollout(rollout, from_time: float = 0.0) -> Dict[str, object]:
    """Score a closed-loop ``Rollout`` from ``from_time`` on (the hand-over, usually)."""
    ego = rollout.ego_array()
    keep = ego[:, 0] >= from_time - 1e-9
    trace = Trace(ego[keep, 0], ego[keep, 1], ego[keep, 2], ego[keep, 3], ego[keep, 4],
                  [a for a, k in zip(rollout.agents, keep) if k])
    expert = rollout.expert
    first, last = expert.index(trace.t[0]), expert.index(trace.t[-1])
    result = score_trace(rollout.scenario, trace,
                         progress(rollout.scenario, expert.x[[first, last]],
                                  expert.y[[first, last]]))
    dt = float(np.median(np.diff(ego[:, 0]))) if len(ego) > 1 else 0.0
    modes: Dict[str, float] = {}
    for mode, k in zip(rollout.mode, keep):
        if k and mode:
            modes[mode] = modes.get(mode, 0.0) + dt
    sources = [s for s, k in zip(rollout.source, keep) if k]
    result['safety_time_s'] = modes
    result['planner_share'] = float(np.mean([s == 'vla' for s in sources])) if sources \
        else math.nan
    result['max_abs_accel'] = float(np.abs(ego[keep, 5]).max()) if keep.any() else math.nan
    return result


def score_plan(scenario: Scenario, expert: EgoTrack, t0: float,
               ego_pose: Sequence[float], ego_speed: float, plan_t: Sequence[float],
               plan_xy: Sequence[Sequence[float]],
               plan_yaw: Optional[Sequence[float]] = None) -> Dict[str, object]:
    """Open-loop PDMS of one plan (base_link at ``ego_pose``, time ``t0``), NAVSIM-style.

    The plan's points (``plan_t`` s after ``t0``) are placed in the world; the road users
    follow their script (non-reactive); progress is compared with ``expert`` over the same
    horizon. Returns the same dictionary as ``score_trace``.
    """
    plan_t = np.asarray(plan_t, float)
    local = np.asarray(plan_xy, float).reshape(-1, 2)
    if not len(plan_t) or len(plan_t) != len(local) or not np.isfinite(local).all():
        raise ValueError('plan needs matching, finite times and points')
    x0, y0, yaw0 = (float(v) for v in ego_pose)
    if plan_yaw is None:
        delta = np.diff(np.vstack([[0.0, 0.0], local]), axis=0)
        plan_yaw = np.arctan2(delta[:, 1], delta[:, 0])
    c, s = math.cos(yaw0), math.sin(yaw0)
    t = np.concatenate([[0.0], plan_t]) + t0
    x = np.concatenate([[x0], x0 + c * local[:, 0] - s * local[:, 1]])
    y = np.concatenate([[y0], y0 + s * local[:, 0] + c * local[:, 1]])
    yaw = np.concatenate([[yaw0], yaw0 + np.asarray(plan_yaw, float)])
    dt = np.diff(t)
    speed = np.concatenate([[ego_speed], np.hypot(np.diff(x), np.diff(y)) / dt])
    agents = []
    for time in t:
        boxes = []
        for agent in scenario.agents:
            length, width, _ = agent.size
            boxes.append(AgentBox(agent.agent_id, agent.kind, *agent.pose(float(time)),
                                  length, width, agent.speed_at(float(time))))
        agents.append(boxes)
    first, last = expert.index(t[0]), expert.index(t[-1])
    return score_trace(scenario, Trace(t, x, y, yaw, speed, agents),
                       progress(scenario, expert.x[[first, last]], expert.y[[first, last]]))
