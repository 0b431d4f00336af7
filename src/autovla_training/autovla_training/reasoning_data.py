"""Chains of thought for training frames, written from a scenario's privileged state.

For a frame at scenario time ``t`` the generator knows everything: every agent's scripted
motion, the traffic lights' phases, the roads and the rule-based expert's future. ``analyse``
turns that into facts (``FrameFacts``); ``write_reasoning`` words them as the five parts the
official chain-of-thought system prompt asks for:
1. scene analysis (road layout, traffic light, crosswalk, light conditions, ego speed);
2. two or three critical objects with their positions relative to the ego;
3. their predicted behaviour over the next seconds;
4. the ego's intent;
5. the final lateral and longitudinal meta-action from the official lists, classified from the
   expert's future exactly as the planner classifies a plan (``trajectory.meta_actions``).
Every part has several phrasings; a generator seeded with (seed, scenario, frame time) picks
one, so a model cannot learn one template by heart and the data is reproducible.

Complex or simple (which frames are trained with the reasoning): "cruising" is following the
ego's lane at the speed the expert chooses on a free road (the curve speed limit included).
A frame is complex when the expert's next 5 s differ from that:
- the path leaves the lane the ego is in (a turn at a junction, a lane change): the expert's
  future strays more than LEAVES_LANE_M sideways from the ego's lane centre line;
- or it brakes for something: its longitudinal action is a braking one (stop, deceleration to
  zero, deceleration, quick deceleration) and at some future step it is more than
  BRAKING_MARGIN_MPS slower than free cruising from the same state would be (following a car
  at steady speed or slowing for a bend is cruising).
Everything else is simple.
"""

from dataclasses import dataclass, replace
import math
from typing import Dict, List, Optional, Sequence, Tuple
import zlib

from autovla_planner.trajectory import meta_actions
from autovla_scenarios.catalogue import make_scenario
from autovla_scenarios.geometry import to_frame, wrap_angle
from autovla_scenarios.world import (
    curve_speed_limit,
    EgoTrack,
    ExpertConfig,
    gap_to_obstacle,
    idm_acceleration,
    LANE_WIDTH_M,
    Scenario,
    simulate_expert,
)
import numpy as np

# The official meta-action vocabularies (system prompt of the CoT mode).
LATERAL_ACTIONS = ('move forward', 'turn left', 'change lane to left', 'turn right',
                   'change lane to right')
LONGITUDINAL_ACTIONS = ('stop', 'deceleration to zero', 'maintain constant speed',
                        'quick deceleration', 'deceleration', 'quick acceleration',
                        'acceleration')
BRAKING_ACTIONS = ('stop', 'deceleration to zero', 'quick deceleration', 'deceleration')

STEP_S = 0.5                 # the expert future's waypoint spacing
HORIZON_STEPS = 10           # 5 s
LEAVES_LANE_M = 1.2          # sideways from the ego lane's centre: a turn or a lane change
BRAKING_MARGIN_MPS = 1.0     # slower than free cruising by this: braking for something
REACTION_WINDOW_S = 3.0      # objects the expert reacts to within this time are "blocking"
NEARBY_M = 60.0              # objects farther away are not critical
LIGHT_RANGE_M = 60.0
SIMULATION_DT_S = 0.05       # world.simulate_expert's step


@dataclass(frozen=True)
class CriticalObject:
    """A road user, obstacle or traffic light the reasoning names."""

    kind: str                  # car, truck, pedestrian, cone, barrier, traffic light
    x: float                   # m ahead of the ego (base_link)
    y: float                   # m to the left of the ego
    speed: float               # m/s (0 for lights)
    behaviour: str             # see BEHAVIOUR_PHRASES
    blocking: bool             # the expert reacts to it within REACTION_WINDOW_S
    agent_id: int = -1         # -1 for a traffic light

    @property
    def distance(self) -> float:
        """Distance from the ego (m)."""
        return math.hypot(self.x, self.y)


@dataclass(frozen=True)
class FrameFacts:
    """What the reasoning of one frame says, decided from the privileged state."""

    scenario: str
    t: float
    speed: float
    road: str                  # straight, curve, intersection
    one_way: bool
    light: Optional[str]       # red / green light ahead within LIGHT_RANGE_M, else None
    crosswalk_m: Optional[float]
    dusk: bool
    lateral: str
    longitudinal: str
    leaves_lane: bool
    brakes_for_something: bool
    objects: Tuple[CriticalObject, ...]

    @property
    def complex(self) -> bool:
        """Complex: the expert does something other than cruise (module docstring)."""
        return self.leaves_lane or self.brakes_for_something


@dataclass(frozen=True)
class Reasoning:
    """The five parts of one frame's chain of thought."""

    facts: FrameFacts
    parts: Tuple[str, str, str, str, str]

    @property
    def text(self) -> str:
        """The reasoning as the model writes it after the slow-thinking sentence."""
        return '\n'.join(self.parts)


def expert_future(track: EgoTrack, t: float) -> np.ndarray:
    """(10, 3) x, y, yaw of the expert at t + 0.5 .. 5 s in the ego frame at ``t``."""
    ego = track.pose(t)
    future = [track.pose(t + STEP_S * k) for k in range(1, HORIZON_STEPS + 1)]
    xy = to_frame(np.array([p[:2] for p in future]), ego)
    yaw = [wrap_angle(p[2] - ego[2]) for p in future]
    return np.column_stack([xy, yaw])


def free_cruise_speeds(scenario: Scenario, ego_s: float, speed: float,
                       config: ExpertConfig = ExpertConfig()) -> np.ndarray:
    """Speeds at 0.5 .. 5 s of the expert's model on an empty road from (ego_s, speed)."""
    limit = curve_speed_limit(scenario.route, scenario.cruise_speed, config)
    per_step = int(round(STEP_S / SIMULATION_DT_S))
    speeds = []
    s, v = ego_s, speed
    for k in range(HORIZON_STEPS * per_step):
        desired = float(np.interp(s, scenario.route.s, limit))
        v = max(0.0, v + idm_acceleration(v, desired, math.inf, 0.0, config) * SIMULATION_DT_S)
        s += v * SIMULATION_DT_S
        if (k + 1) % per_step == 0:
            speeds.append(v)
    return np.array(speeds)


def _nearest_road(scenario: Scenario, xy: Sequence[float]):
    return min(scenario.roads, key=lambda road: abs(road.centerline.project(xy)[1]))


def leaves_lane(scenario: Scenario, track: EgoTrack, t: float) -> bool:
    """Tell whether the expert's next 5 s stray from the lane the ego is in at ``t``."""
    ego = track.pose(t)
    road = _nearest_road(scenario, ego[:2])
    start = road.centerline.project(ego[:2])[1]
    lane_centre = math.copysign(LANE_WIDTH_M / 2, start) if start else -LANE_WIDTH_M / 2
    for k in range(1, HORIZON_STEPS + 1):
        offset = road.centerline.project(track.pose(t + STEP_S * k)[:2])[1]
        if abs(offset - lane_centre) > LEAVES_LANE_M:
            return True
    return False


def _blocking_gap(scenario: Scenario, track: EgoTrack, t: float, agents=(), lights=()
                  ) -> float:
    """Smallest gap to ``agents``/``lights`` the expert's obstacle model sees within the window."""
    alone = replace(scenario, agents=tuple(agents), traffic_lights=tuple(lights))
    config = ExpertConfig()
    best = math.inf
    for k in range(int(REACTION_WINDOW_S / STEP_S) + 1):
        moment = t + STEP_S * k
        index = track.index(moment)
        ego_s = scenario.route.project((track.x[index], track.y[index]))[0]
        best = min(best, gap_to_obstacle(alone, ego_s, moment, float(track.speed[index]),
                                         config)[0])
    return best


def _agent_behaviour(agent, t: float, ego_yaw: float) -> str:
    now, later = agent.speed_at(t), agent.speed_at(t + 3.0)
    if agent.kind in ('cone', 'barrier') or (now < 0.3 and later < 0.3):
        return 'stationary' if agent.kind in ('cone', 'barrier', 'car', 'truck') \
            else 'waiting'
    if later < now - 1.0:
        return 'braking'
    if now < 0.3 <= later:
        return 'starting'
    x0, y0, yaw = agent.pose(t)
    if agent.kind == 'pedestrian':
        return 'crossing'
    start_offset, end_offset, start, end = agent.lateral
    if abs(end_offset - start_offset) > 1.0 and t < end and t + 3.0 > start:
        return 'cutting_in'
    heading = wrap_angle(yaw - ego_yaw)
    if abs(heading) > 2.5:
        return 'oncoming'
    if abs(heading) > 0.8:
        return 'crossing_traffic'
    return 'same_direction'


def critical_objects(scenario: Scenario, track: EgoTrack, t: float, light: Optional[str]
                     ) -> Tuple[CriticalObject, ...]:
    """Two or three objects: what the expert reacts to first, then the nearest others."""
    ego = track.pose(t)
    candidates: List[Tuple[float, CriticalObject]] = []
    for agent in scenario.agents:
        x, y, _ = agent.pose(t)
        local = to_frame(np.array([[x, y]]), ego)[0]
        distance = float(np.hypot(*local))
        blocking = math.isfinite(_blocking_gap(scenario, track, t, agents=(agent,)))
        if distance > NEARBY_M and not blocking:
            continue
        obj = CriticalObject(agent.kind, float(local[0]), float(local[1]),
                             float(agent.speed_at(t)), _agent_behaviour(agent, t, ego[2]),
                             blocking, agent.agent_id)
        # Blocking objects first, then moving road users, then the rest, nearest first.
        rank = (0 if blocking else 1 if obj.speed > 0.3 or agent.kind == 'pedestrian'
                else 2)
        candidates.append((rank * 1000.0 + distance, obj))
    for signal in scenario.traffic_lights:
        x, y = signal.position
        local = to_frame(np.array([[x, y]]), ego)[0]
        if light is None or local[0] < 0:
            continue
        blocking = math.isfinite(_blocking_gap(scenario, track, t, lights=(signal,)))
        behaviour = 'red' if signal.red(t) and signal.red(t + 3.0) else \
            'turns_green' if signal.red(t) else 'green'
        obj = CriticalObject('traffic light', float(local[0]), float(local[1]), 0.0,
                             behaviour, blocking)
        candidates.append(((0 if blocking else 1) * 1000.0 + float(np.hypot(*local)), obj))
    candidates.sort(key=lambda item: item[0])
    chosen = [obj for _, obj in candidates[:3]]
    if len(chosen) == 3 and not chosen[2].blocking and chosen[2].distance > NEARBY_M / 2:
        chosen = chosen[:2]
    return tuple(chosen)


def analyse(scenario: Scenario, track: EgoTrack, t: float) -> FrameFacts:
    """Decide the facts of the frame at scenario time ``t`` (``track``: the scenario's expert)."""
    index = track.index(t)
    ego = track.pose(t)
    speed = float(track.speed[index])
    ego_s = scenario.route.project(ego[:2])[0]
    future = expert_future(track, t)
    lateral, longitudinal, _ = meta_actions(future, speed)
    expert_speeds = np.array([track.speed[track.index(t + STEP_S * k)]
                              for k in range(1, HORIZON_STEPS + 1)])
    slower = np.max(free_cruise_speeds(scenario, ego_s, speed) - expert_speeds)
    brakes = longitudinal in BRAKING_ACTIONS and slower > BRAKING_MARGIN_MPS
    light = None
    for signal in scenario.traffic_lights:
        if 0.0 < signal.stop_s - ego_s < LIGHT_RANGE_M:
            light = 'red' if signal.red(t) else 'green'
    crosswalk = None
    for walk in scenario.crosswalks:
        ahead = to_frame(np.array([walk.center]), ego)[0][0]
        if 0.0 < ahead < NEARBY_M:
            crosswalk = float(ahead)
    ahead_s = np.linspace(ego_s, ego_s + 40.0, 9)
    bend = max(abs(scenario.route.at(s)[3]) for s in ahead_s)
    near_junction = len(scenario.roads) > 1 and any(
        abs(road.centerline.project(ego[:2])[1]) > LANE_WIDTH_M
        or np.min(np.hypot(*(road.centerline.xy - ego[:2]).T)) < 45.0
        for road in scenario.roads[1:])
    road = 'intersection' if near_junction else 'curve' if bend > 1.0 / 150.0 else 'straight'
    return FrameFacts(
        scenario.name, t, speed, road, scenario.roads[0].same_direction, light, crosswalk,
        scenario.lighting < 0.7, lateral, longitudinal, leaves_lane(scenario, track, t),
        bool(brakes), critical_objects(scenario, track, t, light))


# -- wording --------------------------------------------------------------------------------

ROAD_PHRASES = {
    'straight': ('The ego vehicle is on a straight two-lane road',
                 'We are driving along a straight road with two lanes',
                 'The road ahead runs straight, with two lanes'),
    'curve': ('The ego vehicle is on a two-lane road that bends ahead',
              'A curve lies ahead on this two-lane road',
              'The road curves in front of us; it has two lanes'),
    'intersection': ('The ego vehicle is approaching a four-way intersection',
                     'There is a four-way junction ahead of us',
                     'We are close to an intersection where a cross road meets ours'),
}
TRAFFIC_PHRASES = {
    True: ('both lanes carry traffic in our direction',
           'it is a one-way road with two lanes'),
    False: ('the left lane carries oncoming traffic',
            'traffic in the other lane comes towards us'),
}
BEHAVIOUR_PHRASES = {
    'stationary': ('is not moving and will stay where it is', 'stands still',
                   'is static and will remain in place'),
    'waiting': ('waits at the kerb for now', 'stands at the roadside, not walking yet'),
    'braking': ('is braking hard and will come to a stop', 'is slowing down sharply',
                'will stop within the next few seconds'),
    'starting': ('is about to start moving', 'will set off shortly'),
    'crossing': ('is walking across the road', 'is crossing our path on foot',
                 'will walk into the lane in front of us'),
    'cutting_in': ('is moving into our lane ahead of us', 'is cutting in in front of us',
                   'is changing into the ego lane'),
    'oncoming': ('is driving towards us in the other lane', 'is oncoming and stays in its lane',
                 'approaches from the opposite direction'),
    'crossing_traffic': ('is travelling on the cross road', 'is driving across our route',
                         'moves along the intersecting road'),
    'same_direction': ('keeps driving ahead in our direction', 'travels the same way as us',
                       'moves on in the same direction'),
    'red': ('shows red and will stay red', 'is red for us', 'remains red'),
    'turns_green': ('is red but is about to turn green', 'will switch to green soon'),
    'green': ('shows green', 'is green for our lane', 'lets us pass on green'),
}
KIND_WORDS = {'car': ('car', 'vehicle', 'passenger car'), 'truck': ('truck', 'large vehicle'),
              'pedestrian': ('pedestrian', 'person on foot'), 'cone': ('traffic cone', 'cone'),
              'barrier': ('barrier', 'road barrier'),
              'traffic light': ('traffic light', 'signal')}


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def position_phrase(obj: CriticalObject) -> str:
    """Where ``obj`` is relative to the ego, e.g. '24 m ahead in our lane'."""
    distance = f'{obj.distance:.0f} m'
    if obj.x < -2.0:
        side = 'on the left' if obj.y > LANE_WIDTH_M / 2 else \
            'on the right' if obj.y < -LANE_WIDTH_M / 2 else 'in our lane'
        return f'{distance} behind, {side}'
    if abs(obj.y) <= LANE_WIDTH_M / 2:
        return f'{distance} ahead in our lane'
    if obj.y <= 1.5 * LANE_WIDTH_M and obj.y > 0:
        return f'{distance} ahead in the left lane'
    return f'{distance} ahead on the {"left" if obj.y > 0 else "right"}'


def _scene(facts: FrameFacts, rng) -> str:
    parts = [_pick(rng, ROAD_PHRASES[facts.road]) + ', and '
             + _pick(rng, TRAFFIC_PHRASES[facts.one_way]) + '.']
    if facts.light:
        parts.append(_pick(rng, (f'A traffic light ahead is {facts.light}.',
                                 f'The signal for our lane shows {facts.light}.')))
    if facts.crosswalk_m is not None:
        parts.append(_pick(rng, (f'A zebra crossing lies about {facts.crosswalk_m:.0f} m '
                                 'ahead.', f'There is a pedestrian crossing '
                                 f'{facts.crosswalk_m:.0f} m in front of us.')))
    parts.append(_pick(rng, ('It is getting dark.', 'Visibility is reduced at dusk.'))
                 if facts.dusk else _pick(rng, ('It is daytime.', 'Visibility is good.')))
    parts.append(_pick(rng, (f'Our speed is {facts.speed:.1f} m/s.',
                             f'The ego vehicle moves at {facts.speed:.1f} m/s.',
                             f'We are travelling at {facts.speed:.1f} m/s.')))
    return '1. Scene analysis: ' + ' '.join(parts)


def _objects(facts: FrameFacts, rng) -> str:
    names = [f'{_pick(rng, KIND_WORDS[o.kind])} {position_phrase(o)}' for o in facts.objects]
    if not names:
        return '2. Critical objects: ' + _pick(rng, ('none nearby.', 'the road is clear.'))
    listed = names[0] if len(names) == 1 else ', '.join(names[:-1]) + ' and ' + names[-1]
    return '2. Critical objects: ' + _pick(rng, ('the ', 'a ')) + listed + '.'


def _behaviour(facts: FrameFacts, rng) -> str:
    if not facts.objects:
        return '3. Prediction: ' + _pick(rng, ('nothing will enter our path.',
                                               'no object will interfere.'))
    sentences = [f'The {o.kind} {_pick(rng, BEHAVIOUR_PHRASES[o.behaviour])}.'
                 for o in facts.objects]
    return '3. Prediction: ' + ' '.join(sentences)


def _intent(facts: FrameFacts, rng) -> str:
    blocker = next((o for o in facts.objects if o.blocking), None)
    if facts.lateral.startswith('turn') and facts.leaves_lane:
        direction = facts.lateral.split()[-1]
        options = (f'follow the route and turn {direction} at the intersection',
                   f'take the {direction} turn once the way is clear')
    elif facts.lateral.startswith('change lane') and facts.leaves_lane:
        side = facts.lateral.split()[-1]
        options = (f'move to the {side} lane to get past the blockage',
                   f'change lanes to the {side} and continue')
    elif facts.brakes_for_something and blocker is not None:
        what = blocker.kind
        if what == 'traffic light':
            options = ('stop at the line and wait for green', 'brake for the red light')
        elif blocker.behaviour in ('oncoming', 'crossing_traffic'):
            options = (f'yield to the {what} before crossing its path',
                       f'wait for the {what} to pass')
        elif what == 'pedestrian':
            options = ('yield to the pedestrian and let them cross',
                       'slow down so the pedestrian can cross safely')
        elif blocker.speed < 0.3:
            options = (f'slow down and stop behind the {what}',
                       f'brake to keep a safe gap to the standing {what}')
        else:
            options = (f'brake to keep a safe distance to the {what}',
                       f'slow down behind the {what}')
    elif facts.brakes_for_something:
        options = ('slow down and yield', 'give way before continuing')
    elif facts.lateral != 'move forward':
        options = ('follow the lane through the bend', 'stay in lane around the curve')
    else:
        options = ('keep following the lane at a comfortable speed',
                   'continue in our lane', 'cruise on in the current lane')
    return '4. Intent: ' + _pick(rng, ('we should ', 'the ego vehicle should ',
                                       'the plan is to ')) + _pick(rng, options) + '.'


def _decision(facts: FrameFacts, rng) -> str:
    return '5. Final action: ' + _pick(rng, (
        f'lateral: {facts.lateral}; longitudinal: {facts.longitudinal}.',
        f'{facts.lateral}, {facts.longitudinal}.',
        f'lateral action {facts.lateral}, longitudinal action {facts.longitudinal}.'))


def write_reasoning(facts: FrameFacts, seed: int) -> Reasoning:
    """Word ``facts`` as the five parts; ``seed`` (with scenario and time) picks phrasings."""
    rng = np.random.default_rng([seed, zlib.crc32(facts.scenario.encode()),
                                 int(round(facts.t * 1000))])
    return Reasoning(facts, (_scene(facts, rng), _objects(facts, rng), _behaviour(facts, rng),
                             _intent(facts, rng), _decision(facts, rng)))


class ScenarioReasoner:
    """Reasoning for the frames of catalogue scenarios (each expert simulated once)."""

    def __init__(self, duration_s: float = 15.0):
        self.duration_s = duration_s
        self._worlds: Dict[Tuple[str, int], Tuple[Scenario, EgoTrack]] = {}

    def world(self, name: str, seed: int) -> Tuple[Scenario, EgoTrack]:
        """Return the scenario ``name`` with ``seed`` and its expert track."""
        key = (name, seed)
        if key not in self._worlds:
            scenario = make_scenario(name, seed)
            self._worlds[key] = (scenario, simulate_expert(scenario, self.duration_s))
        return self._worlds[key]

    def facts(self, name: str, seed: int, t: float) -> FrameFacts:
        """Facts of the frame at scenario time ``t``."""
        return analyse(*self.world(name, seed), t)

    def reasoning(self, name: str, seed: int, t: float, wording_seed: int = 0) -> Reasoning:
        """Return a frame's chain of thought (phrasings picked with ``seed``, ``wording_seed``)."""
        return write_reasoning(self.facts(name, seed, t), seed * 7919 + wording_seed)
