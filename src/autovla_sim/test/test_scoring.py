"""The scorer on hand-made traces whose right answers follow from the definitions."""

import math

from autovla_scenarios.catalogue import make_scenario
from autovla_scenarios.world import simulate_expert
from autovla_sim.traffic import AgentBox
import numpy as np
import pytest

from autovla_sim import scoring


def _straight_plan(speed: float, seconds: float = 5.0, lateral: float = 0.0):
    t = np.arange(0.5, seconds + 1e-9, 0.5)
    return t, np.column_stack([speed * t, np.full(len(t), lateral)])


def test_expert_plan_scores_full_marks_on_a_free_road():
    scenario = make_scenario('green_light', 0)
    expert = simulate_expert(scenario, 20.0)
    local = np.column_stack([expert.x[10::10][:10] - expert.x[0], expert.y[10::10][:10]
                             - expert.y[0]])
    result = scoring.score_plan(scenario, expert, 0.0, expert.pose(0.0), expert.speed[0],
                                np.arange(0.5, 5.01, 0.5), local)
    assert result['terms'] == {'no_at_fault_collision': 1.0, 'drivable_area': 1.0,
                               'driving_direction': 1.0, 'time_to_collision': 1.0,
                               'ego_progress': 1.0, 'comfort': 1.0}
    assert result['pdms'] == pytest.approx(1.0)


def test_plan_into_the_stopped_vehicle_is_an_at_fault_collision():
    scenario = make_scenario('stopped_vehicle', 0)
    stopped = scenario.agents[0]
    gap = stopped.s0 - stopped.size[0] / 2     # m from the ego centre to the rear bumper
    expert = simulate_expert(scenario, 20.0)
    t, local = _straight_plan(gap / 4.0 + 2.0)  # reaches the bumper within 4 s
    result = scoring.score_plan(scenario, expert, 0.0, expert.pose(0.0), 9.0, t, local)
    assert result['terms']['no_at_fault_collision'] == 0.0
    assert result['collisions'][0]['agent_id'] == stopped.agent_id
    assert result['pdms'] == 0.0
    assert result['driving_score'] == pytest.approx(100.0 * 0.6 * 1.0)


def test_standing_still_is_never_at_fault_but_makes_no_progress():
    scenario = make_scenario('straight_cruise', 0)
    expert = simulate_expert(scenario, 20.0)
    t, local = _straight_plan(0.0)
    result = scoring.score_plan(scenario, expert, 0.0, expert.pose(0.0), 0.0, t, local)
    assert result['terms']['no_at_fault_collision'] == 1.0
    assert result['terms']['ego_progress'] == 0.0
    # NC, DAC, DDC, TTC and comfort hold: (5 + 2) / 12 of the weighted sum remains.
    assert result['pdms'] == pytest.approx(7.0 / 12.0)


def test_half_the_expert_progress_gives_half_ep_and_route_completion():
    scenario = make_scenario('green_light', 0)
    expert = simulate_expert(scenario, 20.0)
    expert_progress = expert.x[expert.index(5.0)] - expert.x[0]
    t, local = _straight_plan(expert_progress / 10.0)
    result = scoring.score_plan(scenario, expert, 0.0, expert.pose(0.0), expert.speed[0],
                                t, local)
    assert result['terms']['ego_progress'] == pytest.approx(0.5, abs=0.02)
    assert result['route_completion'] == pytest.approx(50.0, abs=2.0)


def test_driving_in_the_oncoming_lane_and_off_road():
    scenario = make_scenario('green_light', 0)   # two-way road, ego in the right lane
    expert = simulate_expert(scenario, 20.0)
    t, local = _straight_plan(8.0, lateral=3.5)  # centre of the oncoming lane, 40 m
    result = scoring.score_plan(scenario, expert, 0.0, expert.pose(0.0), 8.0, t, local)
    assert result['oncoming_m'] > 6.0
    assert result['terms']['driving_direction'] == 0.0
    assert result['terms']['drivable_area'] == 1.0
    t, local = _straight_plan(8.0, lateral=-4.0)  # ego centre 5.75 m right of the road
    result = scoring.score_plan(scenario, expert, 0.0, expert.pose(0.0), 8.0, t, local)
    assert result['terms']['drivable_area'] == 0.0


def test_harsh_braking_breaks_the_comfort_bound():
    scenario = make_scenario('straight_cruise', 0)
    expert = simulate_expert(scenario, 20.0)
    t = np.arange(0.5, 5.01, 0.5)
    v0, decel = 10.0, 7.0                       # beyond nuPlan's -4.05 m/s^2
    stop = v0 / decel
    s = np.where(t < stop, v0 * t - 0.5 * decel * t ** 2, v0 * stop / 2)
    result = scoring.score_plan(scenario, expert, 0.0, expert.pose(0.0), v0, t,
                                np.column_stack([s, np.zeros(len(t))]))
    assert result['comfort_figures']['min_lon_accel'] < -4.05
    assert result['terms']['comfort'] == 0.0


def test_ttc_sees_a_standing_car_one_second_ahead_and_not_one_behind():
    def trace(agent_x):
        t = np.arange(0.0, 0.3, 0.1)
        car = AgentBox(1, 'car', agent_x, 0.0, 0.0, 4.5, 1.9, 0.0)
        return scoring.Trace(t, 10.0 * t, np.zeros(3), np.zeros(3), np.full(3, 10.0),
                             [[car]] * 3)
    # Bumpers 8 m apart at 10 m/s: contact after about 0.8 s.
    ahead = scoring.time_to_collision(trace(4.3 / 2 + 4.5 / 2 + 8.0))
    assert 0.7 <= ahead <= 0.9
    assert scoring.time_to_collision(trace(-10.0)) == math.inf


def test_running_a_red_light_is_counted_and_penalised():
    scenario = make_scenario('red_light', 0)
    light = scenario.traffic_lights[0]
    expert = simulate_expert(scenario, 20.0)
    t, local = _straight_plan((light.stop_s + 10.0) / 5.0)
    result = scoring.score_plan(scenario, expert, 0.0, expert.pose(0.0), 8.0, t, local)
    assert result['red_lights_run'] == 1
    assert result['infraction_penalty'] == pytest.approx(0.7)


def test_bad_plans_are_rejected_with_a_clear_error():
    scenario = make_scenario('straight_cruise', 0)
    expert = simulate_expert(scenario, 20.0)
    with pytest.raises(ValueError, match='finite'):
        scoring.score_plan(scenario, expert, 0.0, expert.pose(0.0), 8.0, [0.5, 1.0],
                           [[1.0, 0.0], [math.nan, 0.0]])
