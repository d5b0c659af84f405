"""``paperboard webhooks send``: post saved searches' new papers to their webhooks, once."""

from __future__ import annotations

from typing import Annotated

import typer

from paperboard.present.cli.common import console, err_console, open_app

webhooks_app = typer.Typer(
    help=(
        "Saved searches' webhooks: queue their new papers and post them.\n\n"
        "Example: paperboard webhooks send --dry-run"
    ),
    no_args_is_help=True,
)


@webhooks_app.command("send")
def send(
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Count what would be queued and sent; record nothing."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
) -> None:
    """Check every saved search that has a webhook for papers first stored since it last looked,
    queue them (once each), and post every delivery that is due. Failed posts are retried on
    later runs with back-off; exit status 1 when one failed for good in this run.

    Example: paperboard webhooks send
    """
    from paperboard.present.webhooks import run_webhooks

    with open_app() as app:
        run = run_webhooks(app, dry_run=dry_run)
    for problem in run.check.problems + run.send.problems:
        err_console.print(f"paperboard: {problem}", markup=False)
    if not quiet:
        console.print(run.summary(dry_run), markup=False)
    if run.send.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(webhooks_app, name="webhooks")
