"""``paperboard user``: create members (admins first of all), change roles, list them."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from paperboard.core.errors import NotFoundError
from paperboard.present.cli.common import console, open_app, print_json

app = typer.Typer(
    help=(
        "Members: create accounts, set roles, list them.\n\n"
        "Example: paperboard user create --admin ada@example.org"
    ),
    no_args_is_help=True,
)


@app.command("create")
def create(
    email: Annotated[str, typer.Argument(help="The member's e-mail address.")],
    name: Annotated[
        str | None, typer.Option(help="Display name (default: the part before @).")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the member an admin.")] = False,
    moderator: Annotated[
        bool, typer.Option("--moderator", help="Make the member a moderator.")
    ] = False,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
) -> None:
    """Create a member. The password is read from stdin (--password-stdin, e.g. printf '%s\n'
    "$PASSWORD" | paperboard user create --password-stdin EMAIL), from PAPERBOARD_NEW_PASSWORD,
    or asked for on the terminal. The address counts as verified: the operator vouches for it.

    Example: paperboard user create --admin ada@example.org
    """
    from paperboard.core.passwords import check_new_password, hash_password

    password = _new_password(password_stdin)
    check_new_password(password)
    role = "admin" if admin else "moderator" if moderator else "member"
    with open_app() as app:
        member = app.members.create(
            email, name or email.split("@")[0], hash_password(password), role=role, verified=True
        )
    console.print(f"created {member['email']} ({role}), id {member['id']}")


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise typer.BadParameter("stdin held no password", param_hint="--password-stdin")
        return password
    from_env = os.environ.get("PAPERBOARD_NEW_PASSWORD")
    if from_env:
        return from_env
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise typer.BadParameter(
            "no terminal to ask for the password: pipe it in with --password-stdin "
            "or set PAPERBOARD_NEW_PASSWORD",
            param_hint="password",
        )
    prompted: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return prompted


@app.command("role")
def role(
    email: Annotated[str, typer.Argument(help="The member's e-mail address.")],
    new_role: Annotated[str, typer.Argument(metavar="ROLE", help="member, moderator or admin.")],
) -> None:
    """Change a member's role.

    Example: paperboard user role bob@example.org moderator
    """
    from paperboard.store.members import ROLES

    if new_role not in ROLES:
        raise typer.BadParameter(f"use one of {', '.join(ROLES)}", param_hint="ROLE")
    with open_app() as app:
        members = app.members
        member = members.by_email(email)
        if member is None:
            raise NotFoundError(f"no member {email}")
        members.set_role(member["id"], new_role)
    console.print(f"{member['email']} is now {new_role}")


@app.command("verify")
def verify(
    email: Annotated[str, typer.Argument(help="The member's e-mail address.")],
) -> None:
    """Mark a member's address as confirmed, for members who cannot get the mailed link (a site
    without mail settings). Only for addresses you know are theirs.

    Example: paperboard user verify bob@example.org
    """
    with open_app() as app:
        member = app.members.by_email(email)
        if member is None or not app.members.verify_email(member["id"], member["email"]):
            raise NotFoundError(f"no member {email}")
    console.print(f"{member['email']} is confirmed")


@app.command("list")
def list_members(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the members.

    Example: paperboard user list --json
    """
    from paperboard.present.serialize import json_ready

    with open_app() as app:
        rows = [
            {k: m[k] for k in ("id", "email", "email_verified_at", "name", "role", "created_at")}
            for m in app.members.list()
        ]
    if json_output:
        print_json(json_ready(rows))
        return
    for row in rows:
        unverified = "" if row["email_verified_at"] else " (address not confirmed)"
        console.print(
            f"{row['id']:>5}  {row['email']}{unverified}  {row['name']}  [dim]{row['role']}[/dim]"
        )
    if not rows:
        console.print("no members yet: paperboard user create --admin EMAIL")
