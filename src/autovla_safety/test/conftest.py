"""Shared fixtures: the configuration built from the shipped params YAML."""

from pathlib import Path

from autovla_common.params import load_defaults
from autovla_safety.config import SafetyConfig
import pytest

PARAMS_FILE = Path(__file__).resolve().parents[3] / 'config' / 'safety.yaml'


@pytest.fixture
def config() -> SafetyConfig:
    return SafetyConfig.from_params(load_defaults(PARAMS_FILE, 'safety_node'))
