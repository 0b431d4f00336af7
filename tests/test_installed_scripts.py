"""Installed console scripts run with the environment's python3, whichever colcon built them.

colcon from apt runs on /usr/bin/python3 and, by default, writes that interpreter into every
script it installs, while torch, transformers and opencv live only in the venv (colcon-core#181).
"""

import configparser
from pathlib import Path
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parents[1]
ENV_SHEBANG = '/usr/bin/env python3'
PYTHON_PACKAGES = sorted(path.parent for path in REPO.glob('src/*/setup.cfg'))


@pytest.mark.parametrize('package', PYTHON_PACKAGES, ids=lambda path: path.name)
def test_every_python_package_installs_env_shebangs(package):
    config = configparser.ConfigParser()
    config.read(package / 'setup.cfg')
    assert config.get('build_scripts', 'executable', fallback=None) == ENV_SHEBANG
    assert config.get('install', 'install_scripts') == f'$base/lib/{package.name}'


def test_a_plain_colcon_install_writes_the_env_shebang(tmp_path):
    # A real, non-symlink colcon build (what the Docker image and release installs do).
    result = subprocess.run(
        [sys.executable, '-m', 'colcon', 'build', '--packages-select', 'autovla_safety',
         '--base-paths', str(REPO / 'src'), '--build-base', str(tmp_path / 'build'),
         '--install-base', str(tmp_path / 'install'), '--event-handlers', 'console_direct-'],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    script = tmp_path / 'install/autovla_safety/lib/autovla_safety/safety_node'
    assert script.read_text().splitlines()[0] == '#!' + ENV_SHEBANG
    # In the documented environment (tools/activate.sh) that python3 has the stack's imports.
    check = subprocess.run(['/usr/bin/env', 'python3', '-c', 'import rclpy, numpy, yaml'],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr


def test_make_build_runs_colcon_on_the_venv_python():
    # Symlink installs (setup.py develop) write the interpreter that runs colcon instead.
    makefile = (REPO / 'Makefile').read_text()
    assert 'python -m colcon build' in makefile
    assert '&& colcon build' not in makefile
