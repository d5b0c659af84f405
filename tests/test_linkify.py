"""Addresses in abstracts as links: which become links, where they end, and that nothing else
in the text can become markup."""

from __future__ import annotations

import re

import pytest

from paperboard.present.web.linkify import linkify


def links(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<a href="([^"]*)" rel="nofollow noopener">([^<]*)</a>', html)


def test_http_and_https_addresses_become_links() -> None:
    html = linkify("Code: https://github.com/ada/engine and data at http://example.org/d?x=1&y=2")
    assert links(html) == [
        ("https://github.com/ada/engine", "https://github.com/ada/engine"),
        ("http://example.org/d?x=1&amp;y=2", "http://example.org/d?x=1&amp;y=2"),
    ]
    assert html.startswith("Code: <a ")


@pytest.mark.parametrize(
    ("text", "url", "after"),
    [
        ("(see https://example.org/a).", "https://example.org/a", ")."),
        ("at https://example.org/a, and", "https://example.org/a", ", and"),
        ("at https://example.org/a.", "https://example.org/a", "."),
        ("at https://example.org/a;", "https://example.org/a", ";"),
        ("at https://example.org/a!", "https://example.org/a", "!"),
        (
            "at https://en.wikipedia.org/wiki/Lisp_(language).",
            "https://en.wikipedia.org/wiki/Lisp_(language)",
            ".",
        ),
        (r"\url{https://example.org/a_b}", "https://example.org/a_b", "}"),
        ('"https://example.org/q"', "https://example.org/q", "&#34;"),
    ],
)
def test_trailing_punctuation_stays_out_of_the_link(text: str, url: str, after: str) -> None:
    html = linkify(text)
    assert links(html) == [(url, url)]
    assert html.endswith("</a>" + after)


def test_bare_addresses_only_on_code_hosts() -> None:
    html = linkify(
        "Code at github.com/ada/engine. See e.g. Fig.3 and example.com or ada@example.org"
    )
    assert links(html) == [("https://github.com/ada/engine", "github.com/ada/engine")]
    assert html.endswith("See e.g. Fig.3 and example.com or ada@example.org")


def test_markup_and_other_schemes_stay_inert() -> None:
    text = (
        '<script>alert(1)</script> javascript:alert(2) <a href="javascript:alert(3)">x</a> '
        'data:text/html,<b>y</b> https://example.org/"onmouseover="alert(4) '
        "https://example.org/<img src=x onerror=alert(5)>"
    )
    html = str(linkify(text))
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert 'href="javascript' not in html and "href='" not in html
    assert 'onmouseover="' not in html and " onerror=" not in html.split("&lt;img")[0]
    hrefs = [url for url, _ in links(html)]  # a quote stays in the address, escaped: no way out
    assert hrefs == ["https://example.org/&#34;onmouseover=&#34;alert(4)", "https://example.org/"]
    assert html.count("<a ") == 2  # the quoted <a> in the text is shown as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_text_without_addresses_is_only_escaped() -> None:
    assert linkify("We show $x<y$ & more.") == "We show $x&lt;y$ &amp; more."
    assert linkify(None) == "" and linkify("") == ""


def test_a_very_long_address_is_one_link() -> None:
    url = "https://example.org/" + "segment-" * 60 + "end"
    assert links(linkify(f"Data: {url}.")) == [(url, url)]
