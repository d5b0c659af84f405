"""``paperboard serve``: run the web site and API under uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from paperboard.core.config import load_settings, remember_served_url
from paperboard.present.cli.common import console


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (about one per core).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the site, the JSON API (/docs) and the RSS feeds.

    Links in feeds and e-mails name the address served unless PAPERBOARD_BASE_URL is set.

    Example: paperboard serve --port 8000 --workers 2
    """
    import uvicorn

    from paperboard.present.container import Container
    from paperboard.present.mail.transport import outbox_path, uses_outbox

    config = load_settings()  # not the address last served: this one is served now
    if "base_url" not in config.model_fields_set:
        # Links in feeds and mail name the address served, not the default port. Through the
        # environment, so that every uvicorn worker process reads the same value.
        os.environ["PAPERBOARD_BASE_URL"] = served_url(host, port)
        config = config.model_copy(update={"base_url": served_url(host, port)})
    # The home checked and the schema up to date (or a bad database reported) before forking.
    Container.open(config).close()
    config.signing_key  # noqa: B018 - made once here, not raced by the workers
    os.environ.setdefault("PAPERBOARD_HOME", str(config.home.resolve()))
    remember_served_url(config, config.base_url)
    console.print(
        f"paperboard is serving {config.home.resolve()} at {served_url(host, port)}/  "
        f"(links name {config.base_url}; Ctrl-C stops)"
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


def served_url(host: str, port: int) -> str:
    """The address a local browser reaches ``host:port`` at (loopback for a wildcard host)."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
