"""The scenario catalogue: thirteen seeded, reproducible driving situations.

World frame (odom): the main road's centreline runs along +x through y = 0 and the ego starts
at x = 0 in the right lane (y = -1.75 m), heading +x. The seed varies speeds, gaps and the
parked cars and cones on the shoulders; the situation itself stays the same. The six types
added for the closed loop also vary the time of day (image brightness).

``DEFAULT_SET`` is the original seven (what bags, the demo's open-loop regression and the
bundled model's training use unless told otherwise); ``HELD_OUT`` is never trained on.
"""

import math
from typing import Callable, Dict, List
import zlib

import numpy as np

from autovla_scenarios.geometry import build_path, lane_change_path, Path2D
from autovla_scenarios.world import (
    Agent,
    Crosswalk,
    LANE_WIDTH_M,
    Road,
    Scenario,
    TrafficLight,
)

HALF_LANE = LANE_WIDTH_M / 2
ROAD_START_X = -40.0
ROAD_LENGTH_M = 280.0
INTERSECTION_X = 45.0


def _rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _ego_lane(road: Road) -> Path2D:
    """Right-lane centreline starting at the ego's start (x = 0)."""
    lane = road.centerline.offset(-HALF_LANE)
    start = int(np.argmin(np.abs(lane.xy[:, 0])))
    xy = lane.xy[start:]
    steps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    return Path2D(xy, lane.yaw[start:], np.concatenate([[0.0], np.cumsum(steps)]),
                  lane.curvature[start:])


def _roadside(rng: np.random.Generator, road: Road, first_id: int, count: int = 4,
              start: float = 70.0) -> List[Agent]:
    """Parked cars and cones on the shoulders, clear of both lanes."""
    agents = []
    for i in range(count):
        kind = 'car' if i % 2 == 0 else 'cone'
        side = -1.0 if rng.random() < 0.6 else 1.0
        offset = side * (LANE_WIDTH_M + (1.4 if kind == 'car' else 0.6))
        s = start + 40.0 * i + rng.uniform(-8, 8)
        agents.append(Agent(first_id + i, kind, road.centerline.offset(offset), s))
    return agents


def _oncoming(rng: np.random.Generator, road: Road, first_id: int, count: int = 2,
              start: float = 70.0) -> List[Agent]:
    """Cars in the left lane driving towards the ego."""
    lane = road.centerline.offset(HALF_LANE).reversed()
    ego_s = lane.project((0.0, HALF_LANE))[0]
    return [Agent(first_id + i, 'car', lane, ego_s - start - 45.0 * i + rng.uniform(-8, 8),
                  speed=float(rng.uniform(7.0, 10.0))) for i in range(count)]


def straight_cruise(seed: int) -> Scenario:
    """Follow a slower car on a straight two-lane road, traffic oncoming."""
    rng = _rng('straight_cruise', seed)
    road = Road(build_path((ROAD_START_X, 0.0), 0.0, [('straight', ROAD_LENGTH_M)]))
    route = _ego_lane(road)
    lead = Agent(1, 'car', route, float(rng.uniform(25, 32)), speed=float(rng.uniform(7, 8.5)))
    return Scenario('straight_cruise', 'straight road, follow a slower lead car',
                    (road,), route, (lead, *_oncoming(rng, road, 10), *_roadside(rng, road, 20)),
                    cruise_speed=11.0, initial_speed=8.0)


def curve(seed: int) -> Scenario:
    """Take a left-hand curve at a speed the lateral-acceleration limit allows."""
    rng = _rng('curve', seed)
    radius = float(rng.uniform(45, 60))
    road = Road(build_path((ROAD_START_X, 0.0), 0.0,
                           [('straight', 65.0), ('arc', radius, 75.0), ('straight', 120.0)]))
    route = _ego_lane(road)
    return Scenario('curve', f'left-hand curve of {radius:.0f} m radius',
                    (road,), route, (*_oncoming(rng, road, 10), *_roadside(rng, road, 20, 3)),
                    cruise_speed=12.0, initial_speed=10.0)


def stopped_vehicle(seed: int) -> Scenario:
    """Stop behind a vehicle standing in the ego lane."""
    rng = _rng('stopped_vehicle', seed)
    road = Road(build_path((ROAD_START_X, 0.0), 0.0, [('straight', ROAD_LENGTH_M)]))
    route = _ego_lane(road)
    kind = 'truck' if rng.random() < 0.5 else 'car'
    stopped = Agent(1, kind, route, float(rng.uniform(50, 60)))
    return Scenario('stopped_vehicle', f'a {kind} stands in the ego lane ahead', (road,), route,
                    (stopped, *_oncoming(rng, road, 10), *_roadside(rng, road, 20, 2, 100.0)),
                    cruise_speed=10.0, initial_speed=9.0)


def pedestrian_crossing(seed: int) -> Scenario:
    """Yield to a pedestrian crossing on a zebra crossing."""
    rng = _rng('pedestrian_crossing', seed)
    road = Road(build_path((ROAD_START_X, 0.0), 0.0, [('straight', ROAD_LENGTH_M)]))
    route = _ego_lane(road)
    crossing_x = float(rng.uniform(34, 40))
    walkway = build_path((crossing_x, -LANE_WIDTH_M - 2.0), math.pi / 2,
                         [('straight', 2 * LANE_WIDTH_M + 4.0)])
    walker = Agent(1, 'pedestrian', walkway, 0.0, speed=float(rng.uniform(1.2, 1.5)),
                   start_time=float(rng.uniform(0.5, 1.5)))
    waiting = Agent(2, 'pedestrian', walkway.reversed(), -0.8)
    return Scenario('pedestrian_crossing', 'a pedestrian crosses on a zebra crossing',
                    (road,), route, (walker, waiting, *_oncoming(rng, road, 10, 1, 120.0)),
                    cruise_speed=9.0, initial_speed=8.0,
                    crosswalks=(Crosswalk((crossing_x, 0.0), math.pi / 2),))


def cut_in(seed: int) -> Scenario:
    """Let a faster car from the left lane cut in close ahead of the ego."""
    rng = _rng('cut_in', seed)
    road = Road(build_path((ROAD_START_X, 0.0), 0.0, [('straight', ROAD_LENGTH_M)]),
                same_direction=True)
    route = _ego_lane(road)
    start = float(rng.uniform(1.5, 2.5))
    cutter = Agent(1, 'car', route, float(rng.uniform(3, 6)), speed=float(rng.uniform(11, 12)),
                   lateral=(LANE_WIDTH_M, 0.0, start, start + 2.5))
    ahead = Agent(2, 'car', route, 70.0, speed=8.0)
    return Scenario('cut_in', 'a car from the left lane cuts in ahead', (road,), route,
                    (cutter, ahead, *_roadside(rng, road, 20, 3, 90.0)),
                    cruise_speed=11.0, initial_speed=10.0)


def _lighting(rng: np.random.Generator) -> float:
    """Brightness from dusk (0.45) to bright noon (1.1)."""
    return float(rng.uniform(0.45, 1.1))


def _signalised(name: str, seed: int, red_until: Callable[[np.random.Generator], float],
                description: str) -> Scenario:
    rng = _rng(name, seed)
    road = Road(build_path((ROAD_START_X, 0.0), 0.0, [('straight', ROAD_LENGTH_M)]))
    route = _ego_lane(road)
    stop_s = float(rng.uniform(45, 55))
    x, y, _, _ = route.at(stop_s)
    light = TrafficLight(stop_s, (x + 1.0, y - HALF_LANE - 1.2), 0.0, red_until(rng))
    return Scenario(name, description, (road,), route,
                    (*_oncoming(rng, road, 10), *_roadside(rng, road, 20, 3, 90.0)),
                    cruise_speed=10.0, initial_speed=8.0, traffic_lights=(light,),
                    lighting=_lighting(rng))


def red_light(seed: int) -> Scenario:
    """Stop at a red traffic light and wait (it stays red for the whole run)."""
    return _signalised('red_light', seed, lambda rng: float(rng.uniform(14, 20)),
                       'a traffic light ahead is red')


def green_light(seed: int) -> Scenario:
    """Drive on through a light that turns green before the ego reaches it."""
    return _signalised('green_light', seed, lambda rng: float(rng.uniform(1.0, 2.5)),
                       'a red traffic light ahead turns green early')


def lead_brake(seed: int) -> Scenario:
    """Stop behind a car ahead that brakes hard to a stop."""
    rng = _rng('lead_brake', seed)
    road = Road(build_path((ROAD_START_X, 0.0), 0.0, [('straight', ROAD_LENGTH_M)]))
    route = _ego_lane(road)
    speed = float(rng.uniform(9, 11))
    lead = Agent(1, 'car', route, float(rng.uniform(20, 26)), speed=speed,
                 brake=(float(rng.uniform(2.5, 4.0)), float(rng.uniform(5.0, 6.5))))
    return Scenario('lead_brake', 'the car ahead brakes hard to a stop', (road,), route,
                    (lead, *_oncoming(rng, road, 10), *_roadside(rng, road, 20, 3, 90.0)),
                    cruise_speed=11.0, initial_speed=speed, lighting=_lighting(rng))


def blocked_lane(seed: int) -> Scenario:
    """Pass a broken-down truck in the ego lane by changing to the free left lane."""
    rng = _rng('blocked_lane', seed)
    road = Road(build_path((ROAD_START_X, 0.0), 0.0, [('straight', ROAD_LENGTH_M)]),
                same_direction=True)
    lane = _ego_lane(road)
    blocked_s = float(rng.uniform(55, 65))
    route = lane_change_path(lane, blocked_s - float(rng.uniform(28, 34)), 20.0, LANE_WIDTH_M)
    truck = Agent(1, 'truck', lane, blocked_s)
    cone = Agent(2, 'cone', lane, blocked_s - 6.0)
    left_lane = road.centerline.offset(HALF_LANE)
    ahead = Agent(3, 'car', left_lane, float(rng.uniform(120, 140)),
                  speed=float(rng.uniform(8, 9.5)))
    return Scenario('blocked_lane', 'a broken-down truck blocks the lane: change lanes',
                    (road,), route, (truck, cone, ahead, *_roadside(rng, road, 20, 3, 110.0)),
                    cruise_speed=9.0, initial_speed=8.0, lighting=_lighting(rng))


def occluded_pedestrian(seed: int) -> Scenario:
    """Yield to a pedestrian stepping out from behind a parked van (no crossing marked)."""
    rng = _rng('occluded_pedestrian', seed)
    road = Road(build_path((ROAD_START_X, 0.0), 0.0, [('straight', ROAD_LENGTH_M)]))
    route = _ego_lane(road)
    van_x = float(rng.uniform(32, 40))
    van = Agent(1, 'truck', road.centerline.offset(-(LANE_WIDTH_M + 1.6)), van_x - ROAD_START_X)
    walkway = build_path((van_x + 4.5, -LANE_WIDTH_M - 2.2), math.pi / 2,
                         [('straight', 2 * LANE_WIDTH_M + 4.0)])
    walker = Agent(2, 'pedestrian', walkway, 0.0, speed=float(rng.uniform(1.3, 1.7)),
                   start_time=float(rng.uniform(1.5, 2.5)))
    return Scenario('occluded_pedestrian', 'a pedestrian steps out from behind a parked van',
                    (road,), route, (van, walker, *_oncoming(rng, road, 10, 1, 120.0)),
                    cruise_speed=9.0, initial_speed=8.0, lighting=_lighting(rng))


def _intersection(name: str, turn: str, seed: int) -> Scenario:
    rng = _rng(name, seed)
    gap = (INTERSECTION_X - LANE_WIDTH_M - 40.0 - 2.0 - ROAD_START_X,
           INTERSECTION_X + LANE_WIDTH_M + 2.0 - ROAD_START_X)
    main = Road(build_path((ROAD_START_X, 0.0), 0.0, [('straight', ROAD_LENGTH_M)]),
                marking_gaps=((gap[0] + 40.0, gap[1]),))
    cross = Road(build_path((INTERSECTION_X, -90.0), math.pi / 2, [('straight', 180.0)]),
                 marking_gaps=((90.0 - LANE_WIDTH_M - 2.0, 90.0 + LANE_WIDTH_M + 2.0),))
    if turn == 'left':
        radius, exit_x, angle = 7.0, INTERSECTION_X + HALF_LANE, 90.0
    else:
        radius, exit_x, angle = 5.0, INTERSECTION_X - HALF_LANE, -90.0
    approach = exit_x - radius if turn == 'left' else exit_x - radius
    route = build_path((0.0, -HALF_LANE), 0.0,
                       [('straight', approach), ('arc', radius, angle), ('straight', 100.0)])
    crossing_lane = cross.centerline.offset(-HALF_LANE)
    crossing = Agent(1, 'car', crossing_lane, float(rng.uniform(40, 50)), speed=8.0)
    agents = [crossing, *_oncoming(rng, main, 10, 1, 110.0), *_roadside(rng, cross, 20, 2, 110.0)]
    if name == 'unprotected_left':
        # Oncoming cars reach the intersection about when the ego turns across their lane.
        lane = main.centerline.offset(HALF_LANE).reversed()
        at_intersection = lane.project((INTERSECTION_X, HALF_LANE))[0]
        for i in range(2):
            speed = float(rng.uniform(8, 10))
            arrival = float(rng.uniform(3.5, 5.0)) + 2.2 * i
            agents.append(Agent(30 + i, 'car', lane, at_intersection - speed * arrival,
                                speed=speed))
        return Scenario(name, 'unprotected left turn across oncoming traffic', (main, cross),
                        route, tuple(agents), cruise_speed=9.0, initial_speed=8.0,
                        lighting=_lighting(rng))
    return Scenario(name, f'turn {turn} at a four-way intersection', (main, cross), route,
                    tuple(agents), cruise_speed=9.0, initial_speed=8.0)


def intersection_left(seed: int) -> Scenario:
    """Turn left at a four-way intersection, across the oncoming lane."""
    return _intersection('intersection_left', 'left', seed)


def intersection_right(seed: int) -> Scenario:
    """Turn right at a four-way intersection."""
    return _intersection('intersection_right', 'right', seed)


def unprotected_left(seed: int) -> Scenario:
    """Turn left across the oncoming lane while oncoming cars arrive: yield, then go."""
    return _intersection('unprotected_left', 'left', seed)


CATALOGUE: Dict[str, Callable[[int], Scenario]] = {
    'straight_cruise': straight_cruise,
    'curve': curve,
    'stopped_vehicle': stopped_vehicle,
    'pedestrian_crossing': pedestrian_crossing,
    'cut_in': cut_in,
    'intersection_left': intersection_left,
    'intersection_right': intersection_right,
    'red_light': red_light,
    'green_light': green_light,
    'lead_brake': lead_brake,
    'blocked_lane': blocked_lane,
    'unprotected_left': unprotected_left,
    'occluded_pedestrian': occluded_pedestrian,
}
DEFAULT_SET = tuple(list(CATALOGUE)[:7])
# Never in any training set: closed-loop and open-loop figures on it measure generalisation.
HELD_OUT = ('occluded_pedestrian',)
TRAINING_TYPES = tuple(name for name in CATALOGUE if name not in HELD_OUT)


def make_scenario(name: str, seed: int) -> Scenario:
    """Build the scenario ``name`` of the catalogue with ``seed``."""
    if name not in CATALOGUE:
        raise KeyError(f'unknown scenario {name!r}; known: {", ".join(CATALOGUE)}')
    return CATALOGUE[name](seed)
