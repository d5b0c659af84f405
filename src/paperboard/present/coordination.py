"""Taking a lease for this process, including one left by a dead process of this same node.

Leases (``paperboard.store.leases``) expire on their own, which is how a job passes from a worker
on a dead node to one on another node. A process restarted on the same node need not wait for
that: a holder named with this node's name whose process id no longer runs here is certainly
dead, and its lease is taken at once (what the dead process left half done is finished by the
job itself: digests resend what was in doubt, imports and indexing are idempotent).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from paperboard.core.config import Settings
from paperboard.store.leases import LeaseStore


def _dead_here(holder: str, settings: Settings) -> bool:
    """Whether ``holder`` names a process of this node that no longer runs."""
    node, _, pid = holder.rpartition(":")
    mine, _, _ = settings.node.rpartition(":")
    if node != mine or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def take_lease(leases: LeaseStore, name: str, settings: Settings) -> bool:
    """Take the lease ``name`` for this process for ``PAPERBOARD_LEASE_SECONDS``; False when a
    live process holds it."""
    holder, seconds = settings.node, settings.lease_seconds
    if leases.acquire(name, holder, seconds):
        return True
    other = leases.holder_of(name)
    if other is not None and _dead_here(other["holder"], settings):
        return leases.acquire(name, holder, seconds, replacing=other["holder"])
    return False


def describe_holder(leases: LeaseStore, name: str) -> str:
    """Who holds ``name`` and until when, for a one-line message."""
    other = leases.holder_of(name)
    if other is None:
        return "another process"
    return f"{other['holder']} (lease until {other['expires_at']:%H:%M:%S} UTC)"


def claimer(
    leases: LeaseStore, settings: Settings
) -> Callable[[str], AbstractContextManager[bool]]:
    """``claim(name)`` for work shared between processes (``sync_vectors(claim=...)``): a block
    that holds the lease ``name`` (renewed while it runs, released after) and yields True, or
    yields False when a live process holds it."""

    @contextmanager
    def claim(name: str) -> Iterator[bool]:
        if not take_lease(leases, name, settings):
            yield False
            return
        with leases.kept(name, settings.node, settings.lease_seconds):
            yield True

    return claim
