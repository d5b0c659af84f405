"""The docs stay true: every command and every setting is documented, the README's quickstart is
the two scripts, and CI runs the README's test command."""

import re
from pathlib import Path

import typer.main

from paperboard.core.config import Settings
from paperboard.present.cli.main import app

ROOT = Path(__file__).resolve().parent.parent


def command_paths() -> list[str]:
    paths, stack = [], [((), typer.main.get_command(app))]
    while stack:
        path, command = stack.pop()
        children = getattr(command, "commands", None)
        if children:
            stack.extend(((*path, name), child) for name, child in children.items())
        else:
            paths.append(" ".join(path))
    return sorted(paths)


def test_every_command_is_in_the_cli_doc() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text()
    missing = [p for p in command_paths() if f"## paperboard {p}\n" not in doc]
    assert missing == []


def test_every_setting_is_in_the_configuration_doc() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    missing = [n for n in Settings.model_fields if f"`PAPERBOARD_{n.upper()}`" not in doc]
    assert missing == []


def test_quickstart_is_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart\s+```sh\n(.*?)```", readme, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["./scripts/run", "./scripts/test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec ./scripts/test\n" in ci


def test_docs_links_resolve() -> None:
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
