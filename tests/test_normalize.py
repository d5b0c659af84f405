"""Text clean-up shared by all sources."""

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperboard.core.records import PaperRecord
from paperboard.sources.normalize import (
    author_name,
    find_links,
    normalize_abstract,
    parse_date,
    parse_datetime,
    prepare,
    split_authors,
)


def test_hard_wrapped_abstract_becomes_one_line() -> None:
    raw = (
        "  Sensor simulation is pivotal for scalable validation of autonomous driving\n"
        "systems, yet existing methods\nface challenges.\n"
    )
    assert normalize_abstract(raw) == (
        "Sensor simulation is pivotal for scalable validation of autonomous driving systems, "
        "yet existing methods face challenges."
    )


def test_indented_lines_and_blank_lines_start_paragraphs() -> None:
    raw = "  First paragraph line one\nline two.\n  Second paragraph\nends here.\n\nThird one."
    assert normalize_abstract(raw) == (
        "First paragraph line one line two.\n\nSecond paragraph ends here.\n\nThird one."
    )


@given(st.text(alphabet=st.sampled_from("ab \n\t."), max_size=60))
def test_abstract_normalization_is_idempotent(text: str) -> None:
    once = normalize_abstract(text)
    assert normalize_abstract(once) == once
    if once is not None:
        assert "  " not in once and not once.startswith(" ")


@pytest.mark.parametrize(
    ("text", "code", "project"),
    [
        (
            "Code and pre-trained models at: https://github.com/SerezD/mi_ml_gen.",
            ["https://github.com/SerezD/mi_ml_gen"],
            [],
        ),
        (
            "(see https://github.com/a/b/tree/main/src), and github.com/c/d.git;",
            ["https://github.com/a/b", "https://github.com/c/d"],
            [],
        ),
        (
            "Project page: https://example.github.io/proj/. Data: \\url{https://gitlab.com/g/r}",
            ["https://gitlab.com/g/r"],
            ["https://example.github.io/proj"],
        ),
        ("Accepted at X. https://arxiv.org/abs/2101.00001 and https://doi.org/10.1/x", [], []),
        ("Mirror www.example.org/tool]", [], ["https://example.org/tool"]),
        ("https://github.com/orgs/foo and https://github.com/onlyowner", [], []),
        ("no links here at all", [], []),
    ],
)
def test_links_are_found_and_cleaned(text: str, code: list[str], project: list[str]) -> None:
    assert find_links(text) == (code, project)


def test_links_deduplicate_across_texts() -> None:
    assert find_links("https://github.com/a/b.", "Code: https://github.com/a/b") == (
        ["https://github.com/a/b"],
        [],
    )


def test_dates_in_arxiv_and_hf_formats() -> None:
    assert parse_datetime("Mon, 2 Apr 2007 19:18:42 GMT") == datetime(
        2007, 4, 2, 19, 18, 42, tzinfo=UTC
    )
    assert parse_datetime("2025-03-18T10:00:00.000Z") == datetime(2025, 3, 18, 10, tzinfo=UTC)
    assert parse_datetime("2025-03-18T12:00:00+02:00") == datetime(2025, 3, 18, 10, tzinfo=UTC)
    assert parse_date("2025-03-18") == date(2025, 3, 18)
    assert parse_datetime("") is None and parse_datetime(None) is None
    with pytest.raises(ValueError):
        parse_datetime("yesterday-ish")


def test_author_names() -> None:
    assert author_name('M\\"uller', 'J\\"org', "Jr") == "Jörg Müller Jr"
    assert split_authors("A. One, B. Two (MIT), and C. Three") == ["A. One", "B. Two", "C. Three"]
    assert split_authors("Alice Smith and Bob Jones") == ["Alice Smith", "Bob Jones"]


def test_prepare_normalizes_and_collects_links_idempotently() -> None:
    record = PaperRecord(
        id="2503.11731",
        source="test",
        title="  A  title\n  on two lines ",
        abstract="Line one\nline two. Code: https://github.com/o/r.",
        comments="10 pages;\n project page https://o.github.io/r/",
        authors=[" Ada  Lovelace ", ""],
        categories=["cs.LG", "cs.AI", "cs.LG"],
    )
    prepare(record)
    assert record.title == "A title on two lines"
    assert record.abstract == "Line one line two. Code: https://github.com/o/r."
    assert record.code_urls == ["https://github.com/o/r"]
    assert record.project_urls == ["https://o.github.io/r"]
    assert record.authors == ["Ada Lovelace"] and record.author_count == 1
    assert record.categories == ["cs.LG", "cs.AI"]
    before = (record.title, record.abstract, list(record.code_urls), list(record.project_urls))
    prepare(record)
    assert (record.title, record.abstract, record.code_urls, record.project_urls) == before
