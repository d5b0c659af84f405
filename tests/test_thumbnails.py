"""Thumbnails: `paperboard thumbnails` fetches real PDFs from a local server, renders their first
page and keeps it; `/thumbnails/ID.webp` serves it, refusing names that are not papers; cards
and the paper page show it in Chromium at 1280 and 390 px, without sideways scrolling.

The PDFs are made here by Pillow: a white page with a navy band across its top, so a test can
tell the rendered page from a blank one. The site tests run on SQLite only, like the other
browser tests; the command's tests on both backends.
"""

from __future__ import annotations

import io
import json
import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    FIXTURES,
    CliResult,
    FakeServer,
    Reply,
    Site,
    _free_port,
    needs_program,
    start_site,
)
from PIL import Image, ImageDraw

from paperboard.core.config import Settings, load_settings
from paperboard.core.errors import SourceError
from paperboard.core.records import PaperRecord
from paperboard.index.thumbnails import WIDTH, paper_id_for, render_first_page, thumbnail_path
from paperboard.sources.arxiv_pdf import PdfError, fetch_pdf
from paperboard.sources.http import PoliteClient
from paperboard.store.papers import PaperStore

CHROMIUM = "/usr/bin/chromium"
DAY = date(2026, 11, 20)
NEW, OLD, OTHER = "2611.01234", "hep-th/9901001", "demo:no-pdf"
NAVY = (20, 30, 110)


def make_pdf(width: int = 612, height: int = 792) -> bytes:
    """A one-page PDF (US Letter by default): white, with a navy band across the top."""
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, width, height // 8), fill=NAVY)
    for line in range(12):
        y = height // 5 + line * 30
        draw.rectangle((60, y, width - 60, y + 10), fill=(90, 90, 90))
    out = io.BytesIO()
    page.save(out, "PDF", resolution=72)
    return out.getvalue()


PDF = make_pdf()


def paper(paper_id: str, day: date = DAY, title: str | None = None) -> PaperRecord:
    return PaperRecord(
        id=paper_id,
        source="demo",
        title=title or f"A paper called {paper_id}",
        abstract="We study thumbnails of papers. " * 8,
        authors=["Ada Lovelace", "Alan Turing"],
        categories=["cs.LG"],
        published_at=datetime.combine(day, time(12), tzinfo=UTC),
    )


def pdf_reply() -> Reply:
    return Reply(200, PDF, content_type="application/pdf")


def dead_url() -> str:
    """An address on loopback where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/pdf"


def decoded(path: Path) -> Image.Image:
    image = Image.open(path)
    image.load()
    return image


@pytest.fixture
def online(
    monkeypatch: pytest.MonkeyPatch, fake_server: FakeServer, store: PaperStore
) -> FakeServer:
    """Thumbnails on, PDFs from the fake server, and three papers: two on arXiv, one not."""
    monkeypatch.setenv("PAPERBOARD_THUMBNAILS", "1")
    monkeypatch.setenv("PAPERBOARD_ARXIV_PDF_URL", fake_server.url + "/pdf")
    store.write([paper(NEW), paper(OLD, DAY.replace(day=1)), paper(OTHER)])
    return fake_server


# -- the command ----------------------------------------------------------------------------------


def test_thumbnails_are_rendered_from_the_served_pdf(
    cli: Callable[..., CliResult], online: FakeServer, settings: Settings
) -> None:
    online.route(f"/pdf/{NEW}", pdf_reply())
    online.route(f"/pdf/{OLD}", pdf_reply())
    result = cli("thumbnails")
    assert result.exit_code == 0, result.output
    assert "2 made, 0 failed" in result.stdout
    settings = load_settings()
    for paper_id in (NEW, OLD):
        path = thumbnail_path(settings, paper_id)
        image = decoded(path)
        assert image.format == "WEBP"
        assert image.width == WIDTH
        assert image.height == round(WIDTH * 792 / 612)
        top = image.convert("RGB").getpixel((WIDTH // 2, 5))
        middle = image.convert("RGB").getpixel((10, image.height // 2))
        assert all(abs(a - b) < 30 for a, b in zip(top, NAVY, strict=True)), top
        assert min(middle) > 230, middle  # the white margin: a page, not a blank fill
    assert thumbnail_path(settings, OLD).name == "hep-th_9901001.webp"
    assert sorted(r.path for r in online.requests) == sorted([f"/pdf/{NEW}", f"/pdf/{OLD}"])
    assert not list(settings.thumbnail_dir.glob(".*"))  # no temporary file left behind

    again = cli("thumbnails")
    assert again.exit_code == 0, again.output
    assert "0 made" in again.stdout
    assert len(online.requests) == 2  # papers that have one are skipped


def test_dry_run_lists_the_papers_and_writes_nothing(
    cli: Callable[..., CliResult], online: FakeServer
) -> None:
    result = cli("thumbnails", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.split()[:2] == [NEW, OLD]  # newest first; the demo paper has no PDF
    assert "2 papers would get a thumbnail" in result.stdout
    assert OTHER not in result.stdout
    assert online.requests == []
    assert not load_settings().thumbnail_dir.exists()


def test_limit_and_since_choose_the_papers(
    cli: Callable[..., CliResult], online: FakeServer
) -> None:
    online.route(f"/pdf/{NEW}", pdf_reply())
    online.route(f"/pdf/{OLD}", pdf_reply())
    assert cli("thumbnails", "--dry-run", "--since", DAY.isoformat()).stdout.split()[0] == NEW
    assert OLD not in cli("thumbnails", "--dry-run", "--since", DAY.isoformat()).stdout
    result = cli("thumbnails", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert [r.path for r in online.requests] == [f"/pdf/{NEW}"]
    bad = cli("thumbnails", "--since", "yesterday")
    assert bad.exit_code == 2
    assert "--since" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_off_by_default_it_does_nothing_and_says_so(
    cli: Callable[..., CliResult], online: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAPERBOARD_THUMBNAILS")
    result = cli("thumbnails")
    assert result.exit_code == 0
    assert "thumbnails are off: set PAPERBOARD_THUMBNAILS=1" in result.stdout
    assert online.requests == []


def test_a_page_that_is_not_a_pdf_fails_that_paper_alone(
    cli: Callable[..., CliResult], online: FakeServer
) -> None:
    online.route(f"/pdf/{NEW}", Reply(200, "<html>withdrawn</html>", content_type="text/html"))
    online.route(f"/pdf/{OLD}", pdf_reply())
    result = cli("thumbnails")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("paperboard: error")]
    assert errors == [
        f"paperboard: error: {NEW}: {online.url}/pdf/{NEW} answered text/html, not a PDF"
    ]
    assert "1 made, 1 failed" in result.stdout
    settings = load_settings()
    assert thumbnail_path(settings, OLD).is_file()
    assert not thumbnail_path(settings, NEW).exists()


def test_a_missing_or_unreadable_pdf_is_one_line_each(
    cli: Callable[..., CliResult], online: FakeServer
) -> None:
    online.route(f"/pdf/{NEW}", Reply(404, "not found", content_type="text/plain"))
    online.route(
        f"/pdf/{OLD}", Reply(200, b"%PDF-1.4 then nothing", content_type="application/pdf")
    )
    result = cli("thumbnails")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("paperboard: error")]
    assert len(errors) == 2, result.stderr
    assert f"{NEW}: no PDF at {online.url}/pdf/{NEW} (HTTP 404)" in errors[0]
    assert f"{OLD}: the PDF cannot be read as a PDF" in errors[1]
    assert not list(load_settings().thumbnail_dir.glob("*"))


def test_a_dead_server_stops_the_run_with_one_line(
    cli: Callable[..., CliResult], online: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBOARD_ARXIV_PDF_URL", dead_url())
    result = cli("thumbnails")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("paperboard: error")]
    assert len(errors) == 1, result.stderr
    assert "127.0.0.1 is unreachable right now" in errors[0]
    assert "0 made, 0 failed, 2 left for the next run" in result.stdout
    assert not load_settings().thumbnail_dir.exists()


def test_a_pdf_over_the_size_cap_is_refused(fake_server: FakeServer, settings: Settings) -> None:
    fake_server.route(f"/pdf/{NEW}", pdf_reply())
    with PoliteClient.for_url(settings, fake_server.url) as client:
        assert fetch_pdf(client, fake_server.url + "/pdf", NEW) == PDF
        with pytest.raises(PdfError, match=r"larger than 0 MB, skipped$"):
            fetch_pdf(client, fake_server.url + "/pdf", NEW, max_bytes=len(PDF) - 1)
        with pytest.raises(SourceError, match="unreachable"):
            fetch_pdf(client, dead_url(), NEW)


def test_a_very_tall_page_is_cut_to_the_card_shape() -> None:
    image = Image.open(io.BytesIO(render_first_page(make_pdf(300, 3000), width=200)))
    assert image.size == (200, 300)


@pytest.mark.parametrize(
    ("stem", "paper_id"),
    [
        ("2611.01234", "2611.01234"),
        ("hep-th_9901001", "hep-th/9901001"),
        ("..", None),
        ("..%2Fsecret_key", None),
        ("hep-th_..", None),
        ("2611.01234v2", None),
        ("demo:no-pdf", None),
        ("hep-th/9901001", None),
    ],
)
def test_only_canonical_arxiv_names_map_to_a_paper(stem: str, paper_id: str | None) -> None:
    assert paper_id_for(stem) == paper_id


def test_the_worker_makes_thumbnails_after_it_ingests(
    cli: Callable[..., CliResult],
    fake_server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    model_cache: Path,
) -> None:
    daily = json.loads((FIXTURES / "hf_daily_papers_2026-11-20.json").read_text())
    ids = [entry["paper"]["id"] for entry in daily]
    fake_server.route(
        "/api/daily_papers",
        lambda seen: Reply(
            200,
            json.dumps(daily) if seen.query.get("date") == ["2026-11-20"] else "[]",
            content_type="application/json",
        ),
    )
    fake_server.route(f"/pdf/{ids[0]}", Reply(404, "gone", content_type="text/plain"))
    for paper_id in ids[1:]:
        fake_server.route(f"/pdf/{paper_id}", pdf_reply())
    for name, value in {
        "PAPERBOARD_HF_API_URL": fake_server.url,
        "PAPERBOARD_INGEST_SOURCES": '["hf"]',
        "PAPERBOARD_ARXIV_PDF_URL": fake_server.url + "/pdf",
        "PAPERBOARD_THUMBNAILS": "1",
        "PAPERBOARD_MODELS_DIR": str(model_cache),
        "PAPERBOARD_DIGEST_TIME": "23:00",  # only the ingest is due
    }.items():
        monkeypatch.setenv(name, value)
    result = cli("worker", "--once", "--now", "2026-11-21T08:00:00+00:00")
    assert result.exit_code == 0, result.output
    assert f"thumbnails: {len(ids) - 1} made, 1 failed" in result.stdout
    settings = load_settings()
    assert [thumbnail_path(settings, i).is_file() for i in ids] == [False] + [True] * (len(ids) - 1)


# -- the site -------------------------------------------------------------------------------------


def _site_settings(home: Path, port: int, *, thumbnails: bool, pdf_url: str) -> Settings:
    return load_settings(
        home=home,
        database_url=f"sqlite:///{home / 'paperboard.db'}",
        base_url=f"http://127.0.0.1:{port}",
        page_cache_seconds=0,
        thumbnails=thumbnails,
        arxiv_pdf_url=pdf_url,
        arxiv_delay=0,
    )


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Site]]:
    """One home with three papers, two with thumbnails made by the real command's functions,
    served twice: with thumbnails on and off."""
    from paperboard.index.indexer import SearchIndex, sync_lexical
    from paperboard.index.thumbnails import make_thumbnail

    home = tmp_path_factory.mktemp("thumb-home")
    pdfs = FakeServer()
    pdfs.route(f"/pdf/{NEW}", pdf_reply())
    pdfs.route(f"/pdf/{OLD}", pdf_reply())
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("PAPERBOARD_") and not name.startswith(
                ("PAPERBOARD_TEST_", "PAPERBOARD_SCREENSHOTS")
            ):
                patch.delenv(name)
        on = _site_settings(home, _free_port(), thumbnails=True, pdf_url=pdfs.url + "/pdf")
        off = _site_settings(home, _free_port(), thumbnails=False, pdf_url=pdfs.url + "/pdf")
        store = PaperStore.open(on)
        long_title = "Thumbnails of papers, seen " + "beside very long titles " * 4
        store.write([paper(NEW, title=long_title), paper(OLD), paper(OTHER)])
        with PoliteClient.for_url(on, on.arxiv_pdf_url) as client:
            for paper_id in (NEW, OLD):
                make_thumbnail(client, on, paper_id)
        index = SearchIndex(on)
        sync_lexical(store, index)
        index.lexical.close()
        store.close()
        pdfs.close()
        running = {name: start_site(s) for name, s in (("on", on), ("off", off))}
        yield {
            name: Site(s.base_url, s, running[name][0]) for name, s in (("on", on), ("off", off))
        }
        for _app, server, thread in running.values():
            server.should_exit = True
            thread.join(timeout=10)


def test_the_route_serves_the_image_and_refuses_other_names(sites: dict[str, Site]) -> None:
    with sites["on"].client() as client:
        answer = client.get(f"/thumbnails/{NEW}.webp")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/webp"
        assert answer.headers["cache-control"] == "public, max-age=86400"
        assert Image.open(io.BytesIO(answer.content)).width == WIDTH
        assert client.get("/thumbnails/hep-th_9901001.webp").status_code == 200
        for bad in (
            "/thumbnails/2611.09999.webp",  # a paper without one
            "/thumbnails/..%2Fsecret_key.webp",
            "/thumbnails/%2e%2e%2fpaperboard.db.webp",
            "/thumbnails/..%2F..%2Fetc%2Fpasswd.webp",
            f"/thumbnails/{NEW}.png",
        ):
            refused = client.get(bad)
            assert refused.status_code == 404, bad
            assert b"SQLite" not in refused.content and b"root:" not in refused.content
        feed = client.get("/").text
        assert f'src="/thumbnails/{NEW}.webp"' in feed
        assert 'loading="lazy"' in feed and 'alt="First page of the paper' in feed
        assert feed.count('class="thumb"') == 2  # the paper without a PDF shows none
        assert f'src="/thumbnails/{NEW}.webp"' in client.get(f"/papers/{NEW}").text
    with sites["off"].client() as client:
        assert client.get(f"/thumbnails/{NEW}.webp").status_code == 404
        assert "/thumbnails/" not in client.get("/").text


LOADED = """() => {
  const images = [...document.querySelectorAll('.thumb img, .paper-thumb img')];
  images.forEach(img => img.scrollIntoView());
  return images.length > 0 && images.every(img => img.complete && img.naturalWidth > 0);
}"""


@needs_program(CHROMIUM, "chromium")
@pytest.mark.parametrize(
    ("width", "options"),
    [
        ("desktop", {"viewport": {"width": 1280, "height": 800}}),
        (
            "phone",
            {
                "viewport": {"width": 390, "height": 844},
                "device_scale_factor": 2,
                "is_mobile": True,
                "has_touch": True,
            },
        ),
    ],
)
def test_cards_show_the_thumbnails_in_chromium(
    browser: Any,
    sites: dict[str, Site],
    width: str,
    options: dict[str, Any],
    screenshot: Callable[..., Path],
) -> None:
    context = browser.new_context(base_url=sites["on"].url, **options)
    context.set_default_timeout(15_000)  # a loaded CI machine can take seconds
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else 0)
    try:
        for address, shown in (("/", 2), (f"/papers/{NEW}", 1)):
            page.goto(address)
            page.wait_for_function(LOADED)
            sizes = page.evaluate(
                "[...document.querySelectorAll('.thumb img, .paper-thumb img')]"
                ".map(img => [img.naturalWidth, img.getBoundingClientRect().width])"
            )
            assert len(sizes) == shown, sizes
            assert all(natural == WIDTH and 40 <= box <= 200 for natural, box in sizes), sizes
            page.evaluate("window.scrollTo(0, 0)")
            scroll, inner = page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert scroll <= inner, f"{address} scrolls sideways at {width}: {scroll} > {inner}"
            name = "feed" if address == "/" else "paper"
            screenshot(page, f"{width}-thumbnails-{name}")
        card_text = page.goto("/") and page.locator("article.card").first.inner_text()
        assert "Thumbnails of papers" in card_text  # the long title still shows beside it
    finally:
        context.close()
    assert not problems, problems
