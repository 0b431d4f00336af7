"""AEB evaluation loop: the forced planner crashes without AEB and stops with it."""

from autovla_replay.aeb_evaluation import (
    drive_straight_on,
    expert_activations,
    table,
)
from autovla_safety.config import load_shipped_config
import pytest


@pytest.fixture(scope='module')
def config():
    return load_shipped_config()


def test_stopped_vehicle_is_hit_without_aeb_and_avoided_with_it(config):
    without = drive_straight_on('stopped_vehicle', 0, config, aeb=False)
    with_aeb = drive_straight_on('stopped_vehicle', 0, config, aeb=True)
    # The car stands 50-60 m ahead and the forced planner holds ~9 m/s: contact in ~6 s.
    assert without.collision_time is not None and 4.0 < without.collision_time < 8.0
    assert without.final_speed > 8.0 and without.activations == 0
    assert with_aeb.collision_time is None and with_aeb.final_speed == 0.0
    assert with_aeb.activations >= 1 and with_aeb.plans_rejected_for_obstacles >= 1


def test_expert_on_a_straight_road_never_triggers_the_aeb(config):
    run = expert_activations('straight_cruise', 0, config)
    assert (run.activations, run.plans_rejected_for_obstacles) == (0, 0)


def test_table_counts_collisions_and_impact_speed(config):
    runs = {'straight_on': [drive_straight_on('stopped_vehicle', 0, config, aeb)
                            for aeb in (False, True)], 'expert': []}
    text = table(runs, [0])
    assert '| stopped_vehicle | 1/1 (' in text and '| 0/1 |' in text
