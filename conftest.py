"""Workspace-wide pytest set-up: keep test DDS traffic on this machine and in its own domain."""

import os


def pytest_configure(config):
    """Isolate this run's DDS traffic before any test starts a node."""
    # A domain of its own per test run (1..100, inside ROS's safe 0..101), so parallel
    # runs or a live stack never cross-talk.
    os.environ.setdefault('ROS_DOMAIN_ID', str(1 + os.getpid() % 100))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('RCUTILS_COLORIZED_OUTPUT', '0')
