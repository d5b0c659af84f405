"""The search box's syntax: words, phrases, fields, exclusions, paper ids, and every way to get it
wrong (a one-line QueryError or a forgiving reading, never anything else)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperboard.core.errors import PaperboardError
from paperboard.index.query import MAX_PARTS, FieldClause, ParsedQuery, QueryError, parse_query


def test_words_are_terms_and_text() -> None:
    parsed = parse_query("  Graph   neural\tnetworks ")
    assert parsed.terms == ("Graph", "neural", "networks")
    assert parsed.text == "Graph neural networks"
    assert parsed.phrases == parsed.fields == parsed.excluded == ()
    assert parsed.paper_id is None and parsed.ranked


def test_stopwords_leave_terms_but_stay_in_text() -> None:
    parsed = parse_query("the transformer of the future")
    assert parsed.terms == ("transformer", "future")
    assert parsed.text == "the transformer of the future"
    assert parse_query("the of").terms == ("the", "of")  # nothing else to search for: kept


def test_phrases_and_words() -> None:
    parsed = parse_query('"graph neural networks" survey "attention"')
    assert parsed.phrases == ("graph neural networks",)
    assert parsed.terms == ("survey", "attention")  # a one-word phrase is a word
    assert parsed.text == "graph neural networks survey attention"


def test_fields_with_words_and_phrases() -> None:
    parsed = parse_query('au:Hinton ti:"capsule networks" abs:routing cat:cs.LG dynamic')
    assert parsed.fields == (
        FieldClause("authors", "Hinton"),
        FieldClause("title", "capsule networks", phrase=True),
        FieldClause("abstract", "routing"),
        FieldClause("category", "cs.LG"),
    )
    assert parsed.terms == ("dynamic",)
    assert parsed.text == "capsule networks routing dynamic"  # no names, no categories


def test_field_aliases_are_case_insensitive() -> None:
    parsed = parse_query("TITLE:mamba Author:gu Category:cs abstract:ssm")
    assert [c.field for c in parsed.fields] == ["title", "authors", "category", "abstract"]


def test_only_names_and_categories_are_not_ranked() -> None:
    parsed = parse_query("au:lecun cat:cs")
    assert not parsed.ranked and parsed.text == ""
    assert parse_query("au:lecun ti:jepa").ranked


def test_exclusions_and_required_words() -> None:
    parsed = parse_query('diffusion -"image generation" -video +audio -au:smith')
    assert parsed.terms == ("diffusion",)
    assert parsed.excluded == ("image generation", "video")
    assert parsed.required == ("audio",)
    assert parsed.fields == (FieldClause("authors", "smith", negated=True),)
    assert parsed.text == "diffusion audio"


def test_hyphenated_words_stay_whole_and_a_lone_dash_is_nothing() -> None:
    parsed = parse_query("self-supervised - learning")
    assert parsed.terms == ("self-supervised", "learning")
    assert parsed.excluded == ()


def test_duplicates_are_dropped() -> None:
    assert parse_query("graph Graph GRAPH nets").terms == ("graph", "nets")


def test_possessive_is_dropped() -> None:
    assert parse_query("BERT's attention").terms == ("BERT", "attention")


@pytest.mark.parametrize(
    "text",
    [
        "2503.11731",
        "2503.11731v2",
        "arXiv:2503.11731",
        "https://arxiv.org/abs/2503.11731",
        "https://arxiv.org/abs/2503.11731v3",
        "http://arxiv.org/pdf/2503.11731v1.pdf",
        "arxiv.org/pdf/2503.11731",
        "https://huggingface.co/papers/2503.11731",
        "  2503.11731  ",
    ],
)
def test_arxiv_ids_and_urls_name_a_paper(text: str) -> None:
    parsed = parse_query(text)
    assert parsed.paper_id == "2503.11731"
    assert parsed.terms == parsed.phrases == parsed.fields == ()


def test_old_style_id() -> None:
    assert parse_query("hep-th/9901001v2").paper_id == "hep-th/9901001"


def test_an_id_among_words_is_no_paper_query() -> None:
    assert parse_query("2503.11731 attention").paper_id is None
    assert parse_query("1234.5678").paper_id is None  # no month 34: just a number


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty query"),
        ("   \t\n ", "empty query"),
        ("\u200b\x00", "empty query"),
        ("x" * 10_240, "query too long: 10,240 characters (at most 1,000)"),
        ("word " * 300, "query too long"),
        ("au:", "au: needs a word"),
        ("au: hinton", "au: needs a word"),
        ("graph cat:", "cat: needs"),
        ("ti:", "ti: needs"),
        ('au:""', "au: needs"),
        ('ti:"', "ti: needs"),
        ("ti:!!!", "ti: needs a word"),
        ("cat:!!", "cat: takes a category"),
        ('cat:"cs LG"', "cat: takes a category"),
        ('"', "nothing to search for"),
        ('""', "nothing to search for"),
        ("!!! ??? ...", "nothing to search for"),
        ("- + -- ++", "nothing to search for"),
        ("-graph", "only exclusions"),
        ("-au:hinton -cat:cs", "only exclusions"),
    ],
)
def test_bad_queries_get_one_line(text: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    error = caught.value
    assert message in str(error)
    assert "\n" not in str(error) and len(str(error)) < 200
    assert isinstance(error, PaperboardError) and isinstance(error, ValueError)


def test_max_length_is_a_parameter() -> None:
    parse_query("x" * 2000, max_length=5000)
    with pytest.raises(QueryError, match="at most 10"):
        parse_query("graph neural", max_length=10)


def test_unclosed_quote_is_forgiven() -> None:
    parsed = parse_query('"attention is all')
    assert parsed.terms == ("attention", "all")
    assert parsed.phrases == ()
    assert parsed.warnings == ("an unclosed quote was ignored",)


def test_unclosed_quote_after_field() -> None:
    parsed = parse_query('ti:"unclosed')
    assert parsed.fields == (FieldClause("title", "unclosed"),)
    assert parsed.warnings == ("an unclosed quote was ignored",)
    parsed = parse_query('ti:"state space models')
    assert parsed.fields == (FieldClause("title", "state"),)
    assert parsed.terms == ("space", "models")


def test_unknown_field_is_searched_as_words() -> None:
    parsed = parse_query("foo:bar graph")
    assert parsed.terms == ("foo", "bar", "graph")
    assert parsed.fields == ()
    assert len(parsed.warnings) == 1 and "unknown field foo:" in parsed.warnings[0]


def test_colons_in_pasted_titles_and_urls() -> None:
    parsed = parse_query("Mamba: Linear-Time Sequence Modeling")
    assert parsed.terms == ("Mamba", "Linear-Time", "Sequence", "Modeling")
    assert parsed.warnings == ()
    assert parse_query("https://github.com/owner/repo").warnings == ()
    assert parse_query("ratio 3:1").terms == ("ratio", "3:1")


def test_control_characters_and_unicode_normalization() -> None:
    decomposed = "Schro\u0308dinger"
    parsed = parse_query(f"{decomposed}\x00equation\u200bbridge neu\u00adral\r\nnets")
    assert parsed.terms == ("Schrödinger", "equation", "bridge", "neural", "nets")


def test_too_many_parts_are_cut_with_a_warning() -> None:
    parsed = parse_query(" ".join(f"w{i}" for i in range(MAX_PARTS + 10)))
    assert len(parsed.terms) == MAX_PARTS
    assert any("only the first" in w for w in parsed.warnings)


def test_non_text_is_a_query_error() -> None:
    with pytest.raises(QueryError):
        parse_query(None)  # type: ignore[arg-type]


def test_parsed_query_is_frozen_and_hashable() -> None:
    parsed = parse_query("graph au:lee")
    with pytest.raises(AttributeError):
        parsed.terms = ()  # type: ignore[misc]
    assert hash(parsed) == hash(parse_query("graph au:lee"))
    assert isinstance(parsed, ParsedQuery)


QUERY_ALPHABET = st.sampled_from(
    [
        *list('aZ09 "-+:.()*?!\\/\t\n\x00\u200bé̈漢'),
        "au:",
        "ti:",
        "cat:",
        "abs:",
        "foo:",
        "OR",
        "2503.11731",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(QUERY_ALPHABET, max_size=30).map("".join)))
def test_arbitrary_text_parses_or_raises_query_error(text: str) -> None:
    try:
        parsed = parse_query(text)
    except QueryError as error:
        assert "\n" not in str(error) and str(error)
        return
    assert parsed.paper_id or parsed.terms or parsed.phrases or parsed.required or parsed.fields
    assert all(isinstance(t, str) and t for t in parsed.terms + parsed.phrases + parsed.excluded)
