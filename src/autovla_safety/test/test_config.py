"""The params YAML, the declared specs and the README table agree; bad combinations fail."""

from pathlib import Path
import re

from autovla_common.params import check_defaults, load_defaults
from autovla_safety.config import PARAMS, SafetyConfig
import pytest

ROOT = Path(__file__).resolve().parents[3]


def defaults():
    return load_defaults(ROOT / 'config' / 'safety.yaml', 'safety_node')


def test_yaml_and_specs_agree():
    assert check_defaults(PARAMS, defaults()) == []


def test_readme_parameter_table_matches_the_yaml():
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    section = readme.split('## Safety', 1)[1].split('\n## ', 1)[0]
    rows = re.findall(r'^\| `([a-z0-9_.]+)` \| (\w+) \| ([^|]+) \|', section, flags=re.M)
    table = {name: (kind, value.strip()) for name, kind, value in rows}
    expected = {spec.name: (spec.type, str(defaults()[spec.name])) for spec in PARAMS}
    assert table == expected


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
