"""The site's links follow where ``paperboard serve`` listens (``--host``, ``--port``), in every
worker process, unless ``PAPERBOARD_BASE_URL`` says otherwise: a real ``paperboard serve`` process
with two workers, its RSS and Atom feeds fetched over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from conftest import ROOT, _free_port

from paperboard.core.config import load_settings, remember_served_url, with_served_url
from paperboard.core.records import PaperRecord
from paperboard.store.papers import PaperStore


def make_home(tmp_path: Path, model_cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOARD_")}
    env["PAPERBOARD_HOME"] = str(tmp_path / "home")
    env["PAPERBOARD_MODELS_DIR"] = str(model_cache)  # the run's built model, not a build per test
    settings = load_settings(home=tmp_path / "home")
    store = PaperStore.open(settings)
    store.write(
        [
            PaperRecord(
                id="2512.00001",
                source="hf",
                title="A paper for the feed",
                abstract="Links in feeds.",
                authors=["A. Author"],
                categories=["cs.LG"],
                published_at=datetime.now(UTC),
            )
        ]
    )
    store.close()
    return env


@contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "paperboard", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise AssertionError(f"serve exited: {process.stdout.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("serve did not answer")
            time.sleep(0.2)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def urls(port: int, fmt: str) -> set[str]:
    """Every address in the feed (RSS ``<link>``, Atom ``href``)."""
    answer = httpx.get(f"http://127.0.0.1:{port}/feeds/trending.xml?format={fmt}", timeout=10)
    assert answer.status_code == 200 and "A paper for the feed" in answer.text
    return set(re.findall(r"(?:<link>|href=\")(https?://[^<\"]+)", answer.text))


def test_feed_links_name_the_port_served(tmp_path: Path, model_cache: Path) -> None:
    env = make_home(tmp_path, model_cache)
    port = _free_port()
    with serving(env, port) as process:
        for _ in range(4):  # two workers: both must have been told
            for fmt in ("rss", "atom"):
                found = urls(port, fmt)
                assert f"http://127.0.0.1:{port}/papers/2512.00001" in found, found
                assert all(u.startswith(f"http://127.0.0.1:{port}/") for u in found), found
    assert process.stdout is not None
    first = process.stdout.read().splitlines()
    assert any(f"links name http://127.0.0.1:{port}" in line for line in first), first
    assert any("mail goes to" in line and "outbox" in line for line in first), first
    # Other commands link to the address served too: a confirmation mailed by the CLI.
    added = subprocess.run(
        [sys.executable, "-m", "paperboard", "subscribers", "add", "ada@example.org"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr
    [mail] = (tmp_path / "home" / "outbox").glob("*.eml")
    assert f"http://127.0.0.1:{port}/subscribe/confirm/" in mail.read_text("utf-8")


def test_a_served_address_is_used_only_while_no_base_url_is_set(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    assert with_served_url(settings) is settings  # nothing served yet
    remember_served_url(settings, "http://127.0.0.1:8765")
    assert with_served_url(settings).base_url == "http://127.0.0.1:8765"
    explicit = load_settings(home=tmp_path, base_url="https://papers.example.org")
    assert with_served_url(explicit).base_url == "https://papers.example.org"
    settings.served_url_file.write_text("not a url\n")
    assert with_served_url(settings).base_url == "http://127.0.0.1:8000"


def test_a_set_base_url_wins_over_the_port(tmp_path: Path, model_cache: Path) -> None:
    env = make_home(tmp_path, model_cache)
    env["PAPERBOARD_BASE_URL"] = "https://papers.example.org"
    port = _free_port()
    with serving(env, port):
        for fmt in ("rss", "atom"):
            found = urls(port, fmt)
            assert "https://papers.example.org/papers/2512.00001" in found, found
            assert not [u for u in found if str(port) in u], found
