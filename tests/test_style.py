"""ROS Python style (ament_flake8 + ament_pep257 rules, as configured in ruff.toml)."""

from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_style_checks_pass():
    result = subprocess.run(
        [sys.executable, '-m', 'ruff', 'check', '--no-cache', '.'],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
