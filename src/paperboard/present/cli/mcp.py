"""``paperboard mcp``: the MCP server for agents, on stdin and stdout."""

from __future__ import annotations

from typing import Annotated

import typer


def mcp_command(
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="PAPERBOARD_TOKEN",
            help="A personal API token (for 'for you' and upvoting); or PAPERBOARD_TOKEN.",
            show_envvar=False,
        ),
    ] = None,
) -> None:
    """Serve the papers to agents over MCP (stdio): search, papers, feeds, similar, for you.

    Example: paperboard mcp --token pb_...   (or set PAPERBOARD_TOKEN)
    """
    from paperboard.present.mcp_server import build_server
    from paperboard.present.web.services import Services

    with Services.open() as services:
        build_server(services, token).run("stdio")


def register(app: typer.Typer) -> None:
    app.command("mcp")(mcp_command)
