"""Paper identifiers: every form people paste resolves to one canonical id."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperboard.core.errors import InvalidIdError
from paperboard.core.ids import canonical_id, is_arxiv_id, namespaced_id, parse_arxiv_id, slugify


@pytest.mark.parametrize(
    ("text", "expected", "version"),
    [
        ("2503.11731", "2503.11731", None),
        ("2503.11731v3", "2503.11731", 3),
        ("arXiv:2104.12255v2", "2104.12255", 2),
        ("https://arxiv.org/abs/2104.12255", "2104.12255", None),
        ("http://arxiv.org/pdf/2104.12255v2.pdf", "2104.12255", 2),
        ("https://arxiv.org/pdf/2104.12255v2", "2104.12255", 2),
        ("arxiv.org/abs/2104.12255/", "2104.12255", None),
        ("https://export.arxiv.org/abs/0704.0001", "0704.0001", None),
        ("https://huggingface.co/papers/2503.11731", "2503.11731", None),
        ("oai:arXiv.org:2104.12255", "2104.12255", None),
        ("hep-th/9901001", "hep-th/9901001", None),
        ("hep-th/9901001v3", "hep-th/9901001", 3),
        ("math.GT/0309136", "math/0309136", None),
        ("http://arxiv.org/abs/cond-mat/0102536v1", "cond-mat/0102536", 1),
        ("  2503.11731  ", "2503.11731", None),
    ],
)
def test_arxiv_forms_resolve_to_the_canonical_id(
    text: str, expected: str, version: int | None
) -> None:
    parsed = parse_arxiv_id(text)
    assert parsed.id == expected
    assert parsed.version == version


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "2513.00001",
        "0612.1234",
        "1412.12345",
        "2503.117",
        "2503.11731v0",
        "hep-th/99010",
        "hep-th/9913001",
        "https://example.com/abs/2503.11731",
        "x" * 5000,
    ],
)
def test_bad_ids_are_refused_with_a_message(text: str) -> None:
    with pytest.raises(InvalidIdError) as error:
        parse_arxiv_id(text)
    assert "\n" not in str(error.value) and len(str(error.value)) < 120


def test_namespaced_ids() -> None:
    assert canonical_id("demo:pointer-networks") == "demo:pointer-networks"
    assert canonical_id("https://arxiv.org/abs/2503.11731v1") == "2503.11731"
    assert namespaced_id("demo", slugify("Pointer Networks!")) == "demo:pointer-networks"
    assert slugify("Ünïcode — Título") == "unicode-titulo"
    with pytest.raises(InvalidIdError):
        canonical_id("arxiv:nonsense")
    with pytest.raises(InvalidIdError):
        namespaced_id("http", "x")
    assert is_arxiv_id("2503.11731") and not is_arxiv_id("2503.11731v2")
    assert not is_arxiv_id("demo:x")


@given(st.text(max_size=80))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        parsed = parse_arxiv_id(text)
    except InvalidIdError:
        return
    assert is_arxiv_id(parsed.id)
    assert parse_arxiv_id(parsed.id).id == parsed.id
