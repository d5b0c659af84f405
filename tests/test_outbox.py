"""Mail without an SMTP server: every message goes to HOME/outbox/ as one .eml file, and the
whole subscribe → confirm → digest → unsubscribe path works from there over real HTTP."""

from __future__ import annotations

import re
import stat
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from conftest import Site
from test_digests import DAY, seed_day
from test_members import page_token, sign_in, sign_up, wait_for

from paperboard.core.passwords import hash_password

NAME = re.compile(r"\d{8}T\d{12}Z-[0-9a-f]{8}\.eml")


def outbox_files(site_or_home: Site | Path) -> list[Path]:
    home = site_or_home.settings.home if isinstance(site_or_home, Site) else site_or_home
    folder = home / "outbox"
    # Only whole messages: a temporary file of a write in progress must not count as mail.
    return (
        sorted(p for p in folder.glob("*.eml") if NAME.fullmatch(p.name)) if folder.is_dir() else []
    )


def parsed(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def link_in(path: Path, marker: str) -> str:
    found = [u for u in re.findall(r"https?://\S+", text_of(parsed(path))) if marker in u]
    assert len(found) == 1, f"no single {marker} link in {path.name}"
    return found[0]


def sign_in_admin(site: Site, client: Any) -> None:
    site.services.members.create(
        "root@example.org", "Root", hash_password("correct horse battery"), role="admin"
    )
    assert sign_in(client, "root@example.org", "correct horse battery").status_code == 303


def test_subscribe_confirm_digest_and_unsubscribe_with_no_smtp_server(site: Site, cli: Any) -> None:
    assert site.settings.smtp_host is None
    seed_day(site.services.papers)
    with site.client() as client:
        answer = client.post("/subscribe", data={"email": "Reader@Example.org"})
        assert answer.status_code == 200 and "Check your inbox" in answer.text
    [confirmation] = outbox_files(site)
    assert NAME.fullmatch(confirmation.name)
    assert stat.S_IMODE(confirmation.stat().st_mode) == 0o600  # it holds a signed link
    assert parsed(confirmation)["To"] == "reader@example.org"
    link = link_in(confirmation, "/subscribe/confirm/")
    assert link.startswith(site.url + "/")
    with site.client() as client:
        shown = client.get(link)
        assert shown.status_code == 200 and "reader@example.org" in shown.text
        assert "Subscribed" in client.post(link).text
    assert site.services.digests.by_email("reader@example.org")["confirmed_at"] is not None

    result = cli("digest", "send", "--date", DAY.isoformat())
    assert result.exit_code == 0, result.output
    assert "1 sent" in result.stdout
    files = outbox_files(site)
    assert len(files) == 2 and files[0] == confirmation  # names sort in the order mail went out
    digest = parsed(files[1])
    assert digest["To"] == "reader@example.org" and "Digest paper number 1" in text_of(digest)
    unsubscribe = str(digest["List-Unsubscribe"]).strip().strip("<>")
    assert unsubscribe.startswith(site.url + "/unsubscribe/")
    with site.client() as client:
        assert "reader@example.org" in client.get(unsubscribe).text
        one_click = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 200 and "Unsubscribed" in one_click.text
    assert site.services.digests.by_email("reader@example.org")["unsubscribed_at"] is not None
    assert not [p for p in (site.settings.home / "outbox").iterdir() if p.name.startswith(".")]


def test_sign_up_and_reset_links_go_to_the_outbox(site: Site) -> None:
    with site.client() as client:
        assert sign_up(client).status_code == 303
    wait_for(lambda: outbox_files(site))  # mailed after the answer
    [verify] = outbox_files(site)
    assert parsed(verify)["To"] == "ada@example.org"
    assert link_in(verify, "/verify/").startswith(site.url + "/verify/")
    with site.client() as client:
        token = page_token(client, "/reset")
        answer = client.post("/reset", data={"csrf_token": token, "email": "ada@example.org"})
        assert answer.status_code == 200 and "Check your inbox" in answer.text
    wait_for(lambda: len(outbox_files(site)) == 2)
    files = outbox_files(site)
    reset = link_in(files[1], "/reset/")
    with site.client() as client:
        assert client.get(reset).status_code == 200


def test_the_cli_subscribes_through_the_outbox(cli: Any, home: Path) -> None:
    result = cli("subscribers", "add", "ada@example.org")
    assert result.exit_code == 0, result.output
    assert "a confirmation e-mail is in the outbox" in result.stdout
    [message] = outbox_files(home)
    assert parsed(message)["To"] == "ada@example.org"
    assert "/subscribe/confirm/" in text_of(parsed(message))
    again = cli("subscribers", "add", "ada@example.org")
    assert again.exit_code == 0 and "went out less than ten minutes ago" in again.stdout
    assert len(outbox_files(home)) == 1


def test_broken_smtp_settings_still_stop_with_one_line(cli: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("PAPERBOARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PAPERBOARD_SMTP_USER", "ada")
    result = cli("subscribers", "add", "ada@example.org")
    assert result.exit_code == 2 and "PAPERBOARD_SMTP_PASSWORD" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_outbox_page_lists_newest_first_for_admins_only(site: Site) -> None:
    from paperboard.present.mail.transport import open_transport

    with open_transport(site.settings) as transport:
        for n in range(3):
            message = EmailMessage()
            message["To"] = f"reader{n}@example.org"
            message["Subject"] = f"Message <{n}>"
            message.set_content(f"Follow {site.url}/subscribe/confirm/token{n} to go on.\n")
            transport.send(message)
    with site.client() as stranger:
        assert stranger.get("/admin/outbox", follow_redirects=False).status_code == 303
    with site.client() as member:
        sign_up(member, email="plain@example.org", name="Plain")
        wait_for(lambda: len(outbox_files(site)) == 4)  # its address check, after the answer
        assert member.get("/admin/outbox").status_code == 403
        assert member.get("/admin/outbox.json").status_code == 403
    with site.client() as admin:
        sign_in_admin(site, admin)
        twin = admin.get("/admin/outbox.json").json()
        # the sign-up mail of "Plain" came last
        tos = [m["to"] for m in twin["messages"]]
        assert tos == [
            "plain@example.org",
            "reader2@example.org",
            "reader1@example.org",
            "reader0@example.org",
        ]
        assert twin["total"] == 4 and twin["in_use"] is True
        assert twin["folder"] == str((site.settings.home / "outbox").resolve())
        page = admin.get("/admin/outbox")
        assert page.status_code == 200
        assert page.text.index("reader2@example.org") < page.text.index("reader0@example.org")
        assert "Message &lt;1&gt;" in page.text  # escaped
        first = twin["messages"][3]["id"]
        assert f'href="/admin/outbox/{first}"' in page.text
        shown = admin.get(f"/admin/outbox/{first}")
        assert shown.status_code == 200
        assert f'<a href="{site.url}/subscribe/confirm/token0"' in shown.text
        one = admin.get(f"/admin/outbox/{first}.json").json()
        assert one["to"] == "reader0@example.org" and one["subject"] == "Message <0>"
        assert one["links"] == [f"{site.url}/subscribe/confirm/token0"]
        assert admin.get("/admin/outbox/20260101T000000000000Z-00000000").status_code == 404
        assert admin.get("/admin/outbox/..%2Fsecret_key").status_code == 404


def test_a_message_is_written_whole_or_not_at_all(settings: Any) -> None:
    from paperboard.present.mail.outbox import Outbox
    from paperboard.present.mail.smtp import MailError

    outbox = Outbox(settings)
    path = outbox.send_bytes("ada@example.org", b"To: ada@example.org\r\n\r\nhello\r\n")
    assert path.read_bytes().endswith(b"hello\r\n") and NAME.fullmatch(path.name)
    assert [p.name for p in outbox.folder.iterdir()] == [path.name]  # no temporary file left
    path.unlink()
    outbox.folder.rmdir()
    outbox.folder.write_text("not a folder")  # so no message can be written there
    try:
        outbox.send_bytes("ada@example.org", b"To: ada@example.org\r\n\r\nagain\r\n")
    except MailError as error:
        assert "cannot write to the outbox" in str(error)
    else:
        raise AssertionError("a message that could not be written was taken as sent")
    assert outbox.folder.read_text() == "not a folder"
