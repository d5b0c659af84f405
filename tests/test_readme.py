"""The README's promises on the shipped demo: every command of its demo block runs as written
(through a shell, the way a reader pastes it) against a home loaded by ``paperboard demo`` and
``paperboard index``, and the site that ``./scripts/run`` serves from it looks full."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, _free_port, start_site

MARKER = "<!-- readme-demo-commands:"
BIN = Path(sys.executable).parent


def demo_block() -> list[str]:
    """The lines of the ``sh`` block right after the README's demo marker."""
    text = (ROOT / "README.md").read_text("utf-8")
    after = text[text.index(MARKER) :]
    block = re.search(r"```sh\n(.*?)```", after, re.S)
    assert block is not None, "no sh block after the demo marker"
    return [line for line in block.group(1).splitlines() if line.strip()]


def without_comment(line: str) -> str:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return " ".join(shlex.quote(t) if t not in {"|", "&&"} else t for t in lexer)


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> dict[str, str]:
    """A home holding the whole demo, indexed, as ``./scripts/run`` leaves it."""
    home = tmp_path_factory.mktemp("readme-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOARD_")}
    env.update(
        PAPERBOARD_HOME=str(home),
        PAPERBOARD_MODELS_DIR=str(model_cache),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    for step in (["demo", "--quiet"], ["index", "--quiet"], ["map"]):
        done = subprocess.run(
            [str(BIN / "paperboard"), *step], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    return env


def run(line: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {line}"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_readme_has_a_demo_block_of_real_commands() -> None:
    lines = demo_block()
    assert lines[0] == ". .venv/bin/activate"
    commands = [without_comment(line) for line in lines[1:]]
    assert len(commands) >= 8
    assert all("paperboard " in command for command in commands)


def test_every_readme_demo_command_works_on_the_demo(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    outputs = {}
    for line in demo_block()[1:]:
        done = run(line, demo_env, tmp_path)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        assert done.stdout.strip(), f"{line} printed nothing"
        assert "error" not in done.stderr.lower(), f"{line}\n{done.stderr}"
        outputs[without_comment(line)] = done.stdout
    shown = next(out for cmd, out in outputs.items() if cmd.startswith("paperboard show"))
    assert "ClinDEF" in shown and "cs.CL" in shown
    similar = next(out for cmd, out in outputs.items() if cmd.startswith("paperboard similar"))
    assert len(re.findall(r"^\s*\d+\. ", similar, re.M)) >= 5
    assert "2512.23440" not in similar  # not the paper itself
    by_method = outputs["paperboard similar 2512.23440 --facet method"]
    assert len(re.findall(r"^\s*\d+\. .*, method \d\.\d\d\)", by_method, re.M)) >= 5
    assert (tmp_path / "map.svg").stat().st_size > 10_000


@pytest.fixture(scope="module")
def demo_site(demo_env: dict[str, str]) -> Iterator[str]:
    from paperboard.core.config import load_settings

    base_url = f"http://127.0.0.1:{_free_port()}"
    saved = dict(os.environ)
    os.environ.update(
        {k: v for k, v in demo_env.items() if k.startswith("PAPERBOARD_")},
        PAPERBOARD_BASE_URL=base_url,
    )
    try:
        settings = load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    _app, server, thread = start_site(settings)
    yield base_url
    server.should_exit = True
    thread.join(timeout=10)


def test_the_demo_site_looks_full(demo_site: str) -> None:
    with httpx.Client(base_url=demo_site, timeout=30) as client:
        home = client.get("/.json").json()
        cards = home["papers"]
        assert len(cards) >= 20
        named = [c for c in cards if c["authors"] and c["categories"]]
        assert len(named) >= 20
        assert sum(1 for c in cards if c["upvotes"]) >= 10  # the demo activity ranks them
        for path in ("/papers/week/2025-W51.json", "/papers/month/2025-12.json"):
            assert len(client.get(path).json()["papers"]) >= 20, path
        trending = client.get("/papers/trending.json").json()["papers"]
        assert len(trending) >= 20
        found = client.get("/papers.json", params={"q": "gaussian splatting"}).json()
        assert len(found["papers"]) >= 10
        paper = client.get("/papers/2512.23440.json").json()
        assert len(paper["similar"]) >= 5
        about = client.get("/about")
        assert "The activity here is made up" in about.text
        assert "dw-dengwei/daily-arXiv-ai-enhanced" in about.text
        map_page = client.get("/map")
        assert map_page.status_code == 200 and len(map_page.text) > 100_000
