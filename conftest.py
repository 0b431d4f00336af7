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
    # One OpenMP thread for torch here and in every node a test starts (set before torch is
    # imported): the tests share the cores with each other and with other runs, and torch's
    # spin-waiting threads collapse when oversubscribed. Measured side by side with both
    # cores busy: test_dual_mode's training tests 22 s with one thread, 84 s with the
    # default two; a CI run on a machine loaded twice over hit the 300 s test timeout there.
    os.environ.setdefault('OMP_NUM_THREADS', '1')


DOMAIN_KEY = pytest.StashKey[int]()


def pytest_report_header(config):
    """Say which domain the run uses (it is picked at random when not exported)."""
    return f'ROS_DOMAIN_ID={config.stash.get(DOMAIN_KEY, None)} (checked free, claimed)'
