"""The bulk snapshot source: streaming JSON lines (plain or gzip) into the store."""

import gzip
import json
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboard.core.errors import InvalidIdError
from paperboard.core.records import PaperRecord, Skip
from paperboard.sources.snapshot import SnapshotSource, parse_entry

ENTRY = {
    "id": "hep-th/9901001",
    "submitter": "Ed Witten",
    "authors": "E. Witten and A. N. Other",
    "title": "A Title\n  Over Two Lines",
    "comments": "20 pages, code at https://github.com/owner/repo.",
    "journal-ref": "Phys. Rev. D 1 (1999) 1",
    "doi": "10.1103/PhysRevD.1.1",
    "report-no": None,
    "categories": "hep-th gr-qc",
    "license": None,
    "abstract": "  We study things\nthat are wrapped.\n  And a second paragraph.\n",
    "versions": [
        {"version": "v2", "created": "Tue, 5 Jan 1999 10:00:00 GMT"},
        {"version": "v1", "created": "Mon, 4 Jan 1999 09:00:00 GMT"},
    ],
    "update_date": "1999-01-05",
    "authors_parsed": [["Witten", "E.", ""], ["Other", "A. N.", ""]],
}


def write_lines(path: Path, lines: list[str], gz: bool = False) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_parse_entry_reads_every_field() -> None:
    record = parse_entry(ENTRY)
    assert record.id == "hep-th/9901001" and record.version == 2
    assert record.authors == ["E. Witten", "A. N. Other"]
    assert record.categories == ["hep-th", "gr-qc"]
    assert (
        record.published_at is not None
        and record.published_at.isoformat() == "1999-01-04T09:00:00+00:00"
    )
    assert record.updated_at is not None and record.updated_at.day == 5
    assert record.versions == [
        {"version": 1, "created": "1999-01-04T09:00:00+00:00"},
        {"version": 2, "created": "1999-01-05T10:00:00+00:00"},
    ]
    assert record.doi == "10.1103/PhysRevD.1.1" and record.submitter == "Ed Witten"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "no id"),
        ({"id": "not-an-id"}, "not an arXiv id"),
        ({"title": ""}, "no title"),
        ({"title": 42}, "not a string"),
        ({"versions": [{"version": "vX"}]}, "bad version"),
        ({"versions": "v1"}, "not a list"),
        ({"authors_parsed": [[1, 2]]}, "authors_parsed"),
        ({"versions": [{"version": "v1", "created": "not a date"}]}, "date"),
    ],
)
def test_bad_entries_raise_a_reason(change: dict, message: str) -> None:
    with pytest.raises((ValueError, InvalidIdError)) as error:
        parse_entry({**ENTRY, **change})
    assert message in str(error.value)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(list(ENTRY)),
        st.none()
        | st.integers()
        | st.text(max_size=20)
        | st.lists(st.text(max_size=5), max_size=3)
        | st.lists(
            st.dictionaries(st.text(max_size=8), st.text(max_size=30), max_size=3), max_size=3
        ),
    )
)
def test_arbitrary_entries_never_crash_the_parser(changes: dict) -> None:
    try:
        record = parse_entry({**ENTRY, **changes})
    except (ValueError, InvalidIdError):
        return
    assert isinstance(record, PaperRecord) and record.title


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=40) | st.text(max_size=40).map(str.encode), max_size=8))
def test_arbitrary_lines_become_records_or_skips(tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / "fuzz.jsonl"
    good = json.dumps(ENTRY).encode()
    path.write_bytes(b"\n".join([good, *(line.replace(b"\n", b" ") for line in lines), good]))
    items = list(SnapshotSource(path).records())
    assert all(isinstance(i, (PaperRecord, Skip)) for i in items)
    assert sum(isinstance(i, PaperRecord) for i in items) >= 2


def test_import_reports_skips_and_keeps_good_records(cli, tmp_path: Path) -> None:
    lines = [
        json.dumps(ENTRY),
        "{not json",
        json.dumps({**ENTRY, "id": "2501.00001", "title": ""}),
        "",
        json.dumps({**ENTRY, "id": "2501.00002v1"}),
        "[1, 2]",
    ]
    path = write_lines(tmp_path / "mixed.jsonl", lines)
    result = cli("ingest", "snapshot", str(path))
    assert result.exit_code == 0, result.output
    assert "2 read: 2 new, 0 updated, 0 unchanged, 3 skipped" in result.stdout
    assert "mixed.jsonl line 2: invalid JSON" in result.stderr
    assert "mixed.jsonl line 3: no title" in result.stderr
    assert "mixed.jsonl line 6: line is not a JSON object" in result.stderr
    shown = json.loads(cli("show", "hep-th/9901001", "--json").stdout)
    assert shown["title"] == "A Title Over Two Lines"
    assert shown["abstract"] == "We study things that are wrapped.\n\nAnd a second paragraph."
    assert shown["code_urls"] == ["https://github.com/owner/repo"]
    assert shown["sources"] == ["snapshot"]
    logs = list((Path.cwd() / "logs").glob("ingest-snapshot-*.log"))
    assert len(logs) == 1 and logs[0].read_text().count("skipped") == 3


def test_gzip_and_rerun_is_idempotent(cli, tmp_path: Path) -> None:
    lines = [json.dumps({**ENTRY, "id": f"2501.{n:05d}"}) for n in range(1, 51)]
    path = write_lines(tmp_path / "snap.jsonl.gz", lines, gz=True)
    first = cli("ingest", "snapshot", str(path))
    assert "50 new" in first.stdout, first.output
    second = cli("ingest", "snapshot", str(path))
    assert "0 new, 0 updated, 50 unchanged" in second.stdout
    assert json.loads(cli("stats", "--json").stdout)["papers"] == 50
    dry = cli(
        "ingest",
        "snapshot",
        "--dry-run",
        str(write_lines(tmp_path / "more.jsonl", [json.dumps({**ENTRY, "id": "2502.00001"})])),
    )
    assert "dry run" in dry.stdout and "1 new" in dry.stdout
    assert json.loads(cli("stats", "--json").stdout)["papers"] == 50


def test_truncated_gzip_keeps_what_was_read_and_fails(cli, tmp_path: Path) -> None:
    lines = [
        json.dumps({**ENTRY, "id": f"2501.{n:05d}", "abstract": "x " * 400}) for n in range(1, 2001)
    ]
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    result = cli("ingest", "snapshot", str(path))
    assert result.exit_code == 1
    assert "cannot read past line" in result.stderr
    stored = json.loads(cli("stats", "--json").stdout)["papers"]
    assert 0 < stored < 2000


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot open"), (b"", "is empty"), (b"{bad\n[]\n", "nothing could be read")],
)
def test_unreadable_input_exits_1_with_one_line(
    cli, tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "input.jsonl"
    if content is not None:
        path.write_bytes(content)
    result = cli("ingest", "snapshot", str(path))
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("paperboard: error:")


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")
def test_real_arxiv_records(cli, tmp_path: Path) -> None:
    with gzip.open(SHARED_DATA, "rt") as stream:
        lines = [next(stream) for _ in range(300)]
    path = write_lines(tmp_path / "real.jsonl", [line.rstrip("\n") for line in lines])
    result = cli("ingest", "snapshot", str(path))
    assert "300 read: 300 new" in result.stdout, result.output
    first = json.loads(lines[0])
    shown = json.loads(cli("show", first["id"], "--json").stdout)
    assert shown["title"] == " ".join(first["title"].split())
    assert "\n" not in shown["abstract"]
    assert shown["categories"][0] == first["categories"].split()[0]
    assert len(shown["authors"]) == len(first["authors_parsed"])


def test_parallel_import_matches_one_process(store, tmp_path: Path) -> None:
    from paperboard.sources.snapshot import SHARD_LINES
    from paperboard.store.importer import run_import

    total = SHARD_LINES * 2 + 200
    bad = {
        10,
        SHARD_LINES + 200,
        total - 5,
    }  # in the first process's share, the second's, the first's
    lines = [
        "{broken" if n in bad else json.dumps({**ENTRY, "id": f"2501.{n:05d}"})
        for n in range(1, total + 1)
    ]
    path = write_lines(tmp_path / "big.jsonl", lines)
    skipped: list[str] = []
    report = run_import(
        store, SnapshotSource(path), processes=2, on_skip=lambda s: skipped.append(s.where)
    )
    assert report.ok and report.failure is None
    assert report.read == total - 3 and report.counts.new == total - 3
    assert sorted(skipped) == sorted(f"big.jsonl line {n}" for n in bad)
    assert store.count() == total - 3
    again = run_import(store, SnapshotSource(path), processes=1)
    assert again.counts.unchanged == total - 3 and again.counts.new == 0
    with_two = run_import(store, SnapshotSource(path), processes=2)
    assert with_two.counts.unchanged == total - 3


def test_parallel_import_reports_a_failure_of_either_process(store, tmp_path: Path) -> None:
    from paperboard.store.importer import run_import

    lines = [
        json.dumps({**ENTRY, "id": f"2501.{n:05d}", "abstract": "y " * 300}) for n in range(1, 3001)
    ]
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    report = run_import(store, SnapshotSource(path), processes=2)
    assert report.failure is not None and "cannot read past line" in report.failure
    assert 0 < store.count() == report.read < 3000


@pytest.mark.parametrize("count", [2, 3, 5])
def test_shares_of_a_plain_file_hold_every_line_once(tmp_path: Path, count: int) -> None:
    # Lines of very different lengths, so that share boundaries fall inside lines, on their
    # first and last bytes; blank and bad lines keep their line numbers in every share.
    lines = []
    for n in range(1, 301):
        if n % 37 == 0:
            lines.append("{broken")
        elif n % 41 == 0:
            lines.append("   ")
        else:
            lines.append(
                json.dumps({**ENTRY, "id": f"2501.{n:05d}", "comments": "x" * (n % 7) ** 4})
            )
    path = write_lines(tmp_path / "shares.jsonl", lines)
    ids: list[str] = []
    skips: list[str] = []
    for index in range(count):
        part = SnapshotSource(path).shard(index, count)
        done, total = 0.0, None
        for item in part.records():
            if isinstance(item, PaperRecord):
                ids.append(item.id)
            else:
                assert isinstance(item, Skip)
                skips.append(item.where)
            done, total = part.progress()
        assert total is not None and 0 < done <= total < path.stat().st_size
    expected = [f"2501.{n:05d}" for n in range(1, 301) if n % 37 and n % 41]
    assert sorted(ids) == expected
    assert sorted(skips) == sorted(f"shares.jsonl line {n}" for n in range(37, 301, 37))


def test_share_boundaries_on_line_starts_and_shares_without_lines(tmp_path: Path) -> None:
    # Two lines of one length: the second share starts exactly where the second line does.
    lines = [json.dumps({**ENTRY, "id": f"2501.0000{n}"}) for n in (1, 2)]
    path = write_lines(tmp_path / "two.jsonl", lines)
    shares = [list(SnapshotSource(path).shard(i, 2).records()) for i in range(2)]
    assert [[r.id for r in share if isinstance(r, PaperRecord)] for share in shares] == [
        ["2501.00001"],
        ["2501.00002"],
    ]
    path = write_lines(tmp_path / "one.jsonl", [json.dumps(ENTRY)])
    items = [list(SnapshotSource(path).shard(i, 4).records()) for i in range(4)]
    assert [len(found) for found in items] == [1, 0, 0, 0]
