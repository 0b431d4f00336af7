"""The installed ``generate_scenarios`` command, run to completion over its default set."""

import json
from pathlib import Path
import subprocess

from autovla_common.testing import executable
from autovla_scenarios.catalogue import DEFAULT_SET

TINY = ['--width', '64', '--height', '36', '--rate', '2', '--duration', '1']


def test_generate_scenarios_writes_every_scenario_and_the_index(tmp_path):
    out = tmp_path / 'set'
    result = subprocess.run(
        [executable('autovla_scenarios', 'generate_scenarios'), '--out', str(out)]
        + TINY, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Traceback' not in result.stderr
    index = json.loads((out / 'index.json').read_text())
    assert [entry['name'] for entry in index['scenarios']] == list(DEFAULT_SET)
    assert len(DEFAULT_SET) == 7
    for entry in index['scenarios']:
        assert (out / entry['bag'] / 'metadata.yaml').is_file(), entry['name']
        assert entry['name'] in result.stdout
    assert (out / 'rig.yaml').is_file()
    # One progress line per scenario, as it finishes.
    progress = [line for line in result.stdout.splitlines() if 'frames x 6 cameras' in line]
    assert len(progress) == len(DEFAULT_SET), result.stdout


def test_generate_scenarios_refuses_an_unknown_scenario(tmp_path):
    result = subprocess.run(
        [executable('autovla_scenarios', 'generate_scenarios'),
         '--out', str(tmp_path), '--scenarios', 'moon_landing'], capture_output=True, text=True,
        timeout=120)
    assert result.returncode == 2
    assert 'unknown scenario' in result.stderr and 'Traceback' not in result.stderr
    assert not Path(tmp_path / 'index.json').exists()
