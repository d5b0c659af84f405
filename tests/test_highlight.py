"""Query words marked in titles and snippets, safely."""

from paperboard.index.highlight import mark, snippet


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
