"""Shared fixture: one small generated scenario set."""

from autovla_scenarios.generator import generate_set, GenerationConfig
import pytest

# 4 s at 2 Hz = 8 frames; the 4-frame history at 2 Hz is complete from the 4th frame on.
SMALL = GenerationConfig(width=320, height=180, duration=4.0, seed=3)


@pytest.fixture(scope='session')
def scenario_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('scenarios')
    generate_set(out, ['curve'], SMALL)
    return out
