"""The nodes' declared parameters (their ``PARAMS``) next to the params YAML defaults.

Importing a node module imports rclpy, so this lives apart from the ROS-free ``stack``.
"""

from dataclasses import replace
import importlib
from typing import Any, Dict, List, Sequence, Tuple

from autovla_common.params import check_defaults, load_defaults, ParamSpec

from autovla_bringup.stack import (
    InstallSpace,
    NodeDescription,
    NodeLaunch,
    param_literal,
    USE_SIM_TIME,
)

# Declared by rclpy itself on every node, so never in a node's PARAMS.
BUILTIN_PARAMS = (USE_SIM_TIME,)


def node_params(node: NodeDescription) -> Tuple[ParamSpec, ...]:
    """Return the ``PARAMS`` tuple that ``node``'s module declares."""
    return tuple(importlib.import_module(node.module).PARAMS)


def node_defaults(node: NodeDescription, install: InstallSpace) -> Dict[str, Any]:
    """``node``'s flattened defaults from the params YAML its package installs."""
    return load_defaults(install.params_file(node), node.name)


def consistency_problems(node: NodeDescription, install: InstallSpace) -> List[str]:
    """Disagreements between ``node``'s PARAMS and its installed YAML (empty = consistent)."""
    return [f'{node.name}: {problem}'
            for problem in check_defaults(node_params(node), node_defaults(node, install))]


def undeclared_overrides(launches: Sequence[NodeLaunch]) -> List[str]:
    """List overrides of parameters the node does not declare (ROS would drop them silently)."""
    problems = []
    for launch in launches:
        declared = {spec.name for spec in node_params(launch.node)} | set(BUILTIN_PARAMS)
        for name in launch.overrides:
            if name not in declared:
                problems.append(f'{launch.node.name} does not declare parameter {name!r} '
                                f'(it declares: {", ".join(sorted(declared))})')
    return problems


def typed_overrides(launches: Sequence[NodeLaunch]) -> List[NodeLaunch]:
    """Copy ``launches`` with override values converted to the declared parameter types.

    ``--params-override safety.control_rate_hz=20`` reads 20 as an integer and
    ``planner.model_path=123`` as one too; ROS refuses both for a double and a string
    parameter, so the declared type settles it.
    """
    typed = []
    for launch in launches:
        types = {spec.name: spec.type for spec in node_params(launch.node)}
        overrides = {name: _as_type(value, types.get(name))
                     for name, value in launch.overrides.items()}
        typed.append(replace(launch, overrides=overrides))
    return typed


def _as_type(value: Any, param_type: str) -> Any:
    if param_type == 'double' and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if param_type == 'string' and not isinstance(value, str):
        return param_literal(value)
    return value
