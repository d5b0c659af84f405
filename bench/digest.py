"""Digest benchmark: compose personalized digests for 10,000 subscribers over the 40k real papers.

Subscribers are a realistic mix: a third follow one to three categories, a third keywords taken
from real titles, and a third are members with 5 to 50 signals (upvotes, "more like this" and
"not interested"), whose "for you" picks come from a model trained on them per digest
(``rank/for_you.py``). The period is the last week of the data. Composing means what
``paperboard digest send`` does before SMTP: choose each subscriber's top papers and picks and
render the multipart message (HTML and text) to bytes, in one process per core as ``digest send``
does (``prepare_all``).

Printed: the time for all subscribers and per subscriber, in one process and in one per core, and,
as the baseline run in the same process, the same subscribers with "for you" off (top papers only).
Target: 10,000 personalized digests in at most 60 s on the 2-core machine.

    python bench/search.py --home /tmp/bench40k      # once: the 40k papers with embeddings
    python bench/digest.py --home /tmp/bench40k      # copies it; the original is left as it was
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from rich.progress import Progress

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def populate(home: Path, count: int, seed: int = 7) -> None:
    """Members, upvotes and subscribers, written through the stores (not timed)."""
    from paperboard.core.config import load_settings
    from paperboard.core.passwords import hash_password
    from paperboard.present.container import Container

    app = Container.open(load_settings(home=home, database_url=None))
    store, members, community, digests = app.papers, app.members, app.community, app.digests
    interests = app.interests
    rng = random.Random(seed)
    latest = store.latest_feed_date()
    assert latest is not None, "no papers in this home"
    recent = store.list_papers(latest - timedelta(days=60), latest, sort="published")
    ids = [row["id"] for row in recent]
    categories = sorted({c for row in recent for c in row["categories"][:1]})
    popular = [
        c for c in categories if sum(1 for r in recent if c in r["categories"]) > 200
    ] or categories
    words = [
        w.strip(":,.()").lower()
        for row in recent
        for w in (row["title"] or "").split()
        if len(w) > 6
    ]
    topics = sorted(set(words))[:2000] or ["learning"]
    password = hash_password("benchmark password")  # one hash for all: argon2 is slow on purpose
    with Progress(transient=True) as progress:
        task = progress.add_task("subscribers", total=count)
        for n in range(count):
            email = f"reader{n:05d}@bench.example.org"
            member_id = None
            if rng.random() < 0.34:
                member_id = members.create(email, f"Reader {n}", password)["id"]
                signals = rng.sample(ids, rng.randint(5, 50))
                for number, paper_id in enumerate(signals):
                    if number % 5 == 4:
                        interests.set_signal(member_id, paper_id, "less")
                    elif number % 5 == 3:
                        interests.set_signal(member_id, paper_id, "more")
                    else:
                        community.upvote(member_id, paper_id)
            kind = rng.random()
            digests.subscribe(
                email,
                member_id=member_id,
                frequency="weekly",
                categories=rng.sample(popular, rng.randint(1, min(3, len(popular))))
                if kind < 0.33
                else [],
                keywords=rng.sample(topics, rng.randint(1, 2)) if 0.33 <= kind < 0.66 else [],
                confirmed=True,
            )
            progress.advance(task)
    app.close()


def measure(home: Path, *, for_you: bool, processes: int) -> dict[str, float]:
    """Compose every subscriber's digest as ``digest send`` does (``prepare_all``: choose the
    papers, render the message), without SMTP."""
    from paperboard.core.config import load_settings
    from paperboard.present.container import Container
    from paperboard.present.mail.digests import prepare_all
    from paperboard.rank.digest import period_for

    app = Container.open(load_settings(home=home, database_url=None))
    latest = app.papers.latest_feed_date()
    assert latest is not None
    period = period_for("weekly", latest)
    subscribers = app.digests.due("weekly")
    if not for_you:
        subscribers = [{**s, "for_you": False} for s in subscribers]
    picks = empty = size = 0
    started = time.perf_counter()
    for prepared in prepare_all(app, period, subscribers, processes=processes):
        picks += len(prepared.picks)
        if prepared.data is None:
            empty += 1
        else:
            size += len(prepared.data)
    total = time.perf_counter() - started
    app.close()
    return {
        "subscribers": len(subscribers),
        "total_s": total,
        "picks": picks,
        "empty": empty,
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--home", type=Path, required=True, help="a home with the 40k papers and their embeddings"
    )
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument(
        "--skip-serial", action="store_true", help="skip the personalized run in one process"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-digest-") as scratch:
        home = Path(scratch) / "home"
        shutil.copytree(args.home, home, ignore=shutil.ignore_patterns("logs", "outbox"))
        started = time.perf_counter()
        populate(home, args.subscribers)
        print(
            f"setup: {args.subscribers:,} subscribers in {time.perf_counter() - started:.0f} s"
            " (not counted)"
        )
        from paperboard.present.mail.digests import default_processes

        parallel = default_processes(args.subscribers)
        runs = [
            ("top papers only, 1 process (baseline)", measure(home, for_you=False, processes=1)),
        ]
        if not args.skip_serial or parallel <= 1:
            runs.append(("personalized, 1 process", measure(home, for_you=True, processes=1)))
        if parallel > 1:
            runs.append(
                (
                    f"personalized, {parallel} processes (what digest send uses)",
                    measure(home, for_you=True, processes=parallel),
                )
            )
    baseline = runs[0][1]
    for label, result in runs:
        n = result["subscribers"]
        print(f"{label}:")
        print(
            f"  {n:,} digests in {result['total_s']:.1f} s "
            f"({result['total_s'] / n * 1000:.2f} ms each, "
            f"{result['total_s'] / baseline['total_s']:.2f}x the baseline); "
            f"{result['picks']:,} picks, {result['empty']:,} empty, "
            f"{result['bytes'] / max(1, n - result['empty']) / 1024:.1f} KiB a message"
        )
    best = runs[-1][1]
    print(
        f"  target: {args.subscribers:,} personalized digests in <= 60 s: "
        f"{'met' if best['total_s'] <= 60 else 'MISSED'} ({best['total_s']:.1f} s)"
    )
    print(f"  peak RSS {_peak_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
