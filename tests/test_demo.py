"""``paperboard demo``: the papers on the two seed pages, loaded once, facts as shown there."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import sys
import unicodedata
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SHARED, SHARED_DATA

from paperboard.core.ids import is_arxiv_id
from paperboard.core.records import PaperRecord
from paperboard.sources.demo import DemoSource

SEEDS = SHARED / "seeds"
needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is absent")
needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_file(), reason="../shared/data is absent")

SEEK = "Seek in the Dark: Reasoning via Test-Time Instance-Level Policy Gradient in Latent Space"
MUTUAL = (
    "A Mutual Information Perspective on Multiple Latent Variable Generative Models for Positive "
    "View Generation"
)


def _norm(title: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", title)).strip().casefold().rstrip(".")


@cache
def seed_titles() -> frozenset[str]:
    """Distinct titles on the seed pages, counted independently of the build script: every
    abstract is a line of several hundred characters, and its title is the text line before it."""
    titles = set()
    for path in sorted(SEEDS.glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        text = [line for line in lines if line]
        for index, line in enumerate(text):
            if len(line) > 400 and index > 0 and len(text[index - 1]) < 400:
                titles.add(_norm(text[index - 1]))
    return frozenset(titles)


@cache
def arxiv_ids_by_title(titles: frozenset[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    with gzip.open(SHARED_DATA, "rt", encoding="utf-8") as lines:
        for line in lines:
            paper = json.loads(line)
            if _norm(paper["title"]) in titles:
                found.setdefault(_norm(paper["title"]), set()).add(paper["id"])
    return found


def demo_document() -> dict[str, Any]:
    raw = resources.files("paperboard").joinpath("data", "demo_papers.json").read_bytes()
    return json.loads(raw)


def demo_paper(title: str) -> dict[str, Any]:
    matches = [p for p in demo_document()["papers"] if _norm(p["title"]) == _norm(title)]
    assert len(matches) == 1, title
    return matches[0]


def row_for(store, title: str) -> dict[str, Any]:
    row = store.get(demo_paper(title)["id"])
    assert row is not None, title
    return row


@cache
def build_script() -> Any:
    """``scripts/build_demo_data.py`` as a module."""
    spec = importlib.util.spec_from_file_location(
        "build_demo_data", ROOT / "scripts" / "build_demo_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# -- the command ----------------------------------------------------------------------------------


def test_demo_loads_every_paper_once_and_a_rerun_changes_nothing(cli, store) -> None:
    source = DemoSource()
    ids = source.paper_ids()
    first = cli("demo", "--seeds-only")
    assert first.exit_code == 0, first.output
    assert f"{len(ids)} read: {len(ids)} new, 0 updated, 0 unchanged, 0 skipped" in first.stdout
    assert "Seek in the Dark" in first.stdout
    assert store.count() == len(ids) == len(set(ids))

    second = cli("demo", "--seeds-only")
    assert second.exit_code == 0, second.output
    assert "0 new, 0 updated" in second.stdout
    assert f"{len(ids)} unchanged" in second.stdout
    assert store.count() == len(ids)


@needs_seeds
def test_one_demo_paper_per_distinct_paper_on_the_pages(cli, store) -> None:
    titles = seed_titles()
    assert len(titles) > 50  # the counting above found the pages' papers
    assert cli("demo", "--seeds-only", "--quiet").exit_code == 0
    assert store.count() == len(titles)
    stored = {_norm(store.get(pid)["title"]) for pid in DemoSource().paper_ids()}
    assert stored == titles


def test_seek_in_the_dark_as_shown(cli, store) -> None:
    assert cli("demo", "--seeds-only", "--quiet").exit_code == 0
    row = row_for(store, SEEK)
    assert row["title"] == SEEK
    assert row["author_count"] == 11
    assert row["authors"] == []
    assert row["published_at"] == datetime(2025, 5, 19, tzinfo=UTC)
    assert row["feed_date"] == date(2025, 5, 19)
    assert row["upvotes"] == 4
    assert row["version"] is None
    assert row["sources"] == ["demo"]
    assert row["abstract"].startswith("Reasoning ability, a core component of human intelligence")

    listed = cli("list", "--date", "2025-05-19")
    assert listed.exit_code == 0, listed.output
    assert "Seek in the Dark" in listed.stdout and row["id"] in listed.stdout
    as_json = json.loads(cli("list", "--date", "2025-05-19", "--json").stdout)
    assert [(p["title"], p["author_count"], p["upvotes"]) for p in as_json] == [(SEEK, 11, 4)]


def test_code_link_from_the_abstract_without_trailing_period(cli, store) -> None:
    assert cli("demo", "--seeds-only", "--quiet").exit_code == 0
    row = row_for(store, MUTUAL)
    assert row["code_urls"] == ["https://github.com/SerezD/mi_ml_gen"]
    assert row["published_at"] == datetime(2025, 1, 23, tzinfo=UTC)  # not the header "Oct 31"
    assert row["author_count"] == 5
    assert row["upvotes"] == 0  # a date with no count shown


def test_dates_with_years_upvotes_and_undated_papers(cli, store) -> None:
    assert cli("demo", "--seeds-only", "--quiet").exit_code == 0
    old = row_for(
        store, "Variational Inference with Latent Space Quantization for Adversarial Resilience"
    )
    assert (old["feed_date"], old["upvotes"], old["author_count"]) == (date(2019, 3, 24), 2, 5)
    quantized = row_for(store, "Disentanglement via Latent Quantization")
    assert (quantized["feed_date"], quantized["upvotes"]) == (date(2023, 5, 28), 1)
    # page 000 shows no metadata for this one, page 001 none for any paper
    for title in (
        "Approaching an unknown communication system by latent space exploration and causal "
        "inference",
        "The Principles of Deep Learning Theory",
        "Pointer Networks",
    ):
        row = row_for(store, title)
        assert row["published_at"] is None and row["feed_date"] is None, title
        assert row["upvotes"] is None and row["author_count"] is None, title
        assert row["id"].startswith("demo:")


def test_page_headers_are_not_paper_dates(cli) -> None:
    assert cli("demo", "--seeds-only", "--quiet").exit_code == 0
    for header in ("2025-10-31", "2025-03-12"):
        listed = cli("list", "--date", header, "--json")
        assert listed.exit_code == 0
        assert json.loads(listed.stdout) == []


def test_a_paper_on_both_pages_is_one_record_with_its_metadata(cli, store) -> None:
    assert cli("demo", "--seeds-only", "--quiet").exit_code == 0
    paper = demo_paper("PAC Generalization via Invariant Representations")
    assert paper["pages"] == ["000", "001"]
    row = store.get(paper["id"])
    assert (row["author_count"], row["feed_date"]) == (3, date(2022, 5, 30))
    titles = [store.get(pid)["title"] for pid in DemoSource().paper_ids()]
    assert titles.count("PAC Generalization via Invariant Representations") == 1


def test_arxiv_data_imported_later_takes_over_the_bibliography(cli, store, tmp_path: Path) -> None:
    assert cli("demo", "--seeds-only", "--quiet").exit_code == 0
    seek = demo_paper(SEEK)["id"]
    if not is_arxiv_id(seek):
        pytest.skip("no arXiv id matched in the demo data")
    line = {
        "id": seek,
        "title": SEEK,
        "authors": ", ".join(f"Author {n}" for n in range(11)),
        "abstract": "Revised abstract.",
        "categories": "cs.LG",
        "versions": [{"version": "v1", "created": "Tue, 20 May 2025 00:00:00 GMT"}],
    }
    snapshot = tmp_path / "snapshot.jsonl"
    snapshot.write_text(json.dumps(line) + "\n", encoding="utf-8")
    assert cli("ingest", "snapshot", str(snapshot)).exit_code == 0
    row = store.get(seek)
    assert row["version"] == 1 and row["abstract"] == "Revised abstract."
    assert len(row["authors"]) == 11 and row["author_count"] == 11
    assert row["upvotes"] == 4
    assert row["sources"] == ["demo", "snapshot"]
    again = cli("demo", "--seeds-only")
    assert "0 new, 0 updated" in again.stdout


# -- the data file --------------------------------------------------------------------------------


def test_demo_source_reads_every_entry() -> None:
    source = DemoSource()
    items = list(source.records())
    assert all(isinstance(item, PaperRecord) for item in items)
    assert [item.id for item in items] == source.paper_ids()
    assert source.progress() == (float(len(items)), float(len(items)))
    for item in items:
        assert item.authors is None and item.version is None and item.source == "demo"
        assert item.title and item.title.strip()


@needs_seeds
@needs_shared_data
def test_ids_are_real_arxiv_matches_or_namespaced() -> None:
    papers = demo_document()["papers"]
    matches = arxiv_ids_by_title(seed_titles())
    for paper in papers:
        found = matches.get(_norm(paper["title"]), set())
        if len(found) == 1:
            assert paper["id"] == next(iter(found)), paper["title"]
        else:
            assert paper["id"].startswith("demo:"), paper["title"]
    assert demo_paper(SEEK)["id"] == next(iter(matches[_norm(SEEK)]))
    # nothing of the shared arXiv data beyond the matched ids is copied
    assert set(papers[0]) == {
        "id",
        "title",
        "abstract",
        "abstract_truncated",
        "author_count",
        "published",
        "upvotes",
        "code_urls",
        "project_urls",
        "pages",
    }
    assert all(set(p) == set(papers[0]) for p in papers)


def test_truncated_abstract_is_kept_as_shown_and_flagged() -> None:
    paper = demo_paper("Word and Document Embeddings based on Neural Network Approaches")
    assert paper["abstract_truncated"] is True
    assert paper["abstract"].endswith("...")
    assert sum(p["abstract_truncated"] for p in demo_document()["papers"]) == 1


@needs_seeds
@needs_shared_data
def test_build_script_reproduces_the_packaged_file() -> None:
    module = build_script()
    document, remarks = module.build()
    packaged = resources.files("paperboard").joinpath("data", "demo_papers.json").read_text("utf-8")
    assert module.render(document) == packaged
    assert any("'Oct 31'" in remark for remark in remarks)
    assert any("'Mar 12'" in remark for remark in remarks)


@needs_seeds
def test_build_script_handles_missing_titles_and_headers(tmp_path: Path) -> None:
    module = build_script()
    long = "An abstract that goes on. " * 20
    page = tmp_path / "000_test.txt"
    page.write_text(
        "\n\n".join(
            [
                "new",
                "Daily Papers",
                "Oct 31",
                "First Title",
                long,
                "  • 3 authors\n·\nMay 19 4",
                long.replace("An", "Orphan"),  # an abstract whose title is missing
                "  • 2 authors\n·\nJan 2, 2020",
                "Second Title",
                long + "...",
                "  • 1 author\n·\nFeb 3",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    second = tmp_path / "001_test.txt"
    second.write_text("new\n\nMar 12\n\nsecond title\n\n" + long + "\n", encoding="utf-8")
    empty_data = tmp_path / "arxiv.jsonl.gz"
    with gzip.open(empty_data, "wt", encoding="utf-8") as out:
        out.write(json.dumps({"id": "2505.00001", "title": "First  title"}) + "\n")
    document, remarks = module.build(tmp_path, empty_data)
    papers = {p["title"]: p for p in document["papers"]}
    assert set(papers) == {"First Title", "Second Title"}
    first = papers["First Title"]
    assert first["id"] == "2505.00001"  # exact normalized title match in the arXiv data
    assert (first["author_count"], first["published"], first["upvotes"]) == (3, "2025-05-19", 4)
    assert first["pages"] == ["000"] and first["abstract"] == long.strip()
    merged = papers["Second Title"]
    assert merged["pages"] == ["000", "001"]
    assert (merged["published"], merged["upvotes"], merged["author_count"]) == ("2025-02-03", 0, 1)
    assert merged["abstract_truncated"] is False  # the complete abstract from page 001 wins
    assert merged["id"] == "demo:second-title"
    assert any("abstract with no title" in r for r in remarks)
    assert sum("page header" in r for r in remarks) == 3  # both headers and the orphan's date


# -- the whole demo: the arXiv slice and the demo activity -----------------------------------------


def test_the_whole_demo_has_real_papers_and_removable_activity(cli, store) -> None:
    from paperboard.store import demo_activity

    first = cli("demo")
    assert first.exit_code == 0, first.output
    assert "3,098 read" in first.stdout and "demo activity added: 24 members" in first.stdout
    latest = store.latest_feed_date()
    assert latest is not None and latest.isoformat() == "2025-12-30"
    day = json.loads(cli("list", "--json").stdout)
    assert len(day) >= 20
    assert all(p["authors"] and p["categories"] for p in day)
    held = demo_activity.counts(store.engine)
    assert held.members == 24 and held.upvotes > 1000 and held.comments > 0
    assert sum(p["total_upvotes"] for p in day) > 0

    again = cli("demo")
    assert "0 new, 0 updated" in again.stdout and "already there" in again.stdout
    assert demo_activity.counts(store.engine) == held

    removed = cli("demo", "--remove-activity")
    assert removed.exit_code == 0 and f"{held.upvotes} upvotes" in removed.stdout
    assert demo_activity.counts(store.engine) == demo_activity.DemoActivityCounts(0, 0, 0)
    after = json.loads(cli("list", "--json").stdout)
    assert all(p["total_upvotes"] == (p["upvotes"] or 0) for p in after)
    assert all(p["comment_count"] == 0 for p in after)


def test_the_shipped_slice_is_small_and_rebuilt_byte_for_byte() -> None:
    packaged = resources.files("paperboard").joinpath("data", "demo_arxiv.jsonl.gz").read_bytes()
    assert len(packaged) <= 5_000_000
    if not SHARED_DATA.exists():
        pytest.skip("the shared arXiv data is not here")
    spec = importlib.util.spec_from_file_location(
        "build_demo_slice", ROOT / "scripts" / "build_demo_slice.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == packaged
