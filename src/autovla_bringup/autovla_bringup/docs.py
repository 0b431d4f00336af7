"""README tables generated from the stack: topics, and parameters per node from PARAMS + YAML.

Each table lives in the README of the package it documents (``SECTION_HOMES``): a node's
parameters between ``<!-- params:<node>:begin -->`` / ``<!-- params:<node>:end -->`` in
``src/<package>/README.md``, the stack's topics between ``<!-- topics:begin -->`` /
``<!-- topics:end -->`` in autovla_bringup's README. ``python -m autovla_bringup.docs --write``
rewrites those blocks; ``--check`` exits 1 and prints what differs when a README no longer
matches the specs and the YAML files.
"""

import argparse
import difflib
from pathlib import Path
import re
import sys
from typing import Any, Dict, List, Optional, Sequence

from autovla_common.params import ParamSpec

from autovla_bringup import stack
from autovla_bringup.specs import node_defaults, node_params

RATE_TEMPLATE = re.compile(r'^\{(\w+)\.(\w+)\}$')


def _cell(text: str) -> str:
    return str(text).replace('|', '\\|')


def value_range(spec: ParamSpec) -> str:
    """Format the allowed values of ``spec`` as a table cell."""
    if spec.choices:
        return ', '.join(f'`{choice}`' for choice in spec.choices)
    if spec.min is not None and spec.max is not None:
        return f'[{spec.min}, {spec.max}]'
    if spec.min is not None:
        return f'>= {spec.min}'
    if spec.max is not None:
        return f'<= {spec.max}'
    return '-'


def params_table(specs: Sequence[ParamSpec], defaults: Dict[str, Any]) -> str:
    """Markdown table of one node's parameters, defaults from its params YAML."""
    lines = ['| parameter | type | default | range | description |', '|---|---|---|---|---|']
    for spec in specs:
        default = stack.param_literal(defaults[spec.name]) if spec.name in defaults else 'MISSING'
        lines.append(f'| `{spec.name}` | {spec.type} | `{_cell(default)}` | '
                     f'{_cell(value_range(spec))} | {_cell(spec.description)} |')
    return '\n'.join(lines)


def _rate(text: str, defaults: Dict[str, Dict[str, Any]]) -> str:
    match = RATE_TEMPLATE.match(text)
    if not match:
        return text
    node_key, param = match.groups()
    return f'`{param}` (default {defaults[node_key][param]} Hz)'


def topics_table(rig_path: Path, defaults: Dict[str, Dict[str, Any]]) -> str:
    """Markdown table of the stack's topics: the rig's cameras, then the agreed wiring."""
    lines = ['| topic | type | QoS | rate | direction |', '|---|---|---|---|---|']
    rig = stack.load_rig_document(rig_path)
    for camera in rig['cameras']:
        image_type = ('sensor_msgs/CompressedImage' if camera.get('transport', 'compressed')
                      == 'compressed' else 'sensor_msgs/Image')
        lines.append(f'| `{camera.get("source_topic") or camera["topic"]}` | {image_type} | '
                     f'SENSOR_QOS | camera frame rate | in: perception_node |')
    lines.append('| per camera `camera_info_topic` of the rig (empty: rig intrinsics) | '
                 'sensor_msgs/CameraInfo | SENSOR_QOS | camera frame rate | in: perception_node |')
    for topic in stack.TOPICS:
        names = ', '.join(stack.node_by_key(key).name for key in topic.nodes)
        lines.append(f'| `{topic.name}` | {_cell(topic.type)} | {topic.qos} | '
                     f'{_cell(_rate(topic.rate, defaults))} | {topic.direction}: {names} |')
    return '\n'.join(lines)


def generated_sections(install: Optional[stack.InstallSpace] = None) -> Dict[str, str]:
    """Every generated README block, by marker name."""
    install = install or stack.InstallSpace()
    defaults = {node.key: node_defaults(node, install) for node in stack.NODES}
    sections = {f'params:{node.name}': params_table(node_params(node), defaults[node.key])
                for node in stack.NODES}
    sections['topics'] = topics_table(install.default_rig(), defaults)
    return sections


def section_homes() -> Dict[str, str]:
    """README (path relative to the repository) that holds each generated block."""
    homes = {f'params:{node.name}': f'src/{node.package}/README.md' for node in stack.NODES}
    homes['topics'] = f'src/{stack.BRINGUP_PACKAGE}/README.md'
    return homes


def _block(name: str) -> re.Pattern:
    name = re.escape(name)
    return re.compile(rf'(<!-- {name}:begin -->\n)(.*?)(<!-- {name}:end -->)', re.DOTALL)


def apply_sections(readme: str, sections: Dict[str, str]) -> str:
    """``readme`` with every marked block replaced; ValueError names a missing marker."""
    for name, body in sections.items():
        pattern = _block(name)
        if not pattern.search(readme):
            raise ValueError(f'README has no <!-- {name}:begin --> ... end block')
        readme = pattern.sub(lambda match: match.group(1) + body + '\n' + match.group(3), readme)
    return readme


def readme_problems(readme: str, sections: Dict[str, str],
                    name: str = 'README.md') -> List[str]:
    """Unified diff lines between the README and the generated blocks (empty = in sync)."""
    try:
        expected = apply_sections(readme, sections)
    except ValueError as error:
        return [f'{name}: {error}']
    return list(difflib.unified_diff(readme.splitlines(), expected.splitlines(),
                                     name, 'generated', lineterm=''))


def sections_by_readme(sections: Dict[str, str]) -> Dict[str, Dict[str, str]]:
    """Group the generated blocks by the README that holds them."""
    homes = section_homes()
    grouped: Dict[str, Dict[str, str]] = {}
    for name, body in sections.items():
        grouped.setdefault(homes[name], {})[name] = body
    return grouped


def repository_problems(repo: Path, sections: Dict[str, str]) -> List[str]:
    """Problems of every README that holds a generated block (empty = all in sync)."""
    problems = []
    for relative, blocks in sections_by_readme(sections).items():
        path = repo / relative
        if not path.is_file():
            problems.append(f'{relative}: missing (it holds {", ".join(sorted(blocks))})')
            continue
        problems += readme_problems(path.read_text(encoding='utf-8'), blocks, relative)
    return problems


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Check or rewrite the generated tables of the package READMEs."""
    parser = argparse.ArgumentParser(prog='python -m autovla_bringup.docs', description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument('--check', action='store_true', help='exit 1 if a README is stale')
    mode.add_argument('--write', action='store_true', help='rewrite the README blocks')
    parser.add_argument('--repo', type=Path, default=Path('.'),
                        help='repository root (default: the current directory)')
    args = parser.parse_args(argv)
    sections = generated_sections()
    if args.write:
        for relative, blocks in sections_by_readme(sections).items():
            path = args.repo / relative
            path.write_text(apply_sections(path.read_text(encoding='utf-8'), blocks),
                            encoding='utf-8')
        return 0
    problems = repository_problems(args.repo, sections)
    print('\n'.join(problems) if problems else 'package READMEs: tables match the stack')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
