"""A DDS domain of our own: is a ROS_DOMAIN_ID in use on this machine, and claim a free one.

ROS-free. Every RTPS participant (Fast DDS, Cyclone DDS, Connext...) binds the unicast
discovery and user ports that the RTPS specification derives from its domain and
participant id (port = 7400 + 250 * domain + 10 or 11 + 2 * participant id). If one of a
domain's ports cannot be bound, another participant lives there: a running stack, a test
run or an RViz. Checking the ports is instant and sees participants of any vendor, where a
ROS graph query needs seconds of discovery and sees only ROS nodes.

Two of our own runs could check the same free domain at the same moment, before either
has started a node; a lock file per domain, held for the life of the claiming process,
keeps them apart (released by the kernel when the process ends, however it ends).
"""

import errno
import fcntl
import os
from pathlib import Path
import random
import socket
import tempfile
from typing import Dict, IO, Iterable, List, Mapping, MutableMapping, Optional

# Domains we choose from: inside ROS's portable 0..101 and never 0, every stack's default.
DOMAINS = range(1, 101)
# RTPS well-known ports (DDSI-RTPS 2.x, 9.6.1.1): PB + DG * domain + offsets + PG * id.
PORT_BASE, DOMAIN_GAIN, PARTICIPANT_GAIN = 7400, 250, 2
UNICAST_OFFSETS = (10, 11)    # discovery (d1) and user traffic (d3)
# ROS 2 on Linux allows 120 participants per domain for domains 0..101.
MAX_PARTICIPANTS = 120
LOCK_DIR = Path(tempfile.gettempdir()) / 'autovla_ros_domains'

_claims: Dict[int, IO] = {}   # open lock files: a claim lasts as long as this process


class DomainBusyError(RuntimeError):
    """The requested domain already has participants, or another of our runs claimed it."""


def bound_ports(domain: int) -> List[int]:
    """Return the RTPS unicast ports of ``domain`` some process on this machine has bound."""
    busy = []
    for participant in range(MAX_PARTICIPANTS):
        for offset in UNICAST_OFFSETS:
            port = PORT_BASE + DOMAIN_GAIN * domain + offset + PARTICIPANT_GAIN * participant
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(('0.0.0.0', port))
                except OSError as error:
                    if error.errno != errno.EADDRINUSE:
                        raise
                    busy.append(port)
    return busy


def _lock(domain: int) -> Optional[IO]:
    """Take this process's claim on ``domain`` (None if another live process holds it)."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    handle = open(LOCK_DIR / f'{domain}.lock', 'a')
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def claim_domain(domain: int) -> int:
    """Claim ``domain`` for this process if nobody uses it; DomainBusyError says who does."""
    if domain in _claims:
        return domain   # claimed earlier by this process
    handle = _lock(domain)
    if handle is None:
        raise DomainBusyError(f'ROS_DOMAIN_ID {domain} is claimed by another autovla run')
    ports = bound_ports(domain)
    if ports:
        handle.close()
        raise DomainBusyError(f'ROS_DOMAIN_ID {domain} has DDS participants on this machine '
                         f'(ports {", ".join(map(str, ports[:6]))} bound)')
    _claims[domain] = handle
    return domain


def release_domain(domain: int) -> None:
    """Give up this process's claim on ``domain`` (no-op if it holds none)."""
    handle = _claims.pop(domain, None)
    if handle is not None:
        handle.close()


def claim_free_domain(candidates: Optional[Iterable[int]] = None) -> int:
    """Claim the first free domain of ``candidates`` (default: DOMAINS, shuffled).

    Domains this process already holds are not free: each call returns a new one.
    """
    if candidates is None:
        candidates = random.sample(DOMAINS, len(DOMAINS))
    for domain in candidates:
        if domain in _claims:
            continue
        try:
            return claim_domain(domain)
        except DomainBusyError:
            continue
    raise DomainBusyError('no free ROS_DOMAIN_ID among the candidates')


def isolate_ros_domain(env: MutableMapping[str, str] = os.environ, verify: bool = False,
                       ) -> int:
    """Set ``env`` up for DDS traffic of our own; return the domain.

    An exported ROS_DOMAIN_ID is honoured (checked free and claimed first when ``verify``:
    tests must never join a live stack); otherwise a free domain is claimed and exported.
    Discovery is kept on this machine unless the caller chose otherwise.
    """
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    exported = exported_domain(env)
    if exported is not None:
        return claim_domain(exported) if verify else exported
    domain = claim_free_domain()
    env['ROS_DOMAIN_ID'] = str(domain)
    return domain


def exported_domain(env: Mapping[str, str]) -> Optional[int]:
    """ROS_DOMAIN_ID from ``env`` (None when unset or empty); ValueError if not a number."""
    text = env.get('ROS_DOMAIN_ID', '').strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f'ROS_DOMAIN_ID={text!r} is not a non-negative integer')
    return int(text)
