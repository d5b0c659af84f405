"""``paperboard profile export|import`` and ``paperboard library import``: a member's interests
in and out of this site, as on their page ``/account/library``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from paperboard.core.errors import NotFoundError, PaperboardError
from paperboard.present.cli.common import console, err_console, open_app, print_json
from paperboard.present.container import Container
from paperboard.store.rows import MemberRow

profile_app = typer.Typer(
    help=(
        "A member's whole profile (upvotes, signals, settings, collections, follows, saved "
        "searches) as JSON, out of this site and into this or another one.\n\n"
        "Example: paperboard profile export ada@example.org -o ada.json"
    ),
    no_args_is_help=True,
)
library_app = typer.Typer(
    help=(
        "A reader's library (BibTeX, CSL JSON, RIS, ORCID works, id lists) into a member's "
        "interests.\n\nExample: paperboard library import ada@example.org zotero.bib"
    ),
    no_args_is_help=True,
)

Email = Annotated[str, typer.Argument(help="The member's e-mail address.")]
InFile = Annotated[
    Path,
    typer.Argument(exists=True, dir_okay=False, readable=True, help="The file to import."),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


def _read(file: Path) -> bytes:
    from paperboard.sources.references import MAX_BYTES

    size = file.stat().st_size
    if size > MAX_BYTES:
        raise PaperboardError(
            f"{file} has {size:,} bytes; at most {MAX_BYTES:,} can be imported at once"
        )
    return file.read_bytes()


def _member(app: Container, email: str) -> MemberRow:
    found = app.members.by_email(email)
    if found is None:
        raise NotFoundError(f"no member {email}")
    return found


@profile_app.command("export")
def export(
    email: Email,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write here instead of stdout."),
    ] = None,
) -> None:
    """Write the member's profile as JSON (what their account page downloads).

    Example: paperboard profile export ada@example.org -o ada.json
    """
    from paperboard.present.profile import export_profile

    with open_app() as app:
        document = export_profile(app, _member(app, email)["id"])
    body = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    if output is None:
        sys.stdout.write(body.decode())
        return
    output.write_bytes(body)
    err_console.print(f"wrote {email}'s profile to {output}", markup=False)


@profile_app.command("import")
def import_(email: Email, file: InFile, json_output: JsonOutput = False) -> None:
    """Merge a profile (from this site or another) into the member's account; importing it
    again changes nothing. Papers this site does not have are reported and left out.

    Example: paperboard profile import ada@example.org ada.json
    """
    from paperboard.present.profile import import_profile

    with open_app() as app:
        report = import_profile(app, _member(app, email)["id"], _read(file))
    if json_output:
        print_json(report.as_dict())
        return
    console.print(report.summary(), markup=False)
    if report.unknown_papers:
        shown = ", ".join(report.unknown_papers[:20])
        more = len(report.unknown_papers) - 20
        err_console.print(
            f"unknown here: {shown}" + (f" and {more:,} more" if more > 0 else ""), markup=False
        )
    for problem in report.problems:
        err_console.print(f"left out: {problem}", markup=False)


@library_app.command("import")
def import_library(
    email: Email,
    file: InFile,
    as_: Annotated[
        str,
        typer.Option(
            "--as",
            help="upvote (the default), more ('more like this'), or the name of a collection "
            "(made if need be).",
        ),
    ] = "upvote",
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="bibtex, csl-json, ris, orcid or ids (default: detected)."),
    ] = None,
    json_output: JsonOutput = False,
) -> None:
    """Match a reference file's entries with the papers here (arXiv id, then DOI, then exact
    title) and make them the member's upvotes, "more like this" signals or a collection's papers.

    Example: paperboard library import ada@example.org zotero.bib --as "Thesis"
    """
    from paperboard.present.profile import import_library as run

    with open_app() as app:
        report = run(app, _member(app, email)["id"], _read(file), file.name, fmt=fmt, as_=as_)
    if json_output:
        print_json(report.as_dict())
        return
    console.print(report.summary(), markup=False)
    for reference in report.unmatched:
        what = reference.arxiv_id or reference.doi or reference.title or "?"
        where = f"line {reference.line}: " if reference.line is not None else ""
        err_console.print(f"not found: {where}{what}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(profile_app, name="profile")
    app.add_typer(library_app, name="library")
