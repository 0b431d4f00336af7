"""After `source tools/activate.sh` every tool is on PATH, answers --help, and really runs."""

import json
import os
from pathlib import Path
import subprocess

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOLS = ['autovla_bringup', 'replay_bag', 'record_outputs', 'compute_metrics', 'compare_runs',
         'make_report', 'run_regression', 'autovla_demo', 'generate_scenarios',
         'build_codebook', 'make_tiny_model', 'convert_autovla_checkpoint',
         'train_default_model', 'rft_default_model', 'rft_tables', 'train_reasoning_model']


def shell(command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``command`` in a fresh bash that has only sourced tools/activate.sh."""
    env = {key: value for key, value in os.environ.items() if key not in ('PATH',)}
    env['PATH'] = '/usr/local/bin:/usr/bin:/bin'
    return subprocess.run(['bash', '-c', f'source {REPO}/tools/activate.sh && {command}'],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


@pytest.mark.parametrize('tool', TOOLS)
def test_tool_is_on_path_and_answers_help(tool):
    result = shell(f'{tool} --help')
    assert result.returncode == 0, result.stderr
    assert 'usage:' in result.stdout and tool in result.stdout


def test_python_m_cli_names_the_tools_instead_of_running_one():
    result = shell('python -m autovla_replay.cli')
    assert result.returncode == 1
    assert 'run_regression' in result.stderr and 'replay_bag' in result.stderr


def test_replay_tools_run_on_a_real_bag(tmp_path):
    # A tiny generated scenario, replayed at full speed into an empty graph (no stack), an
    # outputs bag recorded, scored, reported and stored as references.
    domain = os.environ.get('ROS_DOMAIN_ID', '0')
    steps = [
        f'generate_scenarios --out {tmp_path}/s --scenarios straight_cruise --width 64 '
        '--height 36 --duration 1.5',
        f'ROS_DOMAIN_ID={domain} replay_bag {tmp_path}/s/straight_cruise --rate 20 '
        '--subscriber-timeout 0 --remap odometry:=/elsewhere',
        f'ROS_DOMAIN_ID={domain} record_outputs --out {tmp_path}/run/straight_cruise/outputs '
        '--duration 0.5',
        f'compute_metrics {tmp_path}/s/straight_cruise {tmp_path}/run/straight_cruise/outputs '
        f'--out {tmp_path}/run/straight_cruise/metrics.json',
        f'make_report --scenarios {tmp_path}/s --run {tmp_path}/run',
        f'compare_runs {tmp_path}/run --references {tmp_path}/refs --update-references',
    ]
    outputs = []
    for step in steps:
        result = shell(step, timeout=300)
        assert result.returncode == 0, f'{step}\n{result.stdout}\n{result.stderr}'
        outputs.append(result.stdout + result.stderr)
    assert 'replayed' in outputs[1] and 'Found remap rule' not in outputs[1]
    assert 'recorded' in outputs[2]
    metrics = json.loads((tmp_path / 'run/straight_cruise/metrics.json').read_text(),
                         parse_constant=lambda c: pytest.fail(f'{c} in metrics.json'))
    assert metrics['plans'] == 0 and metrics['unscored_reason'] == 'no plans'
    assert (tmp_path / 'run/report.html').is_file()
    assert (tmp_path / 'refs/straight_cruise.json').is_file()
