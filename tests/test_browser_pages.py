"""The pages people compare with huggingface.co/papers, in Debian's Chromium at 1280 and 390 px:
author names on cards, links in abstracts, no sideways scroll on a phone (with a very long
address in an abstract), the welcome after a sign-up, the search page's header box and total,
the favicon, robots.txt and /healthz, and similar papers in one facet.

One site (the demo papers plus one paper made for these checks) and one page per width serve the
whole module; a test fails on a script error, a server error or a broken subresource. Pages are
saved as screenshots in ``$PAPERBOARD_SCREENSHOTS`` (or a pytest temporary folder) and copied to
/tmp/screenshots/ for a look. SQLite only, like tests/test_browser.py.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from conftest import Site, _free_port, needs_program, start_site
from playwright.sync_api import Browser, BrowserContext, Page, expect
from test_members import PASSWORD

from paperboard.core.config import load_settings
from paperboard.core.records import PaperRecord
from paperboard.index.query import parse_query
from paperboard.present.web.routes.auth import can_send_mail

Shot = Callable[..., Path]  # conftest's screenshot fixture
CHROMIUM = "/usr/bin/chromium"
PAPER = "2505.13308"  # a demo paper with similar papers
LONG = "demo:long-url"  # made here: five authors, a very long address and markup in its abstract
WIDTHS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
# No hyphen nor any other place a browser may break a line: it overflowed the phone's paper page.
LONG_URL = "https://example.org/datasets/" + "averylongsegmentwithoutabreak" * 8 + "?v=1"

pytestmark = needs_program(CHROMIUM, "chromium")


# -- fixtures -------------------------------------------------------------------------------------


def long_paper(site_url: str, day: date) -> PaperRecord:
    return PaperRecord(
        id=LONG,
        source="demo",
        title="Sideways scrolling considered harmful",
        abstract=(
            "We release code at github.com/ada/long-engine and explain it on "
            f"{site_url}/about (our site). The grid lives at {LONG_URL}. "
            "Markup stays text: <script>alert(1)</script> and javascript:alert(2)."
        ),
        authors=["Ada Lovelace", "Alan Turing", "Grace Hopper", "Emmy Noether", "Kurt Gödel"],
        categories=["cs.HC"],
        published_at=datetime.combine(day, time(12), tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path, demo_indexes: Path
) -> Iterator[Site]:
    """The demo papers, their indexes and the long paper, served once for the module (on the
    latest demo day, so that the home page shows it)."""
    from paperboard.index.indexer import SearchIndex, sync_lexical
    from paperboard.sources.demo import DemoSource
    from paperboard.store.importer import run_import
    from paperboard.store.papers import PaperStore

    home = tmp_path_factory.mktemp("pages-home")
    port = _free_port()
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("PAPERBOARD_") and not name.startswith(
                ("PAPERBOARD_TEST_", "PAPERBOARD_SCREENSHOTS")
            ):
                patch.delenv(name)
        patch.setenv("PAPERBOARD_HOME", str(home))
        patch.setenv("PAPERBOARD_DATABASE_URL", f"sqlite:///{home / 'paperboard.db'}")
        patch.setenv("PAPERBOARD_MODELS_DIR", str(model_cache))
        patch.setenv("PAPERBOARD_BASE_URL", f"http://127.0.0.1:{port}")
        patch.setenv("PAPERBOARD_PAGE_CACHE_SECONDS", "0")
        settings = load_settings()
        shutil.copytree(demo_indexes, settings.home / "index")
        store = PaperStore.open(settings)
        run_import(store, DemoSource(), processes=1)
        rows = store.list_papers(date(1900, 1, 1), date(2100, 1, 1))
        latest = max(row["feed_date"] for row in rows if row["feed_date"])
        store.write([long_paper(settings.base_url, latest)])
        index = SearchIndex(settings)
        sync_lexical(store, index)
        index.lexical.close()
        store.close()
        app, server, thread = start_site(settings)
        yield Site(settings.base_url, settings, app)
        server.should_exit = True
        thread.join(timeout=10)


class Watched:
    """A browser context and page, and the problems seen on it since the last look."""

    def __init__(self, browser: Browser, site: Site, width: str) -> None:
        self.width = width
        self.context: BrowserContext = browser.new_context(base_url=site.url, **WIDTHS[width])
        self.context.set_default_timeout(15_000)  # a loaded CI machine can take seconds to answer
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.requests: list[tuple[int, str]] = []
        page = self.page
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        self.requests.append((response.status, response.url))
        document = response.request.resource_type == "document"
        if response.status >= 500 or (response.status >= 400 and not document):
            self.problems.append(f"{response.status} {response.url}")

    def check(self) -> None:
        problems, self.problems[:] = list(self.problems), []
        assert not problems, problems


@pytest.fixture(scope="module")
def watched(browser: Browser, site: Site) -> Iterator[dict[str, Watched]]:
    views = {width: Watched(browser, site, width) for width in WIDTHS}
    yield views
    for view in views.values():
        view.context.close()


@pytest.fixture(params=list(WIDTHS))
def view(request: pytest.FixtureRequest, watched: dict[str, Watched]) -> Iterator[Watched]:
    """The module's page at one width; the test fails on what went wrong on it meanwhile."""
    chosen = watched[request.param]
    chosen.problems.clear()
    yield chosen
    chosen.check()


def card_of(page: Page, paper_id: str) -> Any:
    return page.locator("main article.card", has=page.locator(f'h3 a[href="/papers/{paper_id}"]'))


def byline(card: dict[str, Any]) -> str:
    """What a card's author line should say, from its JSON twin."""
    names, count = card["authors"], card["author_count"]
    if not names:
        return f"{count} author{'s' * (count != 1)}"
    return ", ".join(names[:3]) + (" et al." if count > 3 else "")


def page_width(page: Page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def sign_up(page: Page, email: str, name: str) -> None:
    page.goto("/signup")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Name shown with your comments").fill(name)
    page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()


# -- the tests ------------------------------------------------------------------------------------


def test_cards_name_the_first_authors(view: Watched, site: Site, screenshot: Shot) -> None:
    page = view.page
    day = site.services.papers.get(PAPER)["feed_date"]
    page.goto(f"/papers/date/{day}")
    twin = page.request.get(f"/papers/date/{day}.json").json()["papers"]
    assert twin, "the demo paper's day has papers"
    for entry in twin:
        line = card_of(page, entry["id"]).locator(".meta .authors")
        if entry["authors"] or entry["author_count"]:
            expect(line).to_have_text(byline(entry))
            count = entry["author_count"]
            if entry["authors"]:
                expect(line).to_have_attribute("title", f"{count} author{'s' * (count != 1)}")
            expect(line).to_be_visible()
    screenshot(page, f"pages-{view.width}-feed")

    page.goto("/")  # the long paper's day: five names known, three shown
    line = card_of(page, LONG).locator(".meta .authors")
    expect(line).to_have_text("Ada Lovelace, Alan Turing, Grace Hopper et al.")
    expect(line).to_have_attribute("title", "5 authors")

    page.goto("/papers?q=sideways+scrolling+harmful&mode=lexical")  # search results
    expect(card_of(page, LONG).locator(".meta .authors")).to_have_text(
        "Ada Lovelace, Alan Turing, Grace Hopper et al."
    )

    page.goto(f"/papers/{PAPER}")  # similar papers
    similar = page.request.get(f"/papers/{PAPER}.json").json()["similar"]
    assert similar, "the demo paper has similar papers"
    first = page.locator(".cards.compact article.card").first.locator(".meta .authors")
    expect(first).to_have_text(byline(similar[0]))
    expect(first).to_be_visible()


def test_addresses_in_an_abstract_are_links(view: Watched, site: Site, screenshot: Shot) -> None:
    page = view.page
    page.goto(f"/papers/{LONG}")
    abstract = page.locator(".abstract-full")
    code = abstract.get_by_role("link", name="github.com/ada/long-engine")
    expect(code).to_have_attribute("href", "https://github.com/ada/long-engine")
    expect(code).to_have_attribute("rel", "nofollow noopener")
    expect(abstract.locator(f'a[href="{LONG_URL}"]')).to_have_text(LONG_URL)
    expect(abstract.locator("a")).to_have_count(3)  # not javascript:, not the markup
    expect(abstract.locator("script")).to_have_count(0)
    expect(abstract).to_contain_text("<script>alert(1)</script> and javascript:alert(2).")
    expect(abstract).to_contain_text("(our site). The grid")  # ")." left outside the link
    screenshot(page, f"pages-{view.width}-paper-links")
    own = abstract.get_by_role("link", name=f"{site.url}/about")
    box = own.bounding_box()
    size = page.viewport_size
    width = size["width"] if size else 0
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    own.click()
    expect(page).to_have_url(f"{site.url}/about")
    expect(page.get_by_role("heading", level=1)).to_have_text("About this paperboard")


def test_no_page_scrolls_sideways(view: Watched, site: Site, screenshot: Shot) -> None:
    page = view.page
    pages = {
        "home": "/",
        "search": "/papers?q=grid+datasets+sideways",
        "paper": f"/papers/{LONG}",
        "about": "/about",
    }
    wide = {}
    for name, path in pages.items():
        page.goto(path)
        expect(page.locator("main")).to_be_visible()
        width, inner = page_width(page)
        if width > inner:
            wide[path] = width
        screenshot(page, f"pages-{view.width}-{name}")
    page.goto("/")
    expect(card_of(page, LONG)).to_be_visible()  # the long address is on the home page too
    assert not wide, f"wider than the {inner} px window: {wide}"


def test_similar_papers_in_one_facet(view: Watched, site: Site, screenshot: Shot) -> None:
    page = view.page
    page.goto(f"/papers/{PAPER}")
    facets = page.get_by_role("navigation", name="Similar in one respect")
    expect(facets).to_contain_text("overall · background · method · result")
    facets.get_by_role("link", name="method").click()
    expect(page).to_have_url(f"{site.url}/papers/{PAPER}?similar=method#similar")
    expect(page.get_by_role("heading", name="Similar papers: similar method")).to_be_visible()
    data = page.request.get(f"/papers/{PAPER}.json?similar=method").json()
    tagged = [s["sentence"] for s in data["abstract_roles"] if s["role"] == "method"]
    assert tagged and data["similar"], "the demo paper has method sentences and method neighbours"
    expect(page.locator(".facet-source q")).to_have_text(tagged)
    cards = page.locator("#similar article.card")
    expect(cards).to_have_count(len(data["similar"]))
    expect(cards.first.locator("h3")).to_contain_text(data["similar"][0]["title"][:40])
    width, inner = page_width(page)
    screenshot(page, f"pages-{view.width}-similar-method")
    assert width <= inner, f"the facet page is {width} px wide in a {inner} px window"
    facets.get_by_role("link", name="overall").click()
    expect(page.get_by_role("heading", name="Similar papers", exact=True)).to_be_visible()


def test_a_sign_up_lands_on_the_welcome(browser: Browser, site: Site, screenshot: Shot) -> None:
    for width in WIDTHS:
        view = Watched(browser, site, width)
        page = view.page
        sign_up(page, f"welcome-{width}@example.org", f"Newcomer {width}")
        expect(page).to_have_url(re.compile(r"/welcome\?next=/$"))
        expect(page.get_by_role("heading", name=f"Welcome, Newcomer {width}!")).to_be_visible()
        expect(page.locator("ul.can-do li > strong")).to_have_text(
            ["Upvote", "Comment", "Submit", "Get the digest", "For you", "API tokens"]
        )
        status = page.get_by_role("status")  # what became of the confirmation link, truly
        expect(status).to_contain_text(f"welcome-{width}@example.org")
        if can_send_mail(site.services.settings):
            expect(status).to_contain_text("We sent a confirmation link to")
        else:
            expect(status).to_contain_text("cannot send e-mail yet")
        screenshot(page, f"pages-{width}-welcome")
        assert page_width(page)[0] <= page_width(page)[1], "the welcome scrolls sideways"
        page.get_by_role("link", name="create one on your account page").click()
        expect(page.get_by_role("heading", name=f"Newcomer {width}")).to_be_visible()
        screenshot(page, f"pages-{width}-account")
        width_px, inner = page_width(page)
        assert width_px <= inner, f"the account page is {width_px} px in a {inner} px window"
        page.go_back()
        page.get_by_role("link", name="Continue").click()
        expect(page).to_have_url(f"{site.url}/")
        view.context.close()
        view.check()


def test_search_keeps_the_header_box_and_shows_the_total(
    view: Watched, site: Site, screenshot: Shot
) -> None:
    page = view.page
    page.goto("/about")
    box = page.locator("header.top").get_by_role("searchbox", name="Search papers")
    box.fill("latent space")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/papers\?q=latent\+space$"))
    header_box = page.locator("header.top").get_by_role("searchbox", name="Search papers")
    expect(header_box).to_be_visible()
    expect(header_box).to_have_value("latent space")

    expected = site.services.search_index().lexical.match_count(parse_query("latent space"))
    twin = page.request.get("/papers.json?q=latent+space").json()
    assert twin["total"] == expected > len(twin["papers"])  # every match, not this page's
    total = page.locator("main .total")
    expect(total).to_contain_text(f"{expected:,} results for “latent space”")
    expect(total).to_contain_text("the hybrid ranking also brings papers close in meaning")
    screenshot(page, f"pages-{view.width}-search-total", full=False)

    page.goto("/papers?q=latent+space&mode=lexical")
    expect(page.locator("main .total")).to_have_text(f"{expected:,} results for “latent space”")
    days = sorted(p["published_at"][:10] for p in twin["papers"] if p["published_at"])
    since = days[len(days) // 2]  # some of the matches are older than this, some not
    page.goto(f"/papers?q=latent+space&mode=lexical&since={since}")
    filtered = page.request.get(f"/papers.json?q=latent+space&mode=lexical&since={since}")
    narrower = filtered.json()["total"]
    assert 0 < narrower < expected
    expect(page.locator("main .total")).to_contain_text(f"{narrower:,} result")

    # Enter in the header box on the search page runs a new search.
    header_box = page.locator("header.top").get_by_role("searchbox", name="Search papers")
    header_box.fill("gaussian splatting")
    header_box.press("Enter")
    expect(page).to_have_url(re.compile(r"/papers\?q=gaussian\+splatting$"))
    expect(page.locator("#sq")).to_have_value("gaussian splatting")


def test_the_favicon_robots_and_health_answer(watched: dict[str, Watched], site: Site) -> None:
    view = watched["desktop"]
    page = view.page
    view.problems.clear()
    view.requests.clear()
    page.goto("/")
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert icon == "/static/favicon.svg"
    status = page.evaluate(
        "href => fetch(href).then(r => [r.status, r.headers.get('content-type')])", icon
    )
    assert status[0] == 200 and status[1].startswith("image/svg+xml"), status
    assert page.request.get("/favicon.ico").url.endswith("/static/favicon.svg")
    missing = [(code, url) for code, url in view.requests if code >= 400]
    assert not missing, missing
    robots = page.request.get("/robots.txt")
    assert robots.ok and "Disallow: /account" in robots.text()
    health = page.request.get("/healthz")
    assert health.ok and health.json()["status"] == "ok"
    assert health.json()["indexed"] == site.services.search_index().lexical.count()
    view.check()


# -- the map --------------------------------------------------------------------------------------

# Which dot lies uncovered by the others, and the font size of each label shown, in CSS px: its
# font size in the map's units times the map's scale on the screen.
FREE_DOT = """svg => [...svg.querySelectorAll('g.points a')].findIndex(a => {
    const box = a.querySelector('circle').getBoundingClientRect();
    const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
    return hit !== null && a.contains(hit);
})"""
LABELS_SHOWN = """svg => [...svg.querySelectorAll('g.labels text')]
    .filter(t => t.getClientRects().length > 0)
    .map(t => {
        const box = t.getBoundingClientRect();
        const px = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
        return {px: px, box: [box.left, box.top, box.right, box.bottom], text: t.textContent};
    })"""


def test_the_map_names_and_links_its_dots(view: Watched, site: Site, screenshot: Shot) -> None:
    page = view.page
    page.goto("/map")
    svg = page.locator("figure.map svg")
    expect(svg).to_be_visible()
    drawn = site.services.maps.get(site.services.index)
    assert drawn is not None
    dots = svg.locator("g.points a")
    expect(dots).to_have_count(min(len(drawn.points), 2500))

    # Hovering a dot names its paper (the link's <title>, the browser's tooltip) and enlarges it.
    index = page.evaluate(FREE_DOT, svg.element_handle())
    assert index >= 0, "every dot is covered by another"
    dot = dots.nth(index)
    href = dot.get_attribute("href")
    assert href and href.startswith("/papers/")
    paper = site.services.papers.get(href.removeprefix("/papers/"))
    assert paper is not None
    small = float(dot.locator("circle").evaluate("c => getComputedStyle(c).r").removesuffix("px"))
    dot.hover()
    under = page.evaluate(
        "() => { const all = document.querySelectorAll(':hover');"
        " const a = all[all.length - 1].closest('a');"
        " return a && [a.getAttribute('href'), a.querySelector(':scope > title').textContent]; }"
    )
    assert under == [href, paper["title"]]
    big = float(dot.locator("circle").evaluate("c => getComputedStyle(c).r").removesuffix("px"))
    assert big > small
    screenshot(page, f"pages-map-{view.width}")

    # Clicking it opens the paper.
    dot.click()
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(paper["title"])


def test_the_map_dots_take_the_keyboard(watched: dict[str, Watched], site: Site) -> None:
    view = watched["desktop"]
    page = view.page
    view.problems.clear()
    page.goto("/map")
    page.get_by_role("button", name="Highlight").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => { const a = document.activeElement; return a.closest('figure.map g.points') &&"
        " [a.getAttribute('href'), getComputedStyle(a.querySelector('circle')).r]; }"
    )
    assert focused, "Tab after the form does not reach the map's dots"
    href, radius = focused
    assert radius == "7px"  # the focus style, the same as hovering
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))
    view.check()


def test_the_map_labels_are_legible_at_every_width(view: Watched) -> None:
    page = view.page
    page.goto("/map")
    svg = page.locator("figure.map svg")
    expect(svg).to_be_visible()
    labels = page.evaluate(LABELS_SHOWN, svg.element_handle())
    assert labels, "no topic is named on the map"
    small = [(label["text"], round(label["px"], 1)) for label in labels if label["px"] < 11]
    assert not small, f"labels under 11 px at {view.width}: {small}"
    frame = svg.bounding_box()
    assert frame is not None
    for i, label in enumerate(labels):
        left, top, right, bottom = label["box"]
        assert frame["x"] <= left and right <= frame["x"] + frame["width"], label["text"]
        for other in labels[:i]:
            o = other["box"]
            apart = right <= o[0] or o[2] <= left or bottom <= o[1] or o[3] <= top
            assert apart, f"{label['text']!r} overlaps {other['text']!r}"
    width, inner = page_width(page)
    assert width <= inner, f"/map is {width} px wide on a {inner} px screen"
    # a tablet between the two sizes shows a set of its own, also legible
    page.set_viewport_size({"width": 700, "height": 900})
    try:
        shown = page.evaluate(LABELS_SHOWN, svg.element_handle())
        assert shown and min(label["px"] for label in shown) >= 11
    finally:
        page.set_viewport_size(WIDTHS[view.width]["viewport"])
