import math

from autovla_common.params import check_defaults, flatten, load_defaults, ParamSpec
import pytest


def test_flatten_nests_with_dots():
    assert flatten({'a': 1, 'b': {'c': 2, 'd': {'e': 'x'}}}) == {'a': 1, 'b.c': 2, 'b.d.e': 'x'}


@pytest.mark.parametrize('spec,value,message', [
    (ParamSpec('rate', 'double', 'd', min=1.0, max=10.0), 0.5, '< minimum'),
    (ParamSpec('rate', 'double', 'd', min=1.0, max=10.0), 11.0, '> maximum'),
    (ParamSpec('rate', 'double', 'd'), math.nan, 'not finite'),
    (ParamSpec('rate', 'double', 'd'), 'fast', 'expected double'),
    (ParamSpec('count', 'int', 'd'), True, 'expected int'),
    (ParamSpec('device', 'string', 'd', choices=('cpu', 'cuda')), 'tpu', 'not one of'),
])
def test_check_rejects_with_reason(spec, value, message):
    with pytest.raises(ValueError, match=message):
        spec.check(value)


def test_check_accepts_int_for_double_and_values_in_range():
    ParamSpec('rate', 'double', 'd', min=1.0, max=10.0).check(5)
    ParamSpec('device', 'string', 'd', choices=('cpu', 'cuda')).check('cpu')


def test_unknown_type_is_refused():
    with pytest.raises(ValueError, match='unknown type'):
        ParamSpec('x', 'float', 'd')


def test_check_defaults_reports_both_directions(tmp_path):
    path = tmp_path / 'node.yaml'
    path.write_text('my_node:\n  ros__parameters:\n    a: 1.0\n    extra: true\n    '
                    'nested:\n      b: 3\n')
    defaults = load_defaults(path, 'my_node')
    specs = [ParamSpec('a', 'double', 'd'), ParamSpec('nested.b', 'int', 'd'),
             ParamSpec('missing', 'string', 'd')]
    problems = check_defaults(specs, defaults)
    assert problems == ['parameter missing has no default in the params YAML',
                        'params YAML sets extra, which the node does not declare']


def test_load_defaults_names_the_missing_section(tmp_path):
    path = tmp_path / 'node.yaml'
    path.write_text('other_node:\n  ros__parameters: {}\n')
    with pytest.raises(ValueError, match='no my_node.ros__parameters'):
        load_defaults(path, 'my_node')
