"""The site in a real browser: Debian's Chromium (/usr/bin/chromium) driven by Playwright.

What a member sees and does: sign up, out and in (also by keyboard alone), upvote from the feed,
comment in Markdown and edit, submit a paper through a fake arXiv, search from the header, browse
days, weeks and months, the map; and, on a phone, pages that never scroll sideways. Every page
also fails its test on a script error, a Content Security Policy report, a server error or a broken
style sheet. Each main page is saved as a full-page screenshot in ``$PAPERBOARD_SCREENSHOTS`` (or a
pytest temporary folder) and copied to /tmp/screenshots/ for a look.

Playwright never downloads a browser here: ``scripts/test`` installs Debian's chromium package.
These tests run on SQLite only; the HTTP tests cover PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeServer, Site, needs_program
from playwright.sync_api import Browser, BrowserContext, Page, expect
from test_authors import add_arxiv_slice
from test_community import serve_fake_arxiv
from test_members import PASSWORD

CHROMIUM = "/usr/bin/chromium"
PAPER = "2505.13308"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

pytestmark = needs_program(CHROMIUM, "chromium")

# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only (overrides conftest's fixture parametrized by PAPERBOARD_TEST_BACKENDS): a
    browser adds nothing backend-specific, and the HTTP tests already run on PostgreSQL."""
    return f"sqlite:///{tmp_path / 'paperboard.db'}"


def _open(browser: Browser, site: Site, **options: Any) -> Iterator[Page]:
    """A fresh context (own cookies) and page. Fails the test on any script error, Content
    Security Policy violation, server error or broken subresource (style sheet, image)."""
    context: BrowserContext = browser.new_context(base_url=site.url, **options)
    context.set_default_timeout(15_000)  # a loaded CI machine can take seconds to answer
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}")
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 500 or (r.status >= 400 and r.request.resource_type != "document")
            else None
        ),
    )
    yield page
    context.close()
    assert not problems, problems


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    yield from _open(browser, site, viewport=DESKTOP)


@pytest.fixture
def phone(browser: Browser, site: Site) -> Iterator[Page]:
    yield from _open(
        browser, site, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )


# -- helpers --------------------------------------------------------------------------------------


def member(site: Site, email: str = "ada@example.org", name: str = "Ada") -> dict[str, Any]:
    from paperboard.core.passwords import hash_password

    return site.services.members.create(email, name, hash_password(PASSWORD))


def signed_in(page: Page, site: Site, name: str = "Ada") -> dict[str, Any]:
    """A member, with this page's browser holding a session of theirs (no form: the forms have
    their own tests)."""
    ada = member(site, f"{name.lower()}@example.org", name)
    token, _csrf = site.services.members.start_session(ada["id"], lifetime=timedelta(days=1))
    page.context.add_cookies([{"name": "pb_session", "value": token, "url": site.url}])
    return ada


def feed_days(site: Site) -> list[date]:
    rows = site.services.papers.list_papers(date(1900, 1, 1), date(2100, 1, 1))
    return sorted({row["feed_date"] for row in rows if row["feed_date"]})


def header(page: Page) -> Any:
    return page.locator("header.top")


def card_of(page: Page, paper_id: str) -> Any:
    return page.locator("main article.card", has=page.locator(f'h3 a[href="/papers/{paper_id}"]'))


def long_day(day: date) -> str:
    return day.strftime("%A, %B %-d, %Y")


def no_sideways_scroll(page: Page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


# -- members --------------------------------------------------------------------------------------


def test_sign_up_sign_out_and_sign_in_with_the_forms(
    page: Page, site: Site, screenshot: Callable[..., Path]
) -> None:
    page.goto("/")
    header(page).get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    page.get_by_label("E-mail").fill("ada@example.org")
    page.get_by_label("Name shown with your comments").fill("Ada Lovelace")
    page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_role("heading", name="Welcome, Ada Lovelace!")).to_be_visible()
    page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(f"{site.url}/")
    expect(header(page).get_by_role("link", name="Ada Lovelace")).to_be_visible()
    expect(header(page).get_by_role("link", name="Sign in")).to_have_count(0)

    header(page).get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    expect(page.locator("main")).to_contain_text("ada@example.org")
    expect(page.locator("main")).to_contain_text("0 of 10 submissions used today")
    screenshot(page, "desktop-account")

    header(page).get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{site.url}/")
    expect(header(page).get_by_role("link", name="Sign in")).to_be_visible()
    expect(header(page)).not_to_contain_text("Ada Lovelace")
    page.goto("/account")  # members only now
    expect(page).to_have_url(re.compile(r"/signin"))

    header(page).get_by_role("link", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "desktop-signin")
    page.get_by_label("E-mail").fill("ada@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("wrong e-mail address or password")
    expect(page.get_by_label("E-mail")).to_have_value("ada@example.org")  # kept for the retry
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(header(page).get_by_role("link", name="Ada Lovelace")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)


def test_sign_in_by_keyboard_alone(page: Page, site: Site) -> None:
    member(site)
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, (
        "the skip link stays off screen when focused"
    )

    def tab_to(target: Any, limit: int = 15) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if target.evaluate("element => element === document.activeElement"):
                outline = target.evaluate("element => getComputedStyle(element).outlineStyle")
                assert outline != "none", "no visible focus ring"
                return
        pytest.fail(f"Tab never reached {target}")

    tab_to(header(page).get_by_role("link", name="Sign in"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    tab_to(page.get_by_label("E-mail"))
    page.keyboard.type("ada@example.org")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{site.url}/")
    expect(header(page).get_by_role("link", name="Ada")).to_be_visible()


# -- upvotes, comments, submissions ---------------------------------------------------------------


def test_upvote_from_the_feed_and_take_it_back(page: Page, site: Site) -> None:
    day = site.services.papers.get(PAPER)["feed_date"]
    before = int(site.services.papers.get(PAPER)["total_upvotes"])

    page.goto(f"/papers/date/{day}")
    anonymous = card_of(page, PAPER).locator(".upvote")
    expect(anonymous).to_have_text(f"▲{before}")
    anonymous.click()  # signed out: the arrow leads to the sign-in form, then back to the paper
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    member(site)
    page.get_by_label("E-mail").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site.url}/papers/{PAPER}")

    page.goto(f"/papers/date/{day}")
    button = card_of(page, PAPER).locator("button.upvote")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button.locator(".count")).to_have_text(str(before))
    button.click()
    expect(page).to_have_url(f"{site.url}/papers/date/{day}")  # back where the click was
    button = card_of(page, PAPER).locator("button.upvote")
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_have_class(re.compile(r"\bon\b"))
    expect(button).to_have_accessible_name(re.compile(r"^Remove upvote"))
    expect(button.locator(".count")).to_have_text(str(before + 1))
    assert int(site.services.papers.get(PAPER)["total_upvotes"]) == before + 1

    page.goto(f"/papers/{PAPER}")  # the paper's own page agrees
    expect(page.locator(".paper-head button.upvote .count")).to_have_text(str(before + 1))
    page.go_back()

    card_of(page, PAPER).locator("button.upvote").click()
    button = card_of(page, PAPER).locator("button.upvote")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button).not_to_have_class(re.compile(r"\bon\b"))
    expect(button.locator(".count")).to_have_text(str(before))
    assert int(site.services.papers.get(PAPER)["total_upvotes"]) == before


def test_comment_in_markdown_and_edit_it(
    page: Page, site: Site, screenshot: Callable[..., Path]
) -> None:
    signed_in(page, site)
    page.goto(f"/papers/{PAPER}")
    title = site.services.papers.get(PAPER)["title"]
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_role("heading", name="Comments (0)")).to_be_visible()
    page.get_by_label("Add a comment (Markdown)").fill(
        "A **strong** claim with `code`:\n\n- first\n- second\n\n<b>not html</b>"
    )
    page.get_by_role("button", name="Comment").click()

    expect(page).to_have_url(re.compile(rf"/papers/{re.escape(PAPER)}#comment-\d+$"))
    expect(page.get_by_role("heading", name="Comments (1)")).to_be_visible()
    comment = page.locator(".comment").first
    expect(comment.locator(".meta strong")).to_have_text("Ada")
    body = comment.locator(".comment-body")
    expect(body.locator("strong")).to_have_text("strong")
    expect(body.locator("code")).to_have_text("code")
    expect(body.locator("li")).to_have_text(["first", "second"])
    expect(body).to_contain_text("<b>not html</b>")  # raw HTML shows as text
    expect(body.locator("b")).to_have_count(0)
    screenshot(page, "desktop-paper")

    comment.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit your comment")).to_be_visible()
    box = page.get_by_label("Comment (Markdown)")
    expect(box).to_have_value(re.compile(r"^A \*\*strong\*\* claim"))
    box.fill("Now _emphasis_ instead")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(rf"/papers/{re.escape(PAPER)}#comment-\d+$"))
    body = page.locator(".comment .comment-body").first
    expect(body.locator("em")).to_have_text("emphasis")
    expect(body).not_to_contain_text("strong")
    expect(page.locator(".comment .meta").first).to_contain_text("edited")
    expect(page.get_by_role("heading", name="Comments (1)")).to_be_visible()


def test_a_comment_with_a_link_shows_the_link(page: Page, site: Site) -> None:
    signed_in(page, site)
    page.goto(f"/papers/{PAPER}")
    page.get_by_label("Add a comment (Markdown)").fill(
        "Code at [the repo](https://example.org/repo)."
    )
    page.get_by_role("button", name="Comment").click()
    expect(page.get_by_role("heading", name="Comments (1)")).to_be_visible()
    link = page.locator(".comment .comment-body").get_by_role("link", name="the repo")
    expect(link).to_have_attribute("href", "https://example.org/repo")
    expect(link).to_have_attribute("rel", re.compile(r"\bnofollow\b.*\bugc\b"))


def test_submit_a_paper_by_arxiv_id(
    page: Page, site: Site, fake_server: FakeServer, screenshot: Callable[..., Path]
) -> None:
    fake_arxiv = serve_fake_arxiv(site, fake_server)
    signed_in(page, site)
    page.goto("/")
    header(page).get_by_role("link", name="Submit").click()
    expect(page.get_by_role("heading", name="Submit a paper")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Up to 2 papers a day")
    screenshot(page, "desktop-submit")

    field = page.get_by_label("arXiv id or URL")
    field.fill("not an arXiv id")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("alert")).to_contain_text("arXiv")
    expect(field).to_have_value("not an arXiv id")

    field.fill("https://arxiv.org/abs/2611.01234v1")
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(site.url)}/submissions/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Submission of 2611.01234")
    # The page refreshes itself every 3 s while the paper is fetched in the background.
    expect(page.get_by_role("status")).to_contain_text("Fetched", timeout=20_000)
    page.get_by_role("link", name="Go to the paper").click()
    expect(page).to_have_url(f"{site.url}/papers/2611.01234")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fresh paper 2611.01234")
    expect(page.locator(".paper-head .meta")).to_contain_text("submitted by Ada")

    header(page).get_by_role("link", name="Daily").click()
    today = datetime.now(UTC).date()
    expect(page.get_by_role("heading", level=1)).to_contain_text(long_day(today))
    card = card_of(page, "2611.01234")
    expect(card).to_be_visible()
    expect(card.locator("h3")).to_contain_text("Fresh paper 2611.01234")
    expect(card).to_contain_text("Submitted by Ada")
    assert len(fake_arxiv.requests) == 1
    screenshot(page, "desktop-feed-today")
    # The byline belongs in the card's grey meta line. A <details> (the author list) inside the
    # <p class="meta"> ends that paragraph in the browser, leaving the byline outside it, unstyled.
    expect(card.locator(".meta")).to_contain_text("Submitted by Ada")


# -- reading: search, days, weeks, months, trending, the map --------------------------------------


def test_search_from_the_header_highlights_the_words(
    page: Page, site: Site, screenshot: Callable[..., Path]
) -> None:
    page.goto("/")
    box = header(page).get_by_role("searchbox", name="Search papers")
    box.fill("latent space")
    box.press("Enter")

    expect(page).to_have_url(re.compile(r"/papers\?q=latent\+space$"))
    expect(page).to_have_title(re.compile("^latent space — search"))
    expect(page.locator("#sq")).to_have_value("latent space")
    expect(page.locator("main .meta").first).to_contain_text(
        re.compile(r"\d+ results? on this page \(hybrid")
    )
    cards = page.locator("main article.card")
    assert cards.count() > 0
    marks = page.locator("main article.card mark")
    expect(marks.first).to_be_visible()
    words = {text.lower() for text in marks.all_inner_texts()}
    assert words and all(w.startswith(("latent", "space")) for w in words), words
    background = marks.first.evaluate("element => getComputedStyle(element).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent"), "highlights are not coloured"
    screenshot(page, "desktop-search")

    cards.first.locator("h3 a").click()  # a result opens its paper
    expect(page).to_have_url(re.compile(r"/papers/[^?]+$"))
    expect(page.get_by_role("heading", name="Abstract")).to_be_visible()


def test_forms_with_optional_fields_left_empty(page: Page, site: Site) -> None:
    """Browsers send every field of a GET form, empty or not: ``since=&until=`` or ``category=``
    must mean "no filter", not a refused request."""
    page.goto("/papers?q=latent+space")
    page.get_by_role("combobox", name="Ranking").select_option("lexical")
    page.locator("form.search-form").get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"mode=lexical"))
    expect(page.locator("main .meta").first).to_contain_text("(lexical,")
    expect(page.locator("main article.card mark").first).to_be_visible()

    day = site.services.papers.get(PAPER)["feed_date"]
    page.goto(f"/papers/date/{day}")
    category = page.get_by_label("Category")
    category.fill("math.AG")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"\?category=math\.AG$"))
    expect(page.locator("main .empty")).to_have_text("No papers on this day in math.AG.")
    page.get_by_label("Category").fill("")  # and back to every category
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(card_of(page, PAPER)).to_be_visible()


def test_browse_days_weeks_months_and_trending(
    page: Page, site: Site, screenshot: Callable[..., Path]
) -> None:
    days = feed_days(site)
    day = site.services.papers.get(PAPER)["feed_date"]
    i = days.index(day)
    assert 0 < i < len(days) - 1, "the demo paper needs days on both sides"
    title = site.services.papers.get(PAPER)["title"]

    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(long_day(days[-1]))
    expect(page.get_by_role("link", name="Next →")).to_have_count(0)  # nothing after the latest day

    page.goto(f"/papers/date/{day}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(long_day(day))
    expect(card_of(page, PAPER).locator("h3")).to_contain_text(title)
    screenshot(page, "desktop-feed-day")

    page.get_by_role("link", name="← Previous").click()
    expect(page).to_have_url(f"{site.url}/papers/date/{days[i - 1]}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(long_day(days[i - 1]))
    expect(card_of(page, PAPER)).to_have_count(0)
    page.get_by_role("link", name="Next →").click()
    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(f"{site.url}/papers/date/{days[i + 1]}")
    page.get_by_role("link", name="← Previous").click()
    expect(page).to_have_url(f"{site.url}/papers/date/{day}")
    expect(page.locator('.periods a[aria-current="page"]')).to_have_text("Day")

    year, week, _ = day.isocalendar()
    page.locator(".periods").get_by_role("link", name="Week", exact=True).click()
    expect(page).to_have_url(f"{site.url}/papers/week/{year}-W{week:02d}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Papers of week {year}-W{week:02d}")
    expect(page.locator('.periods a[aria-current="page"]')).to_have_text("Week")
    expect(card_of(page, PAPER)).to_be_visible()

    page.locator(".periods").get_by_role("link", name="Month", exact=True).click()
    expect(page).to_have_url(f"{site.url}/papers/month/{day:%Y-%m}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Papers of {day:%B %Y}")
    expect(page.locator('.periods a[aria-current="page"]')).to_have_text("Month")
    expect(card_of(page, PAPER)).to_be_visible()
    in_month = [d for d in days if (d.year, d.month) == (day.year, day.month)]
    expect(page.locator("main article.card")).to_have_count(
        len(site.services.papers.list_papers(in_month[0], in_month[-1], limit=1000))
    )

    header(page).get_by_role("link", name="Trending").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Trending papers")
    expect(page.locator(".periods .formula")).to_contain_text("upvotes / (age in hours + 2) ^ 1.5")
    expect(page.locator("main article.card").first).to_be_visible()
    screenshot(page, "desktop-trending")


def test_the_map_highlights_a_search(
    page: Page, site: Site, screenshot: Callable[..., Path]
) -> None:
    page.goto("/")
    header(page).get_by_role("link", name="Map").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Map of the literature")
    expect(page.locator("figure.map svg")).to_be_visible()
    expect(page.locator("figure.map svg g.highlighted")).to_have_count(0)
    expect(page.get_by_role("heading", name="Topics")).to_be_visible()

    page.get_by_label("Highlight a search").fill("latent")
    page.get_by_role("button", name="Highlight").click()
    expect(page).to_have_url(re.compile(r"/map\?q=latent"))
    highlighted = page.locator("figure.map svg g.highlighted > *")
    expect(highlighted.first).to_be_attached()
    caption = page.locator("figure.map figcaption")
    match = re.search(r", (\d+) highlighted", caption.inner_text())
    assert match and int(match.group(1)) > 0, caption.inner_text()
    expect(page.get_by_role("heading", name="Highlighted")).to_be_visible()
    expect(page.locator("main .cards article.card").first).to_be_visible()
    svg = page.locator("figure.map svg").bounding_box()
    assert svg is not None and svg["width"] <= DESKTOP["width"] and svg["height"] > 200
    screenshot(page, "desktop-map")


# -- a phone --------------------------------------------------------------------------------------


def test_on_a_phone_the_pages_never_scroll_sideways(
    phone: Page, site: Site, screenshot: Callable[..., Path]
) -> None:
    signed_in(phone, site)  # the longest header: Submit, the name, Sign out
    day = site.services.papers.get(PAPER)["feed_date"]
    pages = {
        "phone-feed": f"/papers/date/{day}",
        "phone-paper": f"/papers/{PAPER}",
        "phone-search": "/papers?q=latent+space",
        "phone-map": "/map?q=latent",
        "phone-account": "/account",
    }
    wide = {}
    for name, path in pages.items():
        phone.goto(path)
        expect(phone.locator("main")).to_be_visible()
        width, inner = no_sideways_scroll(phone)
        assert inner == PHONE["width"]
        if width > inner:
            wide[path] = width
        screenshot(phone, name)
    assert not wide, f"wider than the {PHONE['width']} px screen: {wide}"
    phone.goto(f"/papers/date/{day}")
    card = card_of(phone, PAPER)
    expect(card).to_be_visible()
    box = card.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_card_signals_and_the_for_you_start(page: Page, site: Site) -> None:
    day = site.services.papers.get(PAPER)["feed_date"]
    signed_in(page, site)
    page.goto(f"/papers/date/{day}")
    more = card_of(page, PAPER).get_by_role("button", name="More like this")
    expect(more).to_have_attribute("aria-pressed", "false")
    more.click()
    expect(page).to_have_url(f"{site.url}/papers/date/{day}")  # back where the click was
    more = card_of(page, PAPER).get_by_role("button", name="More like this")
    expect(more).to_have_attribute("aria-pressed", "true")
    card_of(page, PAPER).get_by_role("button", name="Not interested").click()
    card = card_of(page, PAPER)
    expect(card.get_by_role("button", name="Not interested")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(card.get_by_role("button", name="More like this")).to_have_attribute(
        "aria-pressed", "false"
    )  # the one replaces the other

    # The first picks of a site process build the candidate pool: on a loaded machine that is
    # longer than the 5 s a click waits for its navigation by default.
    page.get_by_role("link", name="For you").click(timeout=30_000)
    page.get_by_role("link", name=re.compile("choose your areas")).click()
    add_arxiv_slice(site)  # papers with categories and abstracts: areas to choose, picks to make
    page.reload()
    page.get_by_label("cs.CL", exact=True).check()
    page.get_by_role("button", name="Next: rate ten papers").click()
    ratings = page.locator("fieldset.rate")
    expect(ratings.first).to_be_visible()
    assert 1 <= ratings.count() <= 10
    ratings.first.get_by_label("More like this").check()
    page.get_by_role("button", name="See my picks").click(timeout=30_000)
    expect(page).to_have_url(f"{site.url}/for-you")
    expect(page.get_by_role("heading", name="For you")).to_be_visible()
    expect(page.locator(".reason").first).to_contain_text("which you asked for more of")
    assert site.services.interests.settings(1)["categories"] == ["cs.CL"]
