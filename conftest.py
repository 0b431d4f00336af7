"""Workspace-wide pytest set-up: keep test DDS traffic on this machine and in its own domain."""

import os

import pytest


def pytest_configure(config):
    """Isolate this run's DDS traffic before any test starts a node."""
    from autovla_common.domain import DomainBusyError, isolate_ros_domain

    # An exported ROS_DOMAIN_ID is used only if no participant is on it (a test run must
    # never publish plans or e-stops into a live stack); otherwise a free one is claimed.
    try:
        domain = isolate_ros_domain(verify=True)
    except (DomainBusyError, ValueError) as error:
        raise pytest.UsageError(f'{error}: unset ROS_DOMAIN_ID to let the tests pick a free '
                                'domain, or export a free one')
    config.stash[DOMAIN_KEY] = domain
    os.environ.setdefault('RCUTILS_COLORIZED_OUTPUT', '0')


DOMAIN_KEY = pytest.StashKey[int]()


def pytest_report_header(config):
    """Say which domain the run uses (it is picked at random when not exported)."""
    return f'ROS_DOMAIN_ID={config.stash.get(DOMAIN_KEY, None)} (checked free, claimed)'
