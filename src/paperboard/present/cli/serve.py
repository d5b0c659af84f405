"""``paperboard serve``: run the web site and API under uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from paperboard.present.cli.common import console, settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (about one per core).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the site, the JSON API (/docs) and the RSS feeds.

    Example: paperboard serve --port 8000 --workers 2
    """
    import uvicorn

    from paperboard.present.container import Container
    from paperboard.present.mail.transport import outbox_path, uses_outbox

    config = settings()
    # The home checked and the schema up to date (or a bad database reported) before forking.
    Container.open(config).close()
    config.signing_key  # noqa: B018 - made once here, not raced by the workers
    os.environ.setdefault("PAPERBOARD_HOME", str(config.home.resolve()))
    console.print(
        f"paperboard is serving {config.home.resolve()} at http://{host}:{port}/  (Ctrl-C stops)"
    )
    if uses_outbox(config):
        console.print(
            f"no SMTP host set (PAPERBOARD_SMTP_HOST): mail goes to {outbox_path(config)}/, "
            "listed for admins at /admin/outbox"
        )
    uvicorn.run(
        "paperboard.present.web.app:factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=True,
        access_log=False,
        # Named, not left to uvicorn's guess: without uvloop, several workers lose TCP_NODELAY
        # and the cached feed drops from ~33,000 to ~1,400 requests/s (bench/http.py).
        loop="uvloop",
        http="httptools",
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
