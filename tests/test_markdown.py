"""A paper as Markdown: ``/papers/{id}.md`` and ``Accept: text/markdown`` on the paper page."""

from __future__ import annotations

from conftest import Site

from paperboard.present.markdown import paper_markdown, prefers_markdown

PAPER = "2505.13308"


def test_the_md_twin_holds_title_links_abstract_and_similar_papers(site: Site) -> None:
    row = site.services.papers.get(PAPER)
    answer = site.client().get(f"/papers/{PAPER}.md")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
    text = answer.text
    assert text.startswith("# ") and row["title"].split()[0] in text.splitlines()[0]
    assert f"https://arxiv.org/abs/{PAPER}" in text and f"https://arxiv.org/pdf/{PAPER}" in text
    assert "## Abstract" in text and row["abstract"].split()[0] in text
    assert f"- **Upvotes:** {row['total_upvotes']}" in text
    assert "## Similar papers" in text
    assert f"]({site.url}/papers/" in text.split("## Similar papers")[1]


def test_accept_markdown_on_the_paper_page_and_vary(site: Site) -> None:
    md = site.client().get(f"/papers/{PAPER}", headers={"Accept": "text/markdown"})
    assert md.headers["content-type"].startswith("text/markdown") and md.text.startswith("# ")
    assert md.headers["vary"] == "Accept"
    html = site.client().get(f"/papers/{PAPER}", headers={"Accept": "text/html,*/*;q=0.8"})
    assert html.headers["content-type"].startswith("text/html") and html.headers["vary"] == "Accept"


def test_unknown_ids_answer_404_in_markdown_and_old_forms_redirect(site: Site) -> None:
    missing = site.client().get("/papers/2501.99999.md")
    assert missing.status_code == 404 and missing.text.startswith("# Not found")
    assert missing.headers["content-type"].startswith("text/markdown")
    negotiated = site.client().get("/papers/nope", headers={"Accept": "text/markdown"})
    assert negotiated.status_code == 404 and negotiated.text.startswith("# Not found")
    moved = site.client().get(f"/papers/{PAPER}v1.md")
    assert moved.status_code == 301 and moved.headers["location"] == f"/papers/{PAPER}.md"


def test_outside_text_cannot_become_markup() -> None:
    row = {
        "id": "2501.00001",
        "version": 2,
        "title": "A [link](javascript:x) <script>",
        "abstract": "Text <img src=x> and [b](c).",
        "authors": ["Ada *Lovelace*"],
        "categories": ["cs.LG"],
        "total_upvotes": 3,
        "comment_count": 0,
        "code_urls": ["https://github.com/a/b (c)"],
    }
    text = paper_markdown(row, [], base_url="http://x")  # type: ignore[arg-type]
    assert "# A \\[link\\](javascript:x) \\<script\\>" in text
    assert "Text \\<img src=x> and \\[b\\](c)." in text and "Ada \\*Lovelace\\*" in text
    assert "[Code](https://github.com/a/b%20%28c%29)" in text
    assert "https://arxiv.org/abs/2501.00001v2" in text


def test_accept_negotiation() -> None:
    assert prefers_markdown("text/markdown")
    assert prefers_markdown("text/markdown, text/html;q=0.9")
    assert not prefers_markdown("text/html,application/xhtml+xml,*/*;q=0.8")
    assert not prefers_markdown("text/html, text/markdown;q=0.5")
    assert not prefers_markdown("text/markdown;q=0")
