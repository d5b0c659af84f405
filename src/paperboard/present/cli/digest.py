"""``paperboard subscribers`` and ``paperboard digest``: who gets digests, and sending them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paperboard.core.errors import NotFoundError
from paperboard.present.cli.common import (
    console,
    err_console,
    open_app,
    parse_day,
    print_json,
    settings,
)
from paperboard.store.rows import SubscriberRow

subscribers_app = typer.Typer(
    help="Digest subscribers: add, list, remove (admins).\n\nExample: paperboard subscribers list",
    no_args_is_help=True,
)
digest_app = typer.Typer(
    help=(
        "Digests: send a period's, or preview one reader's.\n\n"
        "Example: paperboard digest send --dry-run"
    ),
    no_args_is_help=True,
)

Frequency = Annotated[str, typer.Option("--frequency", help="daily, weekly or off.")]
Period = Annotated[str, typer.Option("--period", help="daily or weekly.")]


@subscribers_app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="The address.")],
    confirmed: Annotated[
        bool,
        typer.Option(
            "--confirmed", help="Skip the confirmation e-mail (you vouch for the address)."
        ),
    ] = False,
    frequency: Frequency = "daily",
    category: Annotated[
        list[str] | None, typer.Option("--category", help="A category to follow; repeatable.")
    ] = None,
    keyword: Annotated[
        list[str] | None, typer.Option("--keyword", help="A keyword to follow; repeatable.")
    ] = None,
    no_for_you: Annotated[
        bool, typer.Option("--no-for-you", help='Leave out the "for you" picks.')
    ] = False,
) -> None:
    """Add a subscriber (or change one). Without --confirmed, a confirmation e-mail goes out and
    nothing else is sent until the link in it is followed.

    Example:
    paperboard subscribers add ada@example.org --confirmed --frequency weekly --category cs.LG
    """
    from paperboard.present.mail.subscriptions import request_confirmation
    from paperboard.present.mail.transport import outbox_path, uses_outbox
    from paperboard.store.digests import FREQUENCIES

    if frequency not in FREQUENCIES:
        raise typer.BadParameter(f"use one of {', '.join(FREQUENCIES)}", param_hint="--frequency")
    if "@" not in email or len(email) > 320:
        raise typer.BadParameter(f"not an e-mail address: {email[:80]!r}", param_hint="EMAIL")
    with open_app() as app:
        subscriber = app.digests.subscribe(
            email,
            frequency=frequency,
            categories=category or [],
            keywords=keyword or [],
            for_you=not no_for_you,
            confirmed=confirmed,
        )
        if subscriber["confirmed_at"] is None:
            if not request_confirmation(app, subscriber):
                where = "went out less than ten minutes ago"
            elif uses_outbox(app.settings):
                where = f"is in the outbox, {outbox_path(app.settings)}"
            else:
                where = "was sent"
            console.print(f"{subscriber['email']} added; a confirmation e-mail {where}")
        else:
            console.print(f"{subscriber['email']} subscribed ({frequency})")


def _state(row: SubscriberRow) -> str:
    if row["stopped_reason"]:
        return "stopped"
    if row["unsubscribed_at"]:
        return "unsubscribed"
    return "confirmed" if row["confirmed_at"] else "unconfirmed"


@subscribers_app.command("list")
def list_subscribers(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List subscribers with their state.

    Example: paperboard subscribers list --json
    """
    from paperboard.present.serialize import json_ready

    with open_app() as app:
        rows = app.digests.all()
    if json_output:
        print_json(json_ready([{**row, "state": _state(row)} for row in rows]))
        return
    for row in rows:
        follows = ", ".join(row["categories"] + row["keywords"]) or "everything"
        console.print(
            f"{row['id']:>6}  {row['email']}  {row['frequency']:<6} {_state(row):<12} "
            f"[dim]{follows}[/dim]"
        )
    if not rows:
        console.print("no subscribers yet")


@subscribers_app.command("remove")
def remove(email: Annotated[str, typer.Argument(help="The address.")]) -> None:
    """Remove a subscriber and what was recorded about their digests.

    Example: paperboard subscribers remove ada@example.org
    """

    with open_app() as app:
        if not app.digests.remove(email):
            raise NotFoundError(f"{email} is not a subscriber")
    console.print(f"{email} removed")


def _period(kind: str, day: str | None):  # type: ignore[no-untyped-def]
    from paperboard.rank.digest import period_for

    if kind not in ("daily", "weekly"):
        raise typer.BadParameter("use daily or weekly", param_hint="--period")
    return period_for(kind, parse_day(day, "--date"), timezone=settings().timezone)


@digest_app.command("send")
def send(
    period: Period = "daily",
    date: Annotated[
        str | None,
        typer.Option(
            "--date", help="Last day of the period, YYYY-MM-DD (default: the last complete one)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write the messages to a folder instead of sending.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for --dry-run (default: HOME/outbox/PERIOD)."),
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Only this subscriber.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
) -> None:
    """Send the digest of a period to every confirmed subscriber, once each (safe to rerun).

    Example: paperboard digest send --period weekly --dry-run
    """
    from paperboard.present.mail.digests import send_digests

    config = settings()
    chosen = _period(period, date)
    folder = None
    if dry_run:
        folder = out or config.home / "outbox" / chosen.key.replace(":", "-")
    with open_app() as app:
        report = send_digests(app, chosen, dry_run_to=folder, only=to)
    for problem in report.problems:
        err_console.print(f"paperboard: {problem}", markup=False)
    if not quiet:
        console.print(report.summary() + (f" → {folder}" if folder else ""), markup=False)
    if report.failed and not (report.sent or report.resent):
        raise typer.Exit(1)


@digest_app.command("preview")
def preview(
    email: Annotated[str, typer.Argument(help="The subscriber.")],
    period: Period = "daily",
    date: Annotated[
        str | None, typer.Option("--date", help="Last day of the period, YYYY-MM-DD.")
    ] = None,
    html: Annotated[
        bool, typer.Option("--html", help="Print the HTML part instead of the text.")
    ] = False,
) -> None:
    """Show what this subscriber would get now (nothing is sent or recorded).

    Example: paperboard digest preview ada@example.org --period weekly
    """
    from paperboard.present.mail.digests import preview as preview_digest

    chosen = _period(period, date)
    with open_app() as app:
        message = preview_digest(app, email, chosen)
    if message is None:
        console.print(f"nothing to send to {email} for {chosen.key}")
        return
    part = message.get_body(("html",) if html else ("plain",))
    assert part is not None
    console.print(f"Subject: {message['Subject']}", markup=False)
    console.print(part.get_content(), markup=False, highlight=False)


@digest_app.command("runs")
def runs(json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Recent digest runs and their counts (quiet days show as empty).

    Example: paperboard digest runs
    """
    from paperboard.present.serialize import json_ready

    with open_app() as app:
        rows = app.digests.recent_runs()
    if json_output:
        print_json(json_ready(rows))
        return
    for row in rows:
        console.print(
            f"{row['started_at']:%Y-%m-%d %H:%M}  {row['period_key']:<24} {row['status']:<18} "
            f"sent {row['sent']} resent {row['resent']} empty {row['empty']} "
            f"failed {row['failed']} skipped {row['skipped']}",
            markup=False,
        )
    if not rows:
        console.print("no digest runs yet")


def register(app: typer.Typer) -> None:
    app.add_typer(subscribers_app, name="subscribers")
    app.add_typer(digest_app, name="digest")
