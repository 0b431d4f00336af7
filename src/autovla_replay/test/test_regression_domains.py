"""run_regression never starts its stacks on a live stack's domain (the default 0 included)."""

from autovla_common.domain import bound_ports, release_domain
from autovla_replay.cli import _domains


def test_a_stack_of_its_own_gets_a_free_domain_not_the_default(monkeypatch):
    monkeypatch.delenv('ROS_DOMAIN_ID', raising=False)
    [domain] = _domains('', 1, own_stacks=True)
    try:
        assert domain != 0 and not bound_ports(domain)
    finally:
        release_domain(domain)


def test_parallel_stacks_get_distinct_free_domains(monkeypatch):
    monkeypatch.delenv('ROS_DOMAIN_ID', raising=False)
    domains = _domains('', 3, own_stacks=True)
    try:
        assert len(set(domains)) == 3 and 0 not in domains
    finally:
        for domain in domains:
            release_domain(domain)


def test_an_exported_domain_or_a_given_range_is_honoured(monkeypatch):
    monkeypatch.setenv('ROS_DOMAIN_ID', '42')
    assert _domains('', 1, own_stacks=True) == [42]
    assert _domains('', 1, own_stacks=False) == [42]
    assert _domains('50-53', 2, own_stacks=True) == [50, 51]
    monkeypatch.delenv('ROS_DOMAIN_ID')
    # A running stack (--namespace) is reached where ROS looks by default.
    assert _domains('', 1, own_stacks=False) == [0]
