"""The shipped per-node defaults agree with each other on timing.

Each node's YAML is checked against its own specs elsewhere; this checks the budgets that
span nodes, where one file can silently break another's assumptions.
"""

from pathlib import Path

from autovla_common.params import load_defaults

CONFIG = Path(__file__).resolve().parents[1] / 'config'


def defaults(node: str) -> dict:
    return load_defaults(CONFIG / f'{node}.yaml', f'{node}_node')


def test_a_plan_within_the_planner_budget_is_young_enough_for_safety():
    planner, safety = defaults('planner'), defaults('safety')
    assert planner['latency_budget_s'] > 0, 'an unlimited budget lets slow thinking stall plans'
    oldest_plan_s = planner['max_observation_age_s'] + planner['latency_budget_s']
    assert oldest_plan_s <= safety['validator.max_trajectory_age_s']


def test_the_planning_period_is_shorter_than_the_planner_heartbeat_timeout():
    perception, planner, safety = defaults('perception'), defaults('planner'), defaults('safety')
    period_s = 1.0 / perception['planning_rate_hz']
    assert period_s + planner['latency_budget_s'] < safety['supervisor.planner_timeout_s']
