"""Query words marked in titles and snippets, safely."""

from paperboard.index.highlight import excerpt, fragment, lead, mark, mark_spans, snippet


def test_marks_stems_and_escapes() -> None:
    html = mark("Graph <Neural> Networks for networked data", ["network"])
    assert html == "Graph &lt;Neural&gt; <mark>Networks</mark> for <mark>networked</mark> data"
    assert (
        mark("<script>alert(1)</script>", ["alert"])
        == "&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt;"
    )
    assert mark("nothing here", []) == "nothing here"


def test_snippet_centres_on_matches() -> None:
    text = (
        " ".join(["filler"] * 100)
        + " the latent space geometry matters "
        + " ".join(["tail"] * 100)
    )
    html = snippet(text, ["latent geometry"], width=120)
    assert "<mark>latent</mark>" in html and "<mark>geometry</mark>" in html
    assert html.startswith("… ") and html.endswith(" …") and len(html) < 200
    assert snippet("short text", ["short"]) == "<mark>short</mark> text"


def test_mark_spans_escapes_and_marks_only_inside_the_window() -> None:
    text = "a <b> c & d"
    assert mark_spans(text, [(2, 5), (8, 9)]) == "a <mark>&lt;b&gt;</mark> c <mark>&amp;</mark> d"
    # spans are cut to the window, and to what no earlier span covered
    assert mark_spans(text, [(0, 3), (1, 4)], start=2, end=6) == (
        "<mark>&lt;</mark><mark>b</mark>&gt; "
    )


def test_fragment_says_where_text_was_cut() -> None:
    text = "One two three four five."
    assert fragment(text, [(4, 7)], 4, 13) == "… <mark>two</mark> three …"
    # only a space and the full stop would be cut: the fragment runs to the edges
    assert fragment(text, [(19, 23)], 0, 23) == "One two three four <mark>five</mark>."
    assert fragment(text, [], 1, 23) == "… " + text[1:]


def test_lead_and_excerpt_cut_at_a_space() -> None:
    text = "Transformers are all you need, they say; " * 20
    assert lead(text, 38) == "Transformers are all you need, they …"
    assert lead("<short>", 40) == "&lt;short&gt;"
    assert excerpt(text, 41) == "Transformers are all you need, they say…"  # no ";" before "…"
    assert excerpt(" wrapped\n  text ", 40) == "wrapped text"
    assert excerpt(None) == ""
