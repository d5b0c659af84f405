"""E-mail digests against a real SMTP server (aiosmtpd): subscribing with double opt-in,
what a digest holds, one-click unsubscribe, failures, and one digest per subscriber and period
even when the sending process is killed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Site, SmtpSink
from test_members import mailed_link, page_token, sign_up

from paperboard.core.passwords import hash_password
from paperboard.core.records import PaperRecord
from paperboard.store.digests import DigestStore

DAY = date(2019, 7, 5)
WHEN = datetime(2019, 7, 5, 12, tzinfo=UTC)


def seed_day(store: Any, count: int = 6, day: date = DAY) -> list[str]:
    """Papers on one feed day, with upvotes count..1 (the demo has no day this full)."""
    when = datetime.combine(day, WHEN.timetz())
    records = [
        PaperRecord(
            id=f"{day:%y%m}.{day.day:02d}{n:03d}",
            source="hf",
            title=f"Digest paper number {n}",
            upvotes=count - n + 1,
            abstract=f"We study topic {n} in depth.",
            authors=["A. Author", "B. Author"],
            categories=["cs.LG" if n % 2 else "math.AG"],
            published_at=when,
        )
        for n in range(1, count + 1)
    ]
    store.write(records)
    return [r.id for r in records]


@pytest.fixture
def mail_env(
    monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpSink, env: dict[str, str]
) -> SmtpSink:
    for name, value in {
        "PAPERBOARD_SMTP_HOST": "127.0.0.1",
        "PAPERBOARD_SMTP_PORT": str(smtp_server.port),
        "PAPERBOARD_SMTP_SECURITY": "none",
        "PAPERBOARD_MAIL_RATE": "1000",
        "PAPERBOARD_MAIL_FROM": "Papers <digest@papers.example.org>",
    }.items():
        monkeypatch.setenv(name, value)
    return smtp_server


def with_mail(site: Site, smtp: SmtpSink, **extra: Any) -> None:
    site.services.settings = site.services.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_security": "none",
            "mail_rate": 1000.0,
            "http_backoff": 0.0,
            **extra,
        }
    )


def links(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"<>]+", text)


def test_subscribe_needs_confirmation_then_digest_arrives_and_one_click_unsubscribes(
    site: Site, smtp_server: SmtpSink
) -> None:
    with_mail(site, smtp_server)
    ids = seed_day(site.services.papers)
    with site.client() as client:
        home = client.get("/")
        assert (
            'action="/subscribe"' in home.text
            and "Get trending papers in your email inbox!" in home.text
        )
        answer = client.post(
            "/subscribe", data={"email": "Reader@Example.org"}, headers={"Origin": site.url}
        )
        assert answer.status_code == 200 and "Check your inbox" in answer.text
        forged = client.post(
            "/subscribe",
            data={"email": "victim@example.org"},
            headers={"Origin": "https://evil.example"},
        )
        assert forged.status_code == 403
    assert len(smtp_server.messages) == 1
    confirmation = smtp_server.messages[0]
    assert confirmation["To"] == "reader@example.org"
    from paperboard.present.mail.digests import send_digests
    from paperboard.rank.digest import period_for

    period = period_for("daily", DAY)
    report = send_digests(site.services, period)
    assert report.sent == 0 and len(smtp_server.messages) == 1  # not confirmed: nothing goes out
    link = next(u for u in links(confirmation.get_content()) if "/subscribe/confirm/" in u)
    with site.client() as client:
        shown = client.get(link.removeprefix(site.url))
        assert shown.status_code == 200 and "reader@example.org" in shown.text
        assert client.post(link.removeprefix(site.url)).status_code == 200
        assert client.get("/subscribe/confirm/forged-token").status_code == 400

    report = send_digests(site.services, period)
    assert (report.sent, len(smtp_server.messages)) == (1, 2)
    digest = smtp_server.messages[1]
    assert digest.get_content_type() == "multipart/alternative"
    text, html = digest.get_body(("plain",)).get_content(), digest.get_body(("html",)).get_content()
    assert "Digest paper number 1" in text and "Digest paper number 1" in html
    assert text.index("number 1") < text.index("number 2")  # most upvoted first
    assert (
        "<script" not in html and "style=" in html and "@import" not in html and "<link" not in html
    )
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = digest["List-Unsubscribe"].strip().strip("<>")
    assert re.fullmatch(r"<[^@>]+@[^>]+>", digest["Message-ID"])
    with site.client() as client:
        for url in {u for u in links(html) if "/papers/" in u}:
            assert client.get(url.removeprefix(site.url)).status_code == 200, url
        assert {f"{site.url}/papers/{pid}" for pid in ids} <= set(links(html))
        one_click = client.post(
            unsubscribe.removeprefix(site.url),
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert one_click.status_code == 200, (unsubscribe, one_click.text[:300])
    subscriber = DigestStore(site.services.papers.engine).by_email("reader@example.org")
    assert subscriber["unsubscribed_at"] is not None
    again = send_digests(site.services, period_for("daily", date(2019, 7, 6)))
    assert again.sent == 0 and len(smtp_server.messages) == 2


def test_for_you_picks_follow_upvotes_and_never_repeat(site: Site, smtp_server: SmtpSink) -> None:
    from paperboard.present.mail.digests import send_digests
    from paperboard.rank.digest import period_for

    with_mail(site, smtp_server)
    with site.client() as client:
        sign_up(client)
        client.post(mailed_link(site, smtp_server, "verify"))  # the address is Ada's
        token = page_token(client, "/account")
        client.post("/papers/2505.13308/upvote", data={"csrf_token": token})
        response = client.post(
            "/account/digest", data={"csrf_token": token, "frequency": "daily", "for_you": "true"}
        )
        assert response.status_code == 303
    digests = DigestStore(site.services.papers.engine)
    subscriber = digests.by_email("ada@example.org")
    # Confirmed at once: the verified address needs no second confirmation.
    assert subscriber["member_id"] == 1 and subscriber["confirmed_at"] is not None
    assert len(smtp_server.messages) == 1  # the address check, not a digest
    seen: list[str] = []
    for day in (date(2025, 5, 19), date(2025, 5, 20)):
        report = send_digests(site.services, period_for("daily", day))
        record = digests.send_record(subscriber["id"], f"daily:{day}")
        if report.sent:
            picks = record["picks"]
            assert picks and all(p["reason"].endswith("which you upvoted") for p in picks)
            assert (
                "which you upvoted" in smtp_server.messages[-1].get_body(("plain",)).get_content()
            )
            ids = record["top_ids"] + [p["id"] for p in picks]
            assert not set(ids) & set(seen)
            seen += ids
    assert len(seen) >= 3 and seen[0] == "2505.13308"  # the upvoted paper tops its day, then picks


def test_a_quiet_period_sends_nothing_and_says_so(
    site: Site, smtp_server: SmtpSink, cli: Any, mail_env: SmtpSink
) -> None:
    DigestStore(site.services.papers.engine).subscribe(
        "quiet@example.org", confirmed=True, for_you=False
    )
    result = cli("digest", "send", "--period", "daily", "--date", "1999-01-01")
    assert result.exit_code == 0, result.output
    assert "0 sent, 1 empty" in result.stdout
    assert smtp_server.messages == []
    runs = cli("digest", "runs", "--json").stdout
    assert '"empty": 1' in runs


def test_dry_run_writes_messages_and_records_nothing(
    site: Site, cli: Any, mail_env: SmtpSink, tmp_path: Path
) -> None:
    seed_day(site.services.papers)
    DigestStore(site.services.papers.engine).subscribe("dry@example.org", confirmed=True)
    result = cli(
        "digest", "send", "--date", DAY.isoformat(), "--dry-run", "--out", str(tmp_path / "out")
    )
    assert result.exit_code == 0, result.output
    files = list((tmp_path / "out").glob("*.eml"))
    from email import message_from_bytes
    from email.policy import default

    written = message_from_bytes(files[0].read_bytes(), policy=default)
    assert len(files) == 1 and "Digest paper number 1" in written.get_body(("plain",)).get_content()
    assert mail_env.messages == []
    assert DigestStore(site.services.papers.engine).records(f"daily:{DAY}") == {}
    preview = cli("digest", "preview", "dry@example.org", "--date", DAY.isoformat())
    assert preview.exit_code == 0 and "Digest paper number 1" in preview.stdout


def test_categories_limit_the_top_papers(site: Site, cli: Any, mail_env: SmtpSink) -> None:
    seed_day(site.services.papers)
    assert (
        cli(
            "subscribers",
            "add",
            "cats@example.org",
            "--confirmed",
            "--category",
            "math.AG",
            "--no-for-you",
        ).exit_code
        == 0
    )
    assert cli("digest", "send", "--date", DAY.isoformat()).exit_code == 0
    text = mail_env.messages[0].get_body(("plain",)).get_content()
    assert (
        "number 2" in text
        and "number 4" in text
        and "number 1" not in text
        and "number 3" not in text
    )


def test_subscribers_cli(cli: Any, mail_env: SmtpSink) -> None:
    added = cli("subscribers", "add", "new@example.org", "--frequency", "weekly")
    assert added.exit_code == 0 and "confirmation e-mail was sent" in added.stdout
    assert (
        len(mail_env.messages) == 1 and "/subscribe/confirm/" in mail_env.messages[0].get_content()
    )
    listed = cli("subscribers", "list", "--json").stdout
    assert '"state": "unconfirmed"' in listed and '"frequency": "weekly"' in listed
    assert cli("subscribers", "add", "x@example.org", "--frequency", "hourly").exit_code == 2
    assert cli("subscribers", "remove", "new@example.org").exit_code == 0
    gone = cli("subscribers", "remove", "new@example.org")
    assert gone.exit_code == 1 and "is not a subscriber" in gone.stderr


def test_permanent_failures_stop_mail_and_show_to_admins(site: Site, smtp_server: SmtpSink) -> None:
    from paperboard.present.mail.digests import send_digests
    from paperboard.rank.digest import period_for

    with_mail(site, smtp_server, mail_max_bounces=2)
    seed_day(site.services.papers)
    digests = DigestStore(site.services.papers.engine)
    digests.subscribe("gone@example.org", confirmed=True)
    digests.subscribe("fine@example.org", confirmed=True)
    seed_day(site.services.papers, day=date(2019, 7, 6))
    smtp_server.refuse["gone@example.org"] = "550 5.1.1 no such user"
    for day in (date(2019, 7, 5), date(2019, 7, 6)):
        report = send_digests(site.services, period_for("daily", day))
        assert (report.failed, report.sent) == (1, 1)
    assert digests.by_email("gone@example.org")["stopped_reason"].startswith(
        "recipient refused: 550"
    )
    seed_day(site.services.papers, day=date(2019, 7, 7))
    third = send_digests(site.services, period_for("daily", date(2019, 7, 7)))
    assert (third.failed, third.sent) == (0, 1)  # no more attempts to that address
    with site.client() as client:
        site.services.members.create(
            "root@example.org", "Root", hash_password("correct horse battery"), role="admin"
        )
        token = page_token(client, "/signin")
        client.post(
            "/signin",
            data={
                "csrf_token": token,
                "email": "root@example.org",
                "password": "correct horse battery",
            },
        )
        page = client.get("/admin/mail")
        assert page.status_code == 200 and "gone@example.org" in page.text and "550" in page.text
    with site.client() as member:
        sign_up(member, email="plain@example.org", name="Plain")
        assert member.get("/admin/mail").status_code == 403


def test_transient_failures_are_retried(site: Site, smtp_server: SmtpSink) -> None:
    from paperboard.present.mail.digests import send_digests
    from paperboard.rank.digest import period_for

    with_mail(site, smtp_server, http_retries=2)
    seed_day(site.services.papers)
    DigestStore(site.services.papers.engine).subscribe("slow@example.org", confirmed=True)
    smtp_server.refuse["slow@example.org"] = "451 4.3.0 try again later"
    smtp_server.refuse_times = {"slow@example.org": 1}
    report = send_digests(site.services, period_for("daily", DAY))
    assert report.sent == 1 and len(smtp_server.messages) == 1


def test_a_killed_run_gives_each_subscriber_exactly_one_digest(
    site: Site, slow_smtp: SmtpSink, env: dict[str, str]
) -> None:
    seed_day(site.services.papers)
    digests = DigestStore(site.services.papers.engine)
    count = 12
    for n in range(count):
        digests.subscribe(f"reader{n:02d}@example.org", confirmed=True, for_you=False)
    command = [
        sys.executable,
        "-m",
        "paperboard.present.cli.main",
        "digest",
        "send",
        "--date",
        DAY.isoformat(),
    ]
    run_env = {
        **os.environ,
        **env,
        "PAPERBOARD_SMTP_HOST": "127.0.0.1",
        "PAPERBOARD_SMTP_PORT": str(slow_smtp.port),
        "PAPERBOARD_SMTP_SECURITY": "none",
        "PAPERBOARD_MAIL_RATE": "1000",
        "PAPERBOARD_HOME": str(site.settings.home),
    }
    process = subprocess.Popen(
        command, env=run_env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while len(slow_smtp.messages) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < len(slow_smtp.messages) < count, "the run was not killed midway"
    rerun = subprocess.run(
        command, env=run_env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr
    by_rcpt: dict[str, set[str]] = {}
    all_ids: list[str] = []
    for message in slow_smtp.messages:
        by_rcpt.setdefault(message["To"], set()).add(message["Message-ID"])
        all_ids.append(message["Message-ID"])
    assert sorted(by_rcpt) == [f"reader{n:02d}@example.org" for n in range(count)]
    assert all(len(ids) == 1 for ids in by_rcpt.values())  # one distinct digest each
    assert len(all_ids) - len(set(all_ids)) <= 1  # at most the in-doubt message repeated
    assert all(r["status"] == "sent" for r in digests.records(f"daily:{DAY}").values())


def test_sending_is_paced_at_the_configured_rate(site: Site, smtp_server: SmtpSink) -> None:
    from paperboard.present.mail.digests import send_digests
    from paperboard.rank.digest import period_for

    # One message per 5 s. The pauses are recorded, not slept, so the interval can be long
    # enough that composing and sending a message never use it up, even on a loaded machine.
    with_mail(site, smtp_server, mail_rate=0.2)
    seed_day(site.services.papers)
    digests = DigestStore(site.services.papers.engine)
    for n in range(3):
        digests.subscribe(f"paced{n}@example.org", confirmed=True, for_you=False)
    pauses: list[float] = []
    report = send_digests(site.services, period_for("daily", DAY), sleep=pauses.append)
    assert report.sent == 3
    # 5 s from one message's start to the next: the pause is what sending left of it, so it
    # shrinks on a loaded machine but never exceeds the interval.
    assert len(pauses) == 2 and all(2.5 < p <= 5.0 for p in pauses)


def test_without_embeddings_a_digest_has_no_picks_and_loads_no_model(
    settings: Any, store: Any
) -> None:
    from paperboard.present.container import Container
    from paperboard.present.mail.digests import Composer
    from paperboard.rank.digest import period_for

    seed_day(store)
    digests = DigestStore(store.engine)
    digests.subscribe("a@example.org", confirmed=True, keywords=["topic"])
    composer = Composer(Container(settings, store))
    content = composer.content(digests.due("daily")[0], period_for("daily", DAY))
    assert len(content.top) == 6 and not content.picks
    assert "embedder" not in composer.index.__dict__  # no vectors on disk: nothing to load


def test_digests_composed_in_several_processes_are_the_same(site: Site) -> None:
    from paperboard.present.mail.digests import prepare_all
    from paperboard.rank.digest import period_for

    seed_day(site.services.papers)
    digests = DigestStore(site.services.papers.engine)
    digests.subscribe("a@example.org", confirmed=True, keywords=["latent space"])
    digests.subscribe("b@example.org", confirmed=True, categories=["math.AG"])
    digests.subscribe("c@example.org", confirmed=True, for_you=False)
    subscribers = digests.due("daily")
    period = period_for("daily", DAY)
    one = list(prepare_all(site.services, period, subscribers, processes=1))
    two = list(prepare_all(site.services, period, subscribers, processes=2))
    assert [p.subscriber_id for p in two] == [s["id"] for s in subscribers]
    assert [(p.top_ids, p.picks) for p in one] == [(p.top_ids, p.picks) for p in two]
    assert one[0].picks and one[1].top_ids != one[2].top_ids
    from email import message_from_bytes
    from email.policy import default

    bodies = [
        [message_from_bytes(m.data, policy=default).get_body(("plain",)).get_content() for m in run]
        for run in (one, two)
    ]
    assert bodies[0] == bodies[1]


def test_a_saved_search_is_a_section_of_the_digest_and_never_repeats(
    site: Site, smtp_server: SmtpSink
) -> None:
    from paperboard.present.mail.digests import send_digests
    from paperboard.rank.digest import period_for

    with_mail(site, smtp_server)
    with site.client() as client:
        sign_up(client)
        client.post(mailed_link(site, smtp_server, "verify"))
        token = page_token(client, "/account")
        client.post(
            "/account/digest", data={"csrf_token": token, "frequency": "daily", "for_you": "true"}
        )
    from paperboard.core.records import PaperRecord
    from paperboard.index.indexer import sync_lexical

    store = site.services.papers
    day = date(2030, 1, 7)
    at = datetime(2030, 1, 7, 9, tzinfo=UTC)
    popular = [
        PaperRecord(
            id=f"3001.{n:05d}", source="arxiv", title=f"Widget {n}", upvotes=5, published_at=at
        )
        for n in range(1, 13)
    ]  # twelve upvoted papers fill the day's top ten
    quiet = PaperRecord(
        id="3001.00099", source="arxiv", title="Zebra finch song", upvotes=0, published_at=at
    )
    store.write([*popular, quiet])
    sync_lexical(store, site.services.search_index())
    paper = store.get("3001.00099")
    assert paper is not None and paper["feed_date"] == day
    site.services.interests.save_search(1, "My topic", "zebra finch")
    report = send_digests(site.services, period_for("daily", day))
    assert report.sent == 1
    text = smtp_server.messages[-1].get_body(("plain",)).get_content()
    section = text.split("YOUR SAVED SEARCH “My topic”", 1)
    assert len(section) == 2 and paper["title"] in section[1]
    html = smtp_server.messages[-1].get_body(("html",)).get_content()
    assert "Your saved search “My topic”" in html
    record = DigestStore(site.services.papers.engine).send_record(1, f"daily:{day}")
    sections = [p for p in record["picks"] if p.get("section") == "My topic"]
    assert sections and all(p["reason"] == "matches your saved search “My topic”" for p in sections)
    again = send_digests(site.services, period_for("daily", day + timedelta(days=1)))
    if again.sent:
        later = DigestStore(site.services.papers.engine).send_record(
            1, f"daily:{day + timedelta(days=1)}"
        )
        shown = record["top_ids"] + [p["id"] for p in record["picks"]]
        assert not set(shown) & set(later["top_ids"] + [p["id"] for p in later["picks"]])


def test_the_fast_digest_bytes_are_the_same_message_as_email_messages(
    settings: Any, store: Any
) -> None:
    from email import message_from_bytes
    from email.policy import SMTP, default

    from paperboard.present.container import Container
    from paperboard.present.mail.digests import Composer
    from paperboard.present.mail.messages import digest_bytes, digest_message
    from paperboard.rank.digest import period_for

    seed_day(store)
    digests = DigestStore(store.engine)
    digests.subscribe("a@example.org", confirmed=True)
    subscriber = digests.due("daily")[0]
    period = period_for("daily", DAY)
    content = Composer(Container(settings, store)).content(subscriber, period)
    for sender in (
        "Papers <digest@papers.example.org>",
        "Läbor Papers <digest@papers.example.org>",
    ):
        configured = settings.model_copy(update={"mail_from": sender})
        fast = digest_bytes(configured, subscriber, period, content, msgid="<m@x>")
        slow = digest_message(configured, subscriber, period, content, msgid="<m@x>")
        assert fast.isascii() and b"\r\n" in fast and b"\n" not in fast.replace(b"\r\n", b"")
        one = message_from_bytes(fast, policy=default)
        two = message_from_bytes(slow.as_bytes(policy=SMTP), policy=default)
        assert one.get_content_type() == two.get_content_type() == "multipart/alternative"
        for name in two:
            if name not in ("Date", "Content-Type"):
                assert " ".join(str(one[name]).split()) == " ".join(str(two[name]).split()), name
        assert one["From"].addresses[0].display_name == sender.split(" <")[0]
        for kind in ("plain", "html"):
            body = one.get_body((kind,))
            assert body is not None and body["Content-Transfer-Encoding"] == "base64"
            assert body.get_content() == two.get_body((kind,)).get_content()
        assert "Digest paper number 1" in one.get_body(("plain",)).get_content()


def test_digests_composed_in_batches_keep_their_order_and_mailed_papers(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperboard.present.mail import digests as sending
    from paperboard.rank.digest import period_for

    ids = seed_day(site.services.papers)
    store = DigestStore(site.services.papers.engine)
    for n in range(5):
        store.subscribe(f"r{n}@example.org", confirmed=True, for_you=False)
    subscribers = store.due("daily")
    mailed = subscribers[3]["id"]
    assert store.record_intent(mailed, "earlier", "<old@x>", ids[:2], []) is not None
    monkeypatch.setattr(sending, "BATCH", 2)  # 5 subscribers: batches of 2, 2 and 1
    period = period_for("daily", DAY)
    for processes in (1, 2):
        prepared = list(
            sending.prepare_all(site.services, period, subscribers, processes=processes)
        )
        assert [p.subscriber_id for p in prepared] == [s["id"] for s in subscribers]
        for p in prepared:
            assert (set(ids[:2]) & set(p.top_ids)) == (
                set() if p.subscriber_id == mailed else set(ids[:2])
            )
