"""The params YAML and the declared specs agree; bad combinations fail.

(The README tables are generated and checked by autovla_bringup.docs.)
"""

from pathlib import Path

from autovla_common.params import check_defaults, load_defaults
from autovla_safety.config import PARAMS, SafetyConfig
import pytest

ROOT = Path(__file__).resolve().parents[3]


def defaults():
    return load_defaults(ROOT / 'config' / 'safety.yaml', 'safety_node')


def test_yaml_and_specs_agree():
    assert check_defaults(PARAMS, defaults()) == []


@pytest.mark.parametrize('name,value,message', [
    ('validator.min_points', 60, 'min_points > validator.max_points'),
    ('controller.lookahead_min_m', 30.0, 'lookahead_min_m > controller.lookahead_max_m'),
    ('stop.emergency_deceleration_mps2', 6.0, 'emergency_deceleration_mps2 > vehicle'),
    ('fallback.speed_cap_mps', 20.0, 'speed_cap_mps > vehicle.speed_limit_mps'),
])
def test_inconsistent_parameters_are_refused(name, value, message):
    params = {**defaults(), name: value}
    with pytest.raises(ValueError, match=message):
        SafetyConfig.from_params(params)
