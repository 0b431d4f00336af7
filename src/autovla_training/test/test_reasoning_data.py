"""Reasoning data (ROS-free): the five parts, objects against the scenario, labels, wording."""

from dataclasses import replace
import math
import re

from autovla_scenarios.catalogue import HALF_LANE, make_scenario, ROAD_START_X
from autovla_scenarios.geometry import build_path, lane_change_path
from autovla_scenarios.world import (
    Agent,
    LANE_WIDTH_M,
    Road,
    Scenario,
    simulate_expert,
    TrafficLight,
)
from autovla_training.reasoning_data import (
    analyse,
    LATERAL_ACTIONS,
    LONGITUDINAL_ACTIONS,
    ScenarioReasoner,
    write_reasoning,
)
import pytest

PART_HEADINGS = ('1. Scene analysis:', '2. Critical objects:', '3. Prediction:', '4. Intent:',
                 '5. Final action:')


def straight_road(agents=(), lights=(), route=None, cruise=10.0, speed=10.0) -> Scenario:
    """A straight two-way road; the ego in the right lane at x = 0, heading +x."""
    road = Road(build_path((ROAD_START_X, 0.0), 0.0, [('straight', 280.0)]))
    lane = build_path((0.0, -HALF_LANE), 0.0, [('straight', 200.0)])
    return Scenario('hand_built', 'hand-built', (road,), route or lane, tuple(agents),
                    cruise_speed=cruise, initial_speed=speed, traffic_lights=tuple(lights))


def facts_at(scenario: Scenario, t: float):
    return analyse(scenario, simulate_expert(scenario, 12.0), t)


@pytest.mark.parametrize('name', ['stopped_vehicle', 'intersection_left', 'red_light',
                                  'blocked_lane', 'straight_cruise'])
def test_every_reasoning_has_the_five_parts_in_order_and_official_final_actions(name):
    reasoner = ScenarioReasoner()
    for t in (1.5, 4.0, 7.5):
        reasoning = reasoner.reasoning(name, 2, t)
        lines = reasoning.text.split('\n')
        assert [line[:len(h)] for line, h in zip(lines, PART_HEADINGS)] == list(PART_HEADINGS)
        assert len(lines) == 5
        final = lines[4]
        facts = reasoning.facts
        assert facts.lateral in LATERAL_ACTIONS and facts.longitudinal in LONGITUDINAL_ACTIONS
        assert facts.lateral in final and facts.longitudinal in final
        assert 2 <= len(facts.objects) <= 3


def test_critical_objects_and_positions_agree_with_the_scenario_state():
    scenario = make_scenario('stopped_vehicle', 4)
    track = simulate_expert(scenario, 15.0)
    t = 2.0
    facts = analyse(scenario, track, t)
    stopped = next(agent for agent in scenario.agents if agent.agent_id == 1)
    first = facts.objects[0]
    assert first.agent_id == 1 and first.kind == stopped.kind and first.blocking
    # The stopped vehicle in the ego frame, computed by hand from the two poses.
    ego_x, ego_y, ego_yaw = track.pose(t)
    x, y, _ = stopped.pose(t)
    ahead = (x - ego_x) * math.cos(ego_yaw) + (y - ego_y) * math.sin(ego_yaw)
    left = -(x - ego_x) * math.sin(ego_yaw) + (y - ego_y) * math.cos(ego_yaw)
    assert first.x == pytest.approx(ahead, abs=1e-6)
    assert first.y == pytest.approx(left, abs=1e-6)
    assert ahead > 20.0 and abs(left) < 0.5     # standing in the ego lane ahead
    text = write_reasoning(facts, 0).parts[1]
    assert f'{math.hypot(ahead, left):.0f} m ahead in our lane' in text
    # Every other object named is a scenario agent at its own position.
    agents = {agent.agent_id: agent for agent in scenario.agents}
    for obj in facts.objects[1:]:
        x, y, _ = agents[obj.agent_id].pose(t)
        assert math.hypot(x - ego_x, y - ego_y) == pytest.approx(obj.distance, abs=1e-6)


def test_cruising_frames_are_simple():
    free = straight_road()
    assert not facts_at(free, 2.0).complex
    # Following a car that drives at the ego's cruise speed: no braking for it.
    lane = free.route
    lead = Agent(1, 'car', lane, 35.0, speed=10.0)
    following = facts_at(straight_road([lead]), 2.0)
    assert not following.complex and following.objects[0].agent_id == 1
    # Following the lane through a bend (slowing for it) is what cruising does.
    curve = replace(make_scenario('curve', 2), agents=())
    facts = facts_at(curve, 4.0)
    assert facts.road == 'curve' and facts.lateral == 'turn left'
    assert not facts.complex


def test_braking_for_an_object_or_a_red_light_and_changing_lanes_are_complex():
    lane = straight_road().route
    stopped = Agent(1, 'car', lane, 45.0)
    braking = facts_at(straight_road([stopped]), 1.0)
    assert braking.complex and braking.brakes_for_something
    assert braking.longitudinal in ('deceleration', 'quick deceleration',
                                    'deceleration to zero')
    assert braking.objects[0].agent_id == 1 and braking.objects[0].blocking
    light = TrafficLight(40.0, (40.0, -LANE_WIDTH_M - 1.2))
    red = facts_at(straight_road(lights=[light]), 1.0)
    assert red.complex and red.light == 'red'
    assert any(obj.kind == 'traffic light' and obj.behaviour == 'red' for obj in red.objects)
    green = facts_at(straight_road(lights=[TrafficLight(40.0, (40.0, -3.0), 0.0, 0.0)]), 1.0)
    assert not green.complex and green.light == 'green'
    change = lane_change_path(lane, 20.0, 20.0, LANE_WIDTH_M)
    moving_over = facts_at(straight_road(route=change), 0.5)
    assert moving_over.complex and moving_over.leaves_lane
    assert moving_over.lateral == 'change lane to left'


def test_intersection_turns_are_complex_and_named_as_turns():
    reasoner = ScenarioReasoner()
    turning = [reasoner.facts('intersection_right', 1, t) for t in (1.5, 2.0, 2.5)]
    assert all(f.complex and f.leaves_lane and f.lateral == 'turn right' for f in turning)
    assert 'turn right' in reasoner.reasoning('intersection_right', 1, 2.0).parts[3]


def test_wording_varies_with_the_seed_and_the_facts_do_not():
    reasoner = ScenarioReasoner()
    texts = {reasoner.reasoning('pedestrian_crossing', 5, 2.0, wording).text
             for wording in range(12)}
    assert len(texts) >= 6
    numbers = {tuple(re.findall(r'\d+(?:\.\d+)?', text)) for text in texts}
    assert len(numbers) == 1     # distances and speeds stay those of the state
    again = reasoner.reasoning('pedestrian_crossing', 5, 2.0, 3).text
    assert again == reasoner.reasoning('pedestrian_crossing', 5, 2.0, 3).text
    # Each part has several phrasings across frames and seeds.
    for part in range(5):
        variants = {reasoner.reasoning('pedestrian_crossing', 5, 2.0, w).parts[part]
                    for w in range(12)}
        assert len(variants) >= 2, part
