"""RSS 2.0 and Atom feeds over real HTTP, read back with ``feedparser``: trending, a day, a category
and a search; their order, links, titles and dates; hostile text in a paper; bad input; and the
``<link rel="alternate">`` by which pages point to their feeds."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from typing import Any

import feedparser
import pytest
from conftest import Site, sqlite_only

from paperboard.core.records import PaperRecord
from paperboard.index.indexer import sync_lexical

DAY = date(2025, 9, 22)  # after the demo's newest day (2025-09-19): the newest feed day here
FORMATS = {"rss": "rss20", "atom": "atom10"}


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), UTC)


RECORDS = [
    PaperRecord(
        id="2509.80001",
        source="test",
        title="Feeds, Part One",
        abstract="First.",
        authors=["Ada Lovelace", "Alan Turing"],
        categories=["cs.LG"],
        upvotes=9,
        published_at=at(DAY, 10),
    ),
    PaperRecord(
        id="2509.80002",
        source="test",
        title="Cross-Listed Statistics",
        abstract="Second.",
        authors=["Emmy Noether"],
        categories=["stat.ML", "cs.LG"],
        upvotes=4,
        published_at=at(DAY, 15),
    ),
    PaperRecord(
        id="2509.80003",
        source="test",
        title="Neurons at Noon",
        abstract="Third.",
        authors=["Santiago Ramón y Cajal"],
        categories=["q-bio.NC"],
        upvotes=6,
        published_at=at(DAY, 9),
    ),
    PaperRecord(
        id="2509.80004",
        source="test",
        title="Seeing Things",
        abstract="Fourth.",
        authors=["Fei-Fei Li"],
        categories=["cs.CV"],
        upvotes=0,
        published_at=at(DAY - timedelta(days=2), 12),
    ),
    PaperRecord(
        id="2509.80005",
        source="test",
        title="Learning, Long Ago",
        abstract="Fifth.",
        authors=["Old Timer"],
        categories=["cs.LG"],
        upvotes=1,
        published_at=at(DAY - timedelta(days=12), 12),
    ),
    PaperRecord(
        id="2509.80006",
        source="test",
        title="Learning, Last Week",
        abstract="Sixth.",
        authors=["Recent Author"],
        categories=["cs.LG"],
        upvotes=2,
        published_at=at(DAY - timedelta(days=4), 12),
    ),
]
BY_ID = {r.id: r for r in RECORDS}


@pytest.fixture
def papers(site: Site) -> Site:
    site.services.papers.write(RECORDS)
    sync_lexical(site.services.papers, site.services.search_index())
    return site


def fetch(site: Site, path: str, fmt: str = "rss") -> Any:
    """The feed at ``path`` parsed; it must be well-formed and of the asked format."""
    if fmt == "atom":
        path += ("&" if "?" in path else "?") + "format=atom"
    response = site.client().get(path)
    assert response.status_code == 200, response.text
    expected_type = "application/atom+xml" if fmt == "atom" else "application/rss+xml"
    assert response.headers["content-type"].startswith(expected_type)
    feed = feedparser.parse(response.content)
    assert not feed.bozo, f"{path}: {feed.get('bozo_exception')}"
    assert feed.version == FORMATS[fmt]
    return feed


def ids(site: Site, feed: Any) -> list[str]:
    prefix = f"{site.url}/papers/"
    assert all(entry.link.startswith(prefix) for entry in feed.entries)
    return [entry.link.removeprefix(prefix) for entry in feed.entries]


def text_of(fragment: str) -> str:
    """What a reader shows of an HTML fragment: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "\n", fragment))


def parsed_time(struct: Any) -> datetime:
    return datetime(*struct[:6], tzinfo=UTC)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_day_feed_lists_the_days_papers_by_upvotes(papers: Site, fmt: str) -> None:
    site = papers
    feed = fetch(site, f"/feeds/date/{DAY}.xml", fmt)
    on_day = [r for r in RECORDS if r.published_at.date() == DAY]
    assert ids(site, feed) == [r.id for r in sorted(on_day, key=lambda r: -r.upvotes)]
    assert feed.feed.title == f"Papers of {DAY}"
    for entry in feed.entries:
        record = BY_ID[entry.link.rsplit("/", 1)[1]]
        assert entry.title == record.title
        assert parsed_time(entry.published_parsed) == record.published_at
        shown = text_of(entry.summary)
        assert record.abstract in shown and record.authors[0] in shown
        assert f"▲ {record.upvotes} upvote" in shown
        assert [t.term for t in entry.tags] == record.categories
    assert text_of(feed.entries[0].summary).count("Ada Lovelace, Alan Turing") == 1
    newest_change = max(
        parsed_time(e.updated_parsed if fmt == "atom" else e.published_parsed) for e in feed.entries
    )
    assert parsed_time(feed.feed.updated_parsed) >= newest_change
    page = site.client().get(f"/papers/date/{DAY}.json").json()
    assert [p["id"] for p in page["papers"]] == ids(site, feed)  # the page and its feed agree
    assert fetch(site, "/feeds/date/1999-01-01.xml", fmt).entries == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_feed_links_lead_to_the_papers_the_page_and_the_feed_itself(papers: Site, fmt: str) -> None:
    site = papers
    feed = fetch(site, f"/feeds/date/{DAY}.xml", fmt)
    with site.client() as client:
        for entry in feed.entries[:2]:
            page = client.get(entry.link.removeprefix(site.url))
            assert page.status_code == 200 and html.escape(entry.title) in page.text
        assert feed.feed.link == f"{site.url}/papers/date/{DAY}"
        assert client.get(feed.feed.link.removeprefix(site.url)).status_code == 200
    self_links = [link.href for link in feed.feed.links if link.rel == "self"]
    assert len(self_links) == 1 and self_links[0].startswith(site.url)
    again = fetch(site, self_links[0].removeprefix(site.url).replace("?format=atom", ""), fmt)
    assert ids(site, again) == ids(site, feed)
    assert ("format=atom" in self_links[0]) == (fmt == "atom")


def trending_score(upvotes: int, feed_day: date, reference: datetime) -> float:
    """docs/site.md: upvotes / (age in hours + 2) ^ 1.5, age from the start of the feed day."""
    hours = (reference - datetime.combine(feed_day, time(), UTC)).total_seconds() / 3600
    return upvotes / (hours + 2) ** 1.5


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_trending_feed_ranks_by_score(papers: Site, fmt: str) -> None:
    site = papers
    rows = site.services.papers.list_papers(date(1, 1, 1), date(9999, 12, 31))
    newest = max(r["feed_date"] for r in rows)
    reference = min(datetime.now(UTC), datetime.combine(newest + timedelta(days=1), time(), UTC))
    window = [r for r in rows if r["feed_date"] >= reference.date() - timedelta(days=14)]
    voted = sorted(
        (r for r in window if r["total_upvotes"]),
        key=lambda r: -trending_score(r["total_upvotes"], r["feed_date"], reference),
    )
    unvoted = sorted(
        (r for r in window if not r["total_upvotes"]), key=lambda r: r["published_at"], reverse=True
    )
    feed = fetch(site, "/feeds/trending.xml", fmt)
    assert ids(site, feed) == [r["id"] for r in voted + unvoted]
    # Fresh votes beat older, larger counts: 6 votes on DAY over the demo's 5 three days before,
    # and 2 votes four days old under both.
    assert ids(site, feed)[:3] == ["2509.80001", "2509.80003", "2509.80002"]
    zoning = "demo:latent-zoning-network-a-unified-principle-for-generative-mod"
    assert ids(site, feed).index("2509.80006") > ids(site, feed).index(zoning)
    page = site.client().get("/papers/trending.json").json()
    assert [p["id"] for p in page["papers"]] == ids(site, feed)
    titles = {r["id"]: r["title"] for r in rows}
    assert [e.title for e in feed.entries] == [titles[i] for i in ids(site, feed)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_category_feed_has_only_that_categorys_recent_papers_newest_first(
    papers: Site, fmt: str
) -> None:
    site = papers

    def expected(matches: Any) -> list[str]:
        chosen = [r for r in RECORDS if any(matches(c) for c in r.categories)]
        latest = max(r.published_at.date() for r in chosen)
        recent = [r for r in chosen if r.published_at.date() > latest - timedelta(days=7)]
        return [r.id for r in sorted(recent, key=lambda r: r.published_at, reverse=True)]

    learning = ids(site, fetch(site, "/feeds/category/cs.LG.xml", fmt))
    assert learning == expected(lambda c: c == "cs.LG")
    assert learning == ["2509.80002", "2509.80001", "2509.80006"]  # not 2509.80005, twelve days old
    archive = ids(site, fetch(site, "/feeds/category/cs.xml", fmt))
    assert archive == expected(lambda c: c.startswith("cs."))
    assert "2509.80004" in archive and "2509.80003" not in archive
    assert ids(site, fetch(site, "/feeds/category/stat.ML.xml", fmt)) == ["2509.80002"]
    assert ids(site, fetch(site, "/feeds/category/q-bio.xml", fmt)) == ["2509.80003"]
    assert fetch(site, "/feeds/category/math.AG.xml", fmt).entries == []
    for entry in fetch(site, "/feeds/category/cs.LG.xml", fmt).entries:
        assert "cs.LG" in [t.term for t in entry.tags]
    in_day = ids(site, fetch(site, f"/feeds/date/{DAY}.xml?category=cs.LG", fmt))
    assert in_day == ["2509.80001", "2509.80002"]  # by upvotes: 9, then 4


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_search_feed_follows_the_search_ranking(papers: Site, fmt: str) -> None:
    site = papers
    feed = fetch(site, "/feeds/search.xml?q=latent+space", fmt)
    page = site.client().get("/papers.json", params={"q": "latent space"}).json()
    assert page["papers"] and ids(site, feed)[: len(page["papers"])] == [
        p["id"] for p in page["papers"]
    ]
    assert feed.feed.title == "Papers about “latent space”"
    found = ids(site, fetch(site, "/feeds/search.xml?q=noon", fmt))  # a word only its title has
    assert found[0] == "2509.80003"
    odd = fetch(site, "/feeds/search.xml?q=latent%EF%BF%BE+space", fmt)  # not XML: dropped
    assert odd.feed.title == "Papers about “latent space”"
    assert ids(site, odd)
    control = site.client().get("/feeds/search.xml?q=latent%01+space")  # refused as all requests
    assert control.status_code == 400 and "control characters" in control.json()["error"]


HOSTILE = PaperRecord(
    id="2509.80009",
    source="test",
    title='<b>Bold</b> & "Quotes" \x01\x1b\ufffe\uffff]]> end',
    abstract="We show x<y and <script>alert(1)</script> & keep <i>this</i>\x02 as written.",
    authors=['A <B> "C"', "D & E"],
    categories=["cs.LG"],
    upvotes=1,
    published_at=at(DAY, 11),
)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@pytest.mark.parametrize("fmt", FORMATS)
def test_markup_and_control_characters_in_a_paper_do_not_break_the_feeds(
    site: Site, fmt: str
) -> None:
    site.services.papers.write([HOSTILE])
    sync_lexical(site.services.papers, site.services.search_index())
    stored = site.services.papers.get(HOSTILE.id)
    assert (
        "\x01" in stored["title"] and "\ufffe" in stored["title"]
    )  # the store keeps them: the feed must cope
    title = NOT_XML.sub("", HOSTILE.title)
    paths = (
        f"/feeds/date/{DAY}.xml",
        "/feeds/category/cs.LG.xml",
        "/feeds/trending.xml",
        "/feeds/search.xml?q=bold+quotes",
    )
    for path in paths:
        feed = fetch(site, path, fmt)
        entry = next(e for e in feed.entries if e.link.endswith(HOSTILE.id))
        assert entry.title == title, path
        shown = text_of(entry.summary)
        assert NOT_XML.sub("", HOSTILE.abstract) in shown, (
            path
        )  # shown as written, not run as markup
        assert 'A <B> "C", D & E' in shown and "<script>" not in entry.summary


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/feeds/date/2025-13-45.xml", 400, "not a day"),
        ("/feeds/date/garbage.xml", 400, "not a day"),
        (f"/feeds/date/{DAY}.xml?category=%3Cb%3E", 422, "bad category"),
        ("/feeds/search.xml", 422, "bad q"),
        ("/feeds/search.xml?q=", 422, "bad q"),
        ("/feeds/search.xml?q=%20%20", 400, "empty query"),
        ("/feeds/search.xml?q=-latent", 400, "only exclusions"),
        ("/feeds/search.xml?q=" + "x" * 1001, 422, "bad q"),
        ("/feeds/trending.xml?format=json", 422, "bad format"),
        (f"/feeds/date/{DAY}.xml?format=ATOM", 422, "bad format"),
        ("/feeds/category/%3Cscript%3E.xml", 404, "no such category"),
        ("/feeds/category/cs.LG.extra.xml", 404, "no such category"),
        ("/feeds/category/cs..LG.xml", 404, "no such category"),
        ("/feeds/category/%C3%BCber.xml", 404, "no such category"),
        ("/feeds/category/cs%20LG.xml", 404, "no such category"),
        ("/feeds/category/cs_LG.xml", 404, "no such category"),
        ("/feeds/category/" + "a" * 41 + ".xml", 404, "no such category"),
    ],
)
@sqlite_only  # each is refused while reading the address, before any SQL
def test_bad_input_gets_a_json_error(site: Site, path: str, status: int, message: str) -> None:
    response = site.client().get(path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert list(response.json()) == ["error"] and message in response.json()["error"]


class AlternateLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "link" and found.get("rel") == "alternate":
            self.links.setdefault(found.get("type") or "", []).append(found.get("href") or "")


def alternates(site: Site, path: str) -> dict[str, list[str]]:
    response = site.client().get(path)
    assert response.status_code == 200
    parser = AlternateLinks()
    parser.feed(response.text)
    return parser.links


@pytest.mark.parametrize(
    ("page", "feed"),
    [
        ("/", f"/feeds/date/{DAY}.xml"),
        (f"/papers/date/{DAY}", f"/feeds/date/{DAY}.xml"),
        ("/papers/trending", "/feeds/trending.xml"),
        ("/papers?q=latent+space", "/feeds/search.xml?q=latent+space"),
    ],
)
def test_pages_link_their_feeds(papers: Site, page: str, feed: str) -> None:
    site = papers
    links = alternates(site, page)
    assert (
        "/feeds/trending.xml" in links["application/rss+xml"]
    )  # every page: the site's trending feed
    assert feed in links["application/rss+xml"]
    atom = feed + ("&" if "?" in feed else "?") + "format=atom"
    assert links["application/atom+xml"] == [atom]
    path, _, query = page.partition("?")
    shown = [
        p["id"] for p in site.client().get(f"{path}.json", params=query or None).json()["papers"]
    ]
    assert shown
    for fmt in FORMATS:  # the RSS link and the Atom link (the same with format=atom)
        listed = ids(site, fetch(site, feed, fmt))
        assert listed[: len(shown)] == shown, (feed, fmt)


@sqlite_only  # the links in the page's head, the same whatever the rows
def test_pages_without_a_feed_of_their_own_link_only_trending(site: Site) -> None:
    for page in ("/about", "/map", "/papers/week/2025-W21"):
        links = alternates(site, page)
        assert links["application/rss+xml"] == ["/feeds/trending.xml"], page
        assert "application/atom+xml" not in links


@sqlite_only  # the links in the page's head, the same whatever the rows
def test_a_category_page_links_its_categorys_feed(papers: Site) -> None:
    links = alternates(papers, f"/papers/date/{DAY}?category=cs.LG")
    assert f"/feeds/date/{DAY}.xml?category=cs.LG" in links["application/rss+xml"]
