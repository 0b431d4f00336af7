"""The scenario catalogue: seven seeded, reproducible driving situations.

World frame (odom): the main road's centreline runs along +x through y = 0 and the ego starts
at x = 0 in the right lane (y = -1.75 m), heading +x. The seed varies speeds, gaps and the
parked cars and cones on the shoulders; the situation itself stays the same.
"""

import math
from typing import Callable, Dict, List
import zlib

import numpy as np

from autovla_scenarios.geometry import build_path, Path2D
from autovla_scenarios.world import Agent, Crosswalk, LANE_WIDTH_M, Road, Scenario

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
    return Scenario(name, f'turn {turn} at a four-way intersection', (main, cross), route,
                    tuple(agents), cruise_speed=9.0, initial_speed=8.0)


def intersection_left(seed: int) -> Scenario:
    """Turn left at a four-way intersection, across the oncoming lane."""
    return _intersection('intersection_left', 'left', seed)


def intersection_right(seed: int) -> Scenario:
    """Turn right at a four-way intersection."""
    return _intersection('intersection_right', 'right', seed)


CATALOGUE: Dict[str, Callable[[int], Scenario]] = {
    'straight_cruise': straight_cruise,
    'curve': curve,
    'stopped_vehicle': stopped_vehicle,
    'pedestrian_crossing': pedestrian_crossing,
    'cut_in': cut_in,
    'intersection_left': intersection_left,
    'intersection_right': intersection_right,
}


def make_scenario(name: str, seed: int) -> Scenario:
    """Build the scenario ``name`` of the catalogue with ``seed``."""
    if name not in CATALOGUE:
        raise KeyError(f'unknown scenario {name!r}; known: {", ".join(CATALOGUE)}')
    return CATALOGUE[name](seed)
