"""Leases and job runs: one holder at a time, even when many ask at once; expiry hands a job
over; a dead process of the same node loses its lease at once. Both engines."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from paperboard.core.config import Settings
from paperboard.present.coordination import take_lease
from paperboard.store.leases import LeaseStore
from paperboard.store.papers import PaperStore

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_one_holder_until_the_lease_expires(store: PaperStore) -> None:
    leases = LeaseStore(store.engine)
    assert leases.acquire("job:ingest", "a:1", 60, now=T0)
    assert not leases.acquire("job:ingest", "b:2", 60, now=T0 + timedelta(seconds=59))
    assert leases.acquire("job:ingest", "a:1", 60, now=T0 + timedelta(seconds=30))  # renewal
    assert leases.renew("job:ingest", "a:1", 60, now=T0 + timedelta(seconds=60))
    assert not leases.acquire("job:ingest", "b:2", 60, now=T0 + timedelta(seconds=100))
    later = T0 + timedelta(seconds=121)
    assert leases.acquire("job:ingest", "b:2", 60, now=later)  # expired: taken over
    assert not leases.renew("job:ingest", "a:1", 60, now=later)  # the old holder learns it
    assert [row["holder"] for row in leases.holders(now=later)] == ["b:2"]
    leases.release("job:ingest", "a:1")  # not theirs: nothing happens
    assert leases.holder_of("job:ingest", now=later)["holder"] == "b:2"  # type: ignore[index]
    leases.release("job:ingest", "b:2")
    assert leases.acquire("job:ingest", "c:3", 60, now=later)


def test_many_asking_at_once_get_one_lease(store: PaperStore) -> None:
    leases = LeaseStore(store.engine)
    barrier = threading.Barrier(8)
    won: list[str] = []

    def ask(n: int) -> None:
        barrier.wait()
        if leases.acquire("digest:daily:2026-12-05", f"node:{n}", 60):
            won.append(f"node:{n}")

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1


def test_a_job_run_is_finished_once_per_due_time(store: PaperStore) -> None:
    leases = LeaseStore(store.engine)
    assert not leases.finished("daily digest", "2026-12-06")
    leases.started("daily digest", "2026-12-06", "a:1", now=T0)
    leases.started("daily digest", "2026-12-06", "b:2", now=T0)  # taken over: one row
    assert not leases.finished("daily digest", "2026-12-06")
    leases.finish("daily digest", "2026-12-06", "b:2", "12 sent", now=T0)
    assert leases.finished("daily digest", "2026-12-06")
    last = leases.last_finished("daily digest")
    assert last is not None and last["holder"] == "b:2" and last["summary"] == "12 sent"
    assert len(leases.recent_runs()) == 1


def test_a_dead_process_of_this_node_loses_its_lease_at_once(
    store: PaperStore, settings: Settings
) -> None:
    leases = LeaseStore(store.engine)
    here = settings.model_copy(update={"node_name": "node-a"})
    dead_pid = 2**22 + 12345  # above Linux's pid_max: no such process
    assert leases.acquire("job:ingest", f"node-a:{dead_pid}", 600)
    assert take_lease(leases, "job:ingest", here)
    assert leases.holder_of("job:ingest")["holder"] == here.node  # type: ignore[index]
    # Another node's holder is never judged from here: it keeps its lease until it expires.
    elsewhere = settings.model_copy(update={"node_name": "node-b"})
    assert not take_lease(leases, "job:ingest", elsewhere)
