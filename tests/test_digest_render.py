"""The digest's HTML part as a mail client would show it: rendered by Debian's Chromium (through
Playwright) with scripts and the network off, screenshotted for a look, and checked for what mail
clients need (no scripts, no external style sheets or fonts, everything readable at 600 px)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Site, SmtpSink, needs_program

from paperboard.core.records import PaperRecord
from paperboard.present.mail.digests import send_digests
from paperboard.rank.digest import period_for
from paperboard.store.digests import DigestStore

CHROMIUM = "/usr/bin/chromium"
pytestmark = needs_program(CHROMIUM, "chromium")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'paperboard.db'}"


def test_digest_html_renders_cleanly_in_chromium(
    site: Site, smtp_server: SmtpSink, tmp_path_factory: Any, browser: Any
) -> None:
    site.services.settings = site.services.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port,
            "smtp_security": "none",
            "mail_rate": 1000.0,
        }
    )
    when = datetime(2019, 7, 5, 12, tzinfo=UTC)
    site.services.papers.write(
        [
            PaperRecord(
                id=f"1907.0{n:04d}",
                source="hf",
                upvotes=20 - n,
                published_at=when,
                title=(
                    f"A study of latent geometry, part {n}: "
                    "what <b>markup</b> & LaTeX $x^2$ look like"
                ),
                abstract="We measure things carefully. " * 12,
                authors=[f"Author {i}" for i in range(n + 1)],
            )
            for n in range(1, 6)
        ]
    )
    DigestStore(site.services.papers.engine).subscribe(
        "look@example.org", confirmed=True, keywords=["latent space"]
    )
    report = send_digests(site.services, period_for("daily", date(2019, 7, 5)))
    assert report.sent == 1
    html = smtp_server.messages[0].get_body(("html",)).get_content()
    assert (
        "<script" not in html.lower() and "<link" not in html.lower() and "@font-face" not in html
    )
    assert "&lt;b&gt;markup&lt;/b&gt;" in html  # titles are text, never markup

    folder = Path(tmp_path_factory.mktemp("digest-screenshots"))
    context = browser.new_context(
        viewport={"width": 700, "height": 900}, java_script_enabled=False, offline=True
    )
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.set_content(html, wait_until="load")
    assert page.locator("h1").inner_text() == "Trending papers"
    titles = page.locator("a[href*='/papers/']").all_inner_texts()
    assert titles[0].startswith("A study of latent geometry, part 1") and len(titles) >= 5
    assert "For you" in page.inner_text("body")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 700, f"the message is {width}px wide"
    path = folder / "digest.png"
    page.screenshot(path=str(path), full_page=True)
    phone = browser.new_context(
        viewport={"width": 360, "height": 740}, java_script_enabled=False, offline=True
    ).new_page()
    phone.set_content(html, wait_until="load")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.screenshot(path=str(folder / "digest-phone.png"), full_page=True)
    phone.context.close()
    context.close()
    assert [u for u in requests if not u.startswith(("about:", "data:"))] == []  # nothing fetched
    copy = Path("/tmp/screenshots")
    copy.mkdir(exist_ok=True)
    for shot in folder.glob("*.png"):
        shutil.copy(shot, copy / shot.name)
