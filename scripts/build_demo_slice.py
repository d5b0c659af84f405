#!/usr/bin/env python3
"""Build ``src/paperboard/data/demo_arxiv.jsonl.gz``, the real arXiv papers ``paperboard demo``
loads beside the seed pages' papers, from ``../shared/data/arxiv-2025.jsonl.gz``.

Run it with the project's environment: ``.venv/bin/python scripts/build_demo_slice.py``.

The slice is every paper first listed on or after ``FIRST_DAY`` (the last weeks of the shared
data, a few thousand papers with authors, categories and dates), plus any paper whose arXiv id a
seed page names, line for line as in the shared file (arXiv's bulk snapshot layout, so the
snapshot source reads it). The output is deterministic: gzip's timestamp is zero, so rerunning
the script on the same data rewrites the same bytes. It must stay under ``LIMIT_BYTES`` (the
shared data's README allows the package a slice of at most 5 MB compressed).

The metadata is arXiv's, distributed by arXiv under CC0, as crawled from arXiv's daily listings
by the public repository dw-dengwei/daily-arXiv-ai-enhanced (branch ``data``);
``src/paperboard/data/DEMO_DATA.md`` and the site's about page say so.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data" / "arxiv-2025.jsonl.gz"
DEMO_PAPERS = ROOT / "src" / "paperboard" / "data" / "demo_papers.json"
OUTPUT = ROOT / "src" / "paperboard" / "data" / "demo_arxiv.jsonl.gz"
FIRST_DAY = "2025-12-01"
LIMIT_BYTES = 5_000_000


def seed_ids() -> set[str]:
    """The arXiv ids the seed pages' papers carry."""
    document = json.loads(DEMO_PAPERS.read_text("utf-8"))
    return {p["id"] for p in document["papers"] if not p["id"].startswith("demo:")}


def build(source: Path = SHARED_DATA, first_day: str = FIRST_DAY) -> bytes:
    """The compressed slice."""
    wanted = seed_ids()
    out = io.BytesIO()
    with (
        gzip.open(source, "rt", encoding="utf-8") as lines,
        gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as packed,
    ):
        for line in lines:
            entry = json.loads(line)
            if (entry.get("update_date") or "") >= first_day or entry.get("id") in wanted:
                packed.write(line.rstrip("\n").encode("utf-8") + b"\n")
    return out.getvalue()


def main() -> int:
    if not SHARED_DATA.exists():
        print(f"error: {SHARED_DATA} is missing", file=sys.stderr)
        return 1
    data = build()
    if len(data) > LIMIT_BYTES:
        print(f"error: the slice is {len(data):,} bytes, over {LIMIT_BYTES:,}", file=sys.stderr)
        return 1
    OUTPUT.write_bytes(data)
    count = gzip.decompress(data).count(b"\n")
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {count:,} papers, {len(data):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
