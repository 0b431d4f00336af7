"""The nodes' declared parameters (their ``PARAMS``) next to the params YAML defaults.

Importing a node module imports rclpy, so this lives apart from the ROS-free ``stack``.
"""

from dataclasses import replace
import importlib
from pathlib import Path
import re
from typing import Any, Dict, List, Sequence, Tuple

from autovla_common.params import check_defaults, flatten, load_defaults, ParamSpec
import yaml

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
        declared = declared_names(launch.node)
        for name in launch.overrides:
            if name not in declared:
                problems.append(f'{launch.node.name} does not declare parameter {name!r} '
                                f'(it declares: {", ".join(sorted(declared))})')
    return problems


def section_matches(key: str, full_name: str) -> bool:
    """Tell whether the params-file section ``key`` applies to node ``full_name`` (as rcl does).

    ``*`` stands for one name token, ``**`` for any number; a key without a leading slash
    is a node in the root namespace.
    """
    pattern = ''
    for token in key.strip('/').split('/'):
        pattern += {'**': '(/[^/]+)*', '*': '/[^/]+'}.get(token, '/' + re.escape(token))
    return re.fullmatch(pattern, full_name) is not None


def declared_names(node: NodeDescription) -> set:
    """Every parameter ``node`` declares, rclpy's own included."""
    return {spec.name for spec in node_params(node)} | set(BUILTIN_PARAMS)


def user_params_problems(launches: Sequence[NodeLaunch]) -> List[str]:
    """List what in the user's params file no node of the stack would receive or declare.

    ROS ignores both silently: a section keyed ``safety_node`` under a namespace, and a
    parameter the node does not declare.
    """
    paths = sorted({launch.user_params_file for launch in launches if launch.user_params_file})
    problems = []
    for path in paths:
        problems += [f'params file {path}: {problem}'
                     for problem in _params_file_problems(Path(path), launches)]
    return problems


def _params_file_problems(path: Path, launches: Sequence[NodeLaunch]) -> List[str]:
    try:
        document = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError) as error:
        return [f'cannot read it: {error}']
    if not isinstance(document, dict) or not document:
        return ['expected sections like "/**/safety_node: {ros__parameters: {...}}"']
    names = ', '.join(launch.full_name for launch in launches)
    problems = []
    for key, section in document.items():
        parameters = section.get('ros__parameters') if isinstance(section, dict) else None
        if not isinstance(parameters, dict):
            problems.append(f'section {key!r} has no ros__parameters mapping')
            continue
        matched = [launch for launch in launches if section_matches(str(key), launch.full_name)]
        if not matched:
            problems.append(f'section {key!r} applies to none of the nodes ({names}); '
                            f'key it /**/<node name> to reach a node in any namespace')
            continue
        declared = set().union(*(declared_names(launch.node) for launch in matched))
        unknown = sorted(set(flatten(parameters)) - declared)
        if unknown:
            problems.append(f'section {key!r}: {", ".join(unknown)} declared by none of '
                            f'{", ".join(launch.node.name for launch in matched)}')
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
