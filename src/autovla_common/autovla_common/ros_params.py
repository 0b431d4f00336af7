"""Declare a node's ParamSpecs on an rclpy node, with defaults from its installed YAML."""

from pathlib import Path
from typing import Any, Dict, Sequence

from ament_index_python.packages import get_package_share_directory
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter

from autovla_common.params import check_defaults, load_defaults, ParamSpec

_ROS_TYPES = {
    'bool': Parameter.Type.BOOL,
    'int': Parameter.Type.INTEGER,
    'double': Parameter.Type.DOUBLE,
    'string': Parameter.Type.STRING,
    'string_array': Parameter.Type.STRING_ARRAY,
    'double_array': Parameter.Type.DOUBLE_ARRAY,
    'int_array': Parameter.Type.INTEGER_ARRAY,
}


def installed_params_file(package: str, file_name: str) -> Path:
    """Path of a params YAML that ``package`` installs under share/<package>/config."""
    return Path(get_package_share_directory(package)) / 'config' / file_name


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(description=spec.description, type=_ROS_TYPES[spec.type])
    if spec.choices:
        descriptor.additional_constraints = 'one of: ' + ', '.join(spec.choices)
    if spec.type == 'double' and spec.min is not None and spec.max is not None:
        descriptor.floating_point_range = [
            FloatingPointRange(from_value=float(spec.min), to_value=float(spec.max))]
    elif spec.type == 'int' and spec.min is not None and spec.max is not None:
        descriptor.integer_range = [IntegerRange(from_value=int(spec.min), to_value=int(spec.max))]
    return descriptor


def declare_parameters(node: Node, specs: Sequence[ParamSpec], package: str,
                       file_name: str) -> Dict[str, Any]:
    """Declare every spec with its YAML default; return the effective values.

    Raises ValueError, naming the parameter, when the YAML and the specs disagree or an
    override (``--ros-args -p`` or a params file) is out of range.
    """
    defaults = load_defaults(installed_params_file(package, file_name), node.get_name())
    problems = check_defaults(specs, defaults)
    if problems:
        raise ValueError('; '.join(problems))
    values = {}
    for spec in specs:
        default = defaults[spec.name]
        if spec.type == 'double':
            default = float(default)
        value = node.declare_parameter(spec.name, default, _descriptor(spec)).value
        spec.check(value)
        values[spec.name] = value
    return values
