"""ROS-free parameter specs: the node declares them, the params YAML holds every default.

A node lists its parameters as ``ParamSpec`` (name, type, description, range or choices).
The defaults come from the node's section of ``config/<node>.yaml`` and nowhere else, so
the YAML shipped with the package is the single source of defaults. ``check_defaults``
reports a spec without a YAML default and a YAML key without a spec, both of which are
start-up errors.
"""

from dataclasses import dataclass
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

# Type names as ROS 2 parameters know them.
PARAM_TYPES = {
    'bool': bool,
    'int': int,
    'double': float,
    'string': str,
    'string_array': list,
    'double_array': list,
    'int_array': list,
}


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter: its type, what it means and the values it may take."""

    name: str
    type: str
    description: str
    min: Optional[float] = None
    max: Optional[float] = None
    choices: Optional[Tuple[str, ...]] = None

    def __post_init__(self):
        if self.type not in PARAM_TYPES:
            raise ValueError(f'parameter {self.name}: unknown type {self.type!r}')

    def check(self, value: Any) -> None:
        """Raise ValueError with a readable message if ``value`` is not allowed."""
        if self.type == 'double' and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, PARAM_TYPES[self.type]) or (
                self.type != 'bool' and isinstance(value, bool)):
            raise ValueError(
                f'parameter {self.name}: expected {self.type}, got {value!r}')
        if self.type in ('int', 'double'):
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f'parameter {self.name}: {value} is not finite')
            if self.min is not None and value < self.min:
                raise ValueError(f'parameter {self.name}: {value} < minimum {self.min}')
            if self.max is not None and value > self.max:
                raise ValueError(f'parameter {self.name}: {value} > maximum {self.max}')
        if self.choices is not None and value not in self.choices:
            raise ValueError(
                f'parameter {self.name}: {value!r} is not one of {list(self.choices)}')


def flatten(tree: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    """Turn nested YAML mappings into ROS dotted parameter names."""
    flat = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            flat.update(flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


def load_defaults(yaml_path: Path, node_name: str) -> Dict[str, Any]:
    """Read ``node_name``'s ``ros__parameters`` (flattened) from a ROS params file.

    The section is the first of ``/**/<node_name>`` (how the shipped files are keyed, so
    namespaced nodes receive them), ``<node_name>`` and ``/**``.
    """
    with open(yaml_path, encoding='utf-8') as stream:
        document = yaml.safe_load(stream) or {}
    section = (document.get(f'/**/{node_name}') or document.get(node_name)
               or document.get('/**') or {})
    if 'ros__parameters' not in section:
        raise ValueError(f'{yaml_path}: no {node_name}.ros__parameters section')
    return flatten(section['ros__parameters'])


def check_defaults(specs: Sequence[ParamSpec], defaults: Dict[str, Any]) -> List[str]:
    """List every disagreement between the specs and the YAML defaults (empty = consistent)."""
    problems = []
    names = {spec.name for spec in specs}
    for spec in specs:
        if spec.name not in defaults:
            problems.append(f'parameter {spec.name} has no default in the params YAML')
            continue
        try:
            spec.check(defaults[spec.name])
        except ValueError as error:
            problems.append(f'default: {error}')
    for name in sorted(set(defaults) - names):
        problems.append(f'params YAML sets {name}, which the node does not declare')
    return problems
