"""Test runs cannot talk to anything but themselves (issue 15 bug 7).

A second, unrelated stack (a real safety_node and an observer) runs on a domain of its own
first; a test run is then started beside it, once told to use that domain and once left to
pick one. The observer counts what reaches the foreign domain from outside its own stack.
"""

import os
from pathlib import Path
import subprocess
import sys

from autovla_common.qos import RELIABLE_QOS
from autovla_common.testing import NodeProcess, RosProbe, wait_until
import pytest
from rosgraph_msgs.msg import Clock

from autovla_common import domain as domains
from autovla_msgs.msg import DriveCommand, PlannedTrajectory

ROOT = Path(__file__).resolve().parents[1]
# A short suite that publishes /clock and starts a safety_node of its own.
SUBRUN = 'src/autovla_safety/test/test_safety_node_sim_time.py'


@pytest.fixture(scope='module')
def foreign_stack():
    """A safety_node and its observer on a free domain this process does not keep claimed."""
    foreign = domains.claim_free_domain()
    domains.release_domain(foreign)  # a live stack on a car holds no autovla lock file
    env = {'ROS_DOMAIN_ID': str(foreign)}
    with RosProbe('foreign_observer', domain_id=foreign) as observer, \
            NodeProcess.ros_node('autovla_safety', 'safety_node', env=env) as node:
        commands = observer.collect(DriveCommand, 'drive_command', RELIABLE_QOS)
        intrusions = observer.collect(Clock, '/clock', RELIABLE_QOS)
        intrusions += observer.collect(PlannedTrajectory, 'planned_trajectory', RELIABLE_QOS)
        assert wait_until(lambda: len(commands) > 10, 30), node.output()
        assert domains.bound_ports(foreign), 'the foreign stack binds no RTPS port'
        yield foreign, node, intrusions


def run_suite(domain=None):
    env = {k: v for k, v in os.environ.items() if k != 'ROS_DOMAIN_ID'}
    if domain is not None:
        env['ROS_DOMAIN_ID'] = str(domain)
    return subprocess.run([sys.executable, '-m', 'pytest', '-q', SUBRUN],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


def test_a_domain_with_participants_is_never_picked(foreign_stack):
    foreign, _, _ = foreign_stack
    with pytest.raises(domains.DomainBusyError, match='DDS participants'):
        domains.claim_domain(foreign)
    picked = domains.claim_free_domain([foreign] + list(domains.DOMAINS))
    domains.release_domain(picked)
    assert picked != foreign


def test_a_run_told_to_join_a_live_stack_refuses_before_any_test(foreign_stack):
    foreign, node, intrusions = foreign_stack
    result = run_suite(foreign)
    assert result.returncode != 0, result.stdout[-2000:]
    assert f'ROS_DOMAIN_ID {foreign} has DDS participants' in result.stdout + result.stderr
    assert not intrusions, f'{len(intrusions)} messages reached the foreign stack'
    assert node.process.poll() is None


def test_the_suite_passes_beside_a_live_stack_without_touching_it(foreign_stack):
    foreign, node, intrusions = foreign_stack
    result = run_suite()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f'ROS_DOMAIN_ID={foreign} ' not in result.stdout
    assert not intrusions, f'{len(intrusions)} messages reached the foreign stack'
    assert node.process.poll() is None
