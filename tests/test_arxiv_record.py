"""sources/arxiv_record.py: the snapshot and OAI arXivRaw formats map the same metadata to the
same record, by one set of rules."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest

from paperboard.core.errors import InvalidIdError
from paperboard.core.records import PaperRecord, Skip
from paperboard.sources.oai import OAI_NS, RAW_NS, parse_page
from paperboard.sources.snapshot import parse_entry

METADATA: dict[str, Any] = {
    "id": "2503.11731",
    "submitter": "Ada Lovelace",
    "authors": "Ada Lovelace, Charles Babbage (Cambridge) and Grace M. Hopper",
    "title": "Notes on the\n  Analytical Engine",
    "comments": "12 pages; code at https://github.com/ada/engine",
    "journal-ref": "Proc. R. Soc. 1 (1843) 1",
    "doi": "10.1000/engine",
    "report-no": "AE-1843-1",
    "categories": "cs.LG cs.AI",
    "license": "http://creativecommons.org/licenses/by/4.0/",
    "abstract": "  We describe an engine\nthat computes.\n",
    "versions": [
        {"version": "v2", "created": "Tue, 18 Mar 2025 10:00:00 GMT"},
        {"version": "v1", "created": "Mon, 17 Mar 2025 09:30:00 GMT"},
    ],
}


def from_oai(metadata: dict[str, Any]) -> PaperRecord | Skip:
    """The same metadata as the one record of an OAI-PMH ``ListRecords`` page, parsed."""
    parts: list[str] = []
    for name, value in metadata.items():
        if name == "versions":
            parts.extend(
                f"<version version={quoteattr(v['version'])}><date>{escape(v['created'])}</date>"
                "</version>"
                for v in value
            )
        elif value is not None:
            parts.append(f"<{name}>{escape(value)}</{name}>")
    page = (
        f'<OAI-PMH xmlns="{OAI_NS}"><ListRecords><record><header>'
        f"<identifier>oai:arXiv.org:{escape(metadata['id'])}</identifier></header><metadata>"
        f'<arXivRaw xmlns="{RAW_NS}">{"".join(parts)}</arXivRaw></metadata></record>'
        "</ListRecords></OAI-PMH>"
    )
    [item] = parse_page(page.encode(), source="test").items
    return item


def both(metadata: dict[str, Any]) -> tuple[PaperRecord, PaperRecord | Skip]:
    return parse_entry(metadata, source="test"), from_oai(metadata)


def test_both_formats_give_the_same_record() -> None:
    snapshot, oai = both(METADATA)
    assert snapshot == oai
    assert snapshot.version == 2
    assert snapshot.authors == ["Ada Lovelace", "Charles Babbage", "Grace M. Hopper"]
    assert snapshot.categories == ["cs.LG", "cs.AI"]
    assert snapshot.versions == [
        {"version": 1, "created": "2025-03-17T09:30:00+00:00"},
        {"version": 2, "created": "2025-03-18T10:00:00+00:00"},
    ]
    assert snapshot.published_at is not None and snapshot.updated_at is not None
    assert snapshot.published_at.isoformat() == "2025-03-17T09:30:00+00:00"
    assert snapshot.updated_at.isoformat() == "2025-03-18T10:00:00+00:00"
    assert (snapshot.journal_ref, snapshot.report_no) == ("Proc. R. Soc. 1 (1843) 1", "AE-1843-1")


def test_without_versions_the_id_gives_the_version() -> None:
    snapshot, oai = both({**METADATA, "id": "2503.11731v3", "versions": []})
    assert snapshot == oai
    assert snapshot.version == 3 and snapshot.versions is None and snapshot.published_at is None


def test_a_repeated_version_keeps_its_first_date() -> None:
    versions = [
        {"version": "v1", "created": "Mon, 17 Mar 2025 09:30:00 GMT"},
        {"version": "v1", "created": "Tue, 18 Mar 2025 10:00:00 GMT"},
    ]
    snapshot, oai = both({**METADATA, "versions": versions})
    assert snapshot == oai
    assert snapshot.versions == [{"version": 1, "created": "2025-03-17T09:30:00+00:00"}]


def test_blank_authors_and_categories_say_nothing() -> None:
    snapshot, oai = both({**METADATA, "authors": " ", "categories": " "})
    assert snapshot == oai
    assert snapshot.authors is None and snapshot.categories is None


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        ([{"version": "v0", "created": "Mon, 17 Mar 2025 09:30:00 GMT"}], "bad version label 'v0'"),
        ([{"version": "v1000", "created": ""}], "bad version label 'v1000'"),
        ([{"version": "v1", "created": "yesterday"}], "bad date of version v1"),
        # Five hours behind UTC on the last day of 9999 is a day past what datetime holds.
        ([{"version": "v1", "created": "9999-12-31T23:59:59-05:00"}], "bad date of version v1"),
    ],
)
def test_bad_versions_are_the_same_error_in_both_formats(
    versions: list[dict[str, str]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_entry({**METADATA, "versions": versions})
    skip = from_oai({**METADATA, "versions": versions})
    assert isinstance(skip, Skip) and skip.reason.startswith(message)


@pytest.mark.parametrize(
    ("change", "message"), [({"title": " \n"}, "no title"), ({"id": "nope"}, "not an arXiv id")]
)
def test_unusable_records_are_the_same_error_in_both_formats(
    change: dict[str, str], message: str
) -> None:
    with pytest.raises((ValueError, InvalidIdError), match=message):
        parse_entry({**METADATA, **change})
    skip = from_oai({**METADATA, **change})
    assert isinstance(skip, Skip) and message in skip.reason
