"""Free-domain picking: ports bound by a participant, locks of other runs, exported values."""

import socket
import subprocess
import sys

import pytest

from autovla_common import domain as domains


def test_exported_domain_is_honoured_and_an_unset_one_is_picked_and_exported():
    assert domains.isolate_ros_domain({'ROS_DOMAIN_ID': '42'}) == 42
    env = {}
    picked = domains.isolate_ros_domain(env)
    domains.release_domain(picked)
    assert env['ROS_DOMAIN_ID'] == str(picked) and picked in domains.DOMAINS
    assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    with pytest.raises(ValueError, match='not a non-negative integer'):
        domains.exported_domain({'ROS_DOMAIN_ID': 'five'})


def test_a_bound_participant_port_makes_the_domain_busy():
    domain = domains.claim_free_domain()
    other = domains.claim_free_domain()
    domains.release_domain(domain)
    domains.release_domain(other)
    # What a participant with id 3 binds: 7400 + 250 d + 10 + 2 * 3.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as participant:
        participant.bind(('0.0.0.0', 7400 + 250 * domain + 16))
        assert domains.bound_ports(domain) == [7400 + 250 * domain + 16]
        with pytest.raises(domains.DomainBusyError, match='DDS participants'):
            domains.claim_domain(domain)
        assert domains.claim_free_domain([domain, other]) == other
    domains.release_domain(other)


def test_a_free_domain_is_never_one_this_process_already_holds():
    # CI failure: the process's own (session) domain came first in the shuffle and was
    # handed out again, so two "free" domains were the same one.
    held = domains.claim_free_domain()
    other = domains.claim_free_domain()
    try:
        assert other != held
        with pytest.raises(domains.DomainBusyError, match='no free'):
            domains.claim_free_domain([held, other])
    finally:
        for domain in (held, other):
            domains.release_domain(domain)


def test_a_domain_claimed_by_another_run_is_skipped_until_that_run_ends():
    domain = domains.claim_free_domain()
    domains.release_domain(domain)
    holder = subprocess.Popen(
        [sys.executable, '-c', 'import sys; from autovla_common import domain as d; '
         f'd.claim_domain({domain}); print("claimed", flush=True); sys.stdin.read()'],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'claimed'
        with pytest.raises(domains.DomainBusyError, match='another autovla run'):
            domains.claim_domain(domain)
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert domains.claim_domain(domain) == domain   # its lock died with it
    domains.release_domain(domain)
