"""One layer order: ``core → sources → store → index → rank → present`` (docs/architecture.md).

A module may import only from its own layer and the layers to its left. Every module under
``src/paperboard`` is parsed (never imported), and every import in it counts: at module level,
inside functions, under ``if TYPE_CHECKING``, ``from paperboard import x`` and relative imports.
``paperboard/__init__.py`` belongs to core and ``paperboard/__main__.py`` to present. Imports by
name at run time (``importlib.import_module("...")``) are not seen; the package makes none."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = "paperboard"
LAYERS = ("core", "sources", "store", "index", "rank", "present")


def module_name(path: Path, src: Path = SRC) -> str:
    """``src/paperboard/index/maps.py`` → ``paperboard.index.maps``; a package's
    ``__init__.py`` → the package."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    """The layer of a ``paperboard`` module; None for one outside every layer."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return "core"
    if parts[1] == "__main__":
        return "present"
    return parts[1] if parts[1] in LAYERS else None


def imported_modules(
    tree: ast.AST, module: str, *, is_package: bool = False
) -> Iterator[tuple[int, str]]:
    """(line, module) for every ``paperboard`` module this tree imports, anywhere in it."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from ..index import maps
                parts = package.split(".")
                if node.level > len(parts):
                    continue  # beyond the top of the package: Python refuses it too
                base = ".".join(parts[: len(parts) - node.level + 1])
                if node.module:
                    base = f"{base}.{node.module}"
            else:
                base = node.module or ""
            if base.split(".")[0] != PACKAGE:
                continue
            if base == PACKAGE:
                # from paperboard import rank: the subpackage; import __version__: the package
                for alias in node.names:
                    name = alias.name
                    below = name in LAYERS or name == "__main__"
                    yield node.lineno, f"{PACKAGE}.{name}" if below else PACKAGE
            else:
                yield node.lineno, base


def check_source(source: str, path: str, module: str, *, is_package: bool = False) -> list[str]:
    """The layer violations of one module's source: ``path:line: <layer> imports <module>
    (<layer>)``."""
    own = layer_of(module)
    if own is None:
        return [f"{path}:1: {module} is in no layer (expected one of {', '.join(LAYERS)})"]
    found = []
    tree = ast.parse(source, filename=path)
    for line, target in sorted(imported_modules(tree, module, is_package=is_package)):
        theirs = layer_of(target)
        if theirs is None:
            found.append(f"{path}:{line}: {own} imports {target} (no layer)")
        elif LAYERS.index(theirs) > LAYERS.index(own):
            found.append(f"{path}:{line}: {own} imports {target} ({theirs})")
    return found


def check_tree(src: Path = SRC) -> list[str]:
    """The layer violations of every module of the package under ``src``."""
    found = []
    for path in sorted((src / PACKAGE).rglob("*.py")):
        found += check_source(
            path.read_text(encoding="utf-8"),
            str(path.relative_to(src.parent)),
            module_name(path, src),
            is_package=path.name == "__init__.py",
        )
    return found


def test_every_module_imports_only_from_its_layer_and_those_left_of_it() -> None:
    modules = list((SRC / PACKAGE).rglob("*.py"))
    assert len(modules) > 50  # the walk found the package
    violations = check_tree()
    assert not violations, "layer violations:\n" + "\n".join(violations)


# -- the checker itself ---------------------------------------------------------------------------

BAD = """\
import paperboard.present.web
from paperboard.core.errors import NotFoundError
from paperboard.store import papers
from paperboard import rank, __version__


def draw():
    from paperboard.present.map_svg import render_svg
    from ..rank.search import search
    from . import vectors
    from .. import present
    return render_svg, search, vectors, present
"""


def test_the_checker_finds_every_kind_of_upward_import() -> None:
    found = check_source(BAD, "src/paperboard/index/fake.py", "paperboard.index.fake")
    assert found == [
        "src/paperboard/index/fake.py:1: index imports paperboard.present.web (present)",
        "src/paperboard/index/fake.py:4: index imports paperboard.rank (rank)",
        "src/paperboard/index/fake.py:8: index imports paperboard.present.map_svg (present)",
        "src/paperboard/index/fake.py:9: index imports paperboard.rank.search (rank)",
        "src/paperboard/index/fake.py:11: index imports paperboard.present (present)",
    ]


def test_the_checker_resolves_relative_imports_from_a_package() -> None:
    source = "from . import maps\nfrom ..rank import search\nfrom .web import app\n"
    found = check_source(
        source, "src/paperboard/index/__init__.py", "paperboard.index", is_package=True
    )
    assert found == ["src/paperboard/index/__init__.py:2: index imports paperboard.rank (rank)"]


def test_the_checker_allows_imports_from_the_left_and_the_package_itself() -> None:
    source = "from paperboard import __version__\nfrom paperboard.core.ids import canonical\n"
    assert check_source(source, "src/paperboard/__main__.py", "paperboard.__main__") == []
    assert check_source(source, "src/paperboard/core/config.py", "paperboard.core.config") == []
    up = "from paperboard.__main__ import run\n"
    assert check_source(up, "src/paperboard/__init__.py", "paperboard", is_package=True) == [
        "src/paperboard/__init__.py:1: core imports paperboard.__main__ (present)"
    ]


def test_the_checker_walks_a_tree_of_files(tmp_path: Path) -> None:
    package = tmp_path / "src" / PACKAGE
    for folder in ("core", "store"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text('"""A layer."""\n')
    (package / "__init__.py").write_text("")
    (package / "core" / "bad.py").write_text(
        "def load():\n    from paperboard.store.papers import PaperStore\n\n    return PaperStore\n"
    )
    (package / "store" / "good.py").write_text("from paperboard.core import bad\n")
    (package / "extra.py").write_text("")
    assert check_tree(tmp_path / "src") == [
        "src/paperboard/core/bad.py:2: core imports paperboard.store.papers (store)",
        "src/paperboard/extra.py:1: paperboard.extra is in no layer (expected one of "
        "core, sources, store, index, rank, present)",
    ]
