"""Members over real HTTP: sign up, in and out, sessions, password change and reset by e-mail
(through a real SMTP server), API tokens, export and deletion, roles from the CLI."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from conftest import Site

from paperboard.present.container import Container

PASSWORD = "correct horse battery"


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_up(
    client: httpx.Client,
    email: str = "ada@example.org",
    name: str = "Ada",
    password: str = PASSWORD,
) -> httpx.Response:
    token = form_token(client.get("/signup").text)
    return client.post(
        "/signup", data={"csrf_token": token, "email": email, "name": name, "password": password}
    )


def sign_in(
    client: httpx.Client, email: str = "ada@example.org", password: str = PASSWORD
) -> httpx.Response:
    token = form_token(client.get("/signin").text)
    return client.post("/signin", data={"csrf_token": token, "email": email, "password": password})


def page_token(client: httpx.Client, path: str = "/account") -> str:
    return form_token(client.get(path).text)


def test_sign_up_signs_in_with_a_safe_cookie_and_sign_out_ends_the_session(site: Site) -> None:
    with site.client() as client:
        response = sign_up(client)
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert "pb_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain http here; https deployments get Secure
        account = client.get("/account")
        assert account.status_code == 200 and "ada@example.org" in account.text
        session = client.cookies["pb_session"]
        client.post("/signout", data={"csrf_token": form_token(account.text)})
        assert client.get("/account").status_code == 303  # back to sign-in
    with site.client(cookies={"pb_session": session}) as replay:
        assert replay.get("/account").status_code == 303  # the old cookie is dead server-side


def test_a_taken_address_and_a_short_password_are_refused_with_one_line(site: Site) -> None:
    with site.client() as client:
        assert sign_up(client).status_code == 303
    with site.client() as other:
        response = sign_up(other, email="ADA@example.org")
        assert response.status_code == 400 and "already has an account" in response.text
        response = sign_up(other, email="bob@example.org", password="short")
        assert response.status_code == 400 and "at least 10 characters" in response.text
        taken = sign_up(
            other, email="bob@example.org", name="ADA"
        )  # names are unique, whatever the case
        assert taken.status_code == 400 and "the name &#39;ADA&#39; is taken" in taken.text


def test_wrong_password_and_unknown_address_get_the_same_answer(site: Site) -> None:
    with site.client() as client:
        sign_up(client)
    with site.client() as client:
        wrong = sign_in(client, password="not the password")
        unknown = sign_in(client, email="nobody@example.org")
    assert wrong.status_code == unknown.status_code == 400
    message = "wrong e-mail address or password"
    assert message in wrong.text and message in unknown.text
    assert "nobody" not in unknown.text.split(message)[1][:200]


def test_sign_in_is_rate_limited_per_address(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    with site.client() as client:
        sign_up(client)
    with site.client() as client:
        for _ in range(site.settings.login_attempts):
            assert sign_in(client, password="wrong password!").status_code == 400
        blocked = sign_in(client)  # even the right password, until the window passes
        assert blocked.status_code == 429 and "too many failed sign-ins" in blocked.text
    with site.client() as client:
        assert sign_in(client, email="someone@example.org", password="x" * 12).status_code == 400


def test_signing_in_replaces_a_planted_session_id(site: Site) -> None:
    with site.client() as client:
        sign_up(client)
    with site.client(cookies={"pb_session": "attacker-chosen-value"}) as client:
        response = sign_in(client)
        assert response.status_code == 303
        issued = response.cookies["pb_session"]
        assert issued != "attacker-chosen-value"
    with site.client(cookies={"pb_session": "attacker-chosen-value"}) as attacker:
        assert attacker.get("/account").status_code == 303  # the planted id was never promoted
    with site.client(cookies={"pb_session": issued}) as victim:
        assert victim.get("/account").status_code == 200


def test_change_password_keeps_this_session_and_ends_the_others(site: Site) -> None:
    with site.client() as first, site.client() as second:
        sign_up(first)
        sign_in(second)
        response = first.post(
            "/account/password",
            data={
                "csrf_token": page_token(first),
                "current": PASSWORD,
                "new": "a brand new secret",
            },
        )
        assert response.status_code == 200 and "password changed" in response.text
        assert first.get("/account").status_code == 200
        assert second.get("/account").status_code == 303
    with site.client() as client:
        assert sign_in(client, password="a brand new secret").status_code == 303


def test_password_reset_by_email_link(
    site: Site, smtp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = site.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port, "smtp_security": "none"}
    )
    site.services.settings = settings
    with site.client() as client:
        sign_up(client)
    with site.client() as client:
        token = form_token(client.get("/reset").text)
        answer = client.post("/reset", data={"csrf_token": token, "email": "ada@example.org"})
        unknown = client.post("/reset", data={"csrf_token": token, "email": "nobody@example.org"})
        assert answer.status_code == unknown.status_code == 200
        path = mailed_link(site, smtp_server, "reset")
        resets = mailed_links_so_far(site, smtp_server, "reset")
        assert [m["To"] for m in resets] == ["ada@example.org"]  # none for the unknown address
        form = client.get(path)
        assert form.status_code == 200
        done = client.post(
            path, data={"csrf_token": form_token(form.text), "password": "reset and renewed"}
        )
        assert done.status_code == 303
        used = client.get(path)  # the link works once: the password changed since
        assert used.status_code == 400 and "already been used" in used.text
    with site.client() as client:
        assert sign_in(client, password="reset and renewed").status_code == 303
        assert client.get("/reset/not-a-token").status_code == 400
        # The reset link came by mail: using it proved the address, too.
        assert client.get("/account.json").json()["member"]["email_verified"] is True


def test_reset_answers_without_waiting_for_the_mail(site: Site, slow_smtp: Any) -> None:
    """The answer must not tell a registered address from an unknown one by its timing: the
    mail goes out after the response, and still arrives."""
    with site.client() as client:
        sign_up(client)  # before the SMTP server is set: its address check goes to the outbox
    slow_smtp.delay = 1.0
    site.services.settings = site.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": slow_smtp.port, "smtp_security": "none"}
    )
    with site.client() as client:
        token = form_token(client.get("/reset").text)
        started = time.monotonic()
        known = client.post("/reset", data={"csrf_token": token, "email": "ada@example.org"})
        took = time.monotonic() - started
        delivered = list(slow_smtp.messages)
        unknown = client.post("/reset", data={"csrf_token": token, "email": "eve@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    assert took < 0.5, f"the answer waited {took:.2f} s for the SMTP server"
    assert delivered == []  # not delivered yet when the answer came
    wait_for(lambda: len(slow_smtp.messages) == 1)
    assert slow_smtp.messages[0]["To"] == "ada@example.org"


def test_reset_with_broken_mail_settings_says_so(site: Site) -> None:
    # Without an SMTP host the link goes to the outbox (test_outbox.py); a host whose user has
    # no password cannot send at all.
    site.services.settings = site.services.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_user": "ada"}
    )
    with site.client() as client:
        token = form_token(client.get("/reset").text)
        response = client.post("/reset", data={"csrf_token": token, "email": "ada@example.org"})
    assert response.status_code == 400 and "cannot send e-mail" in response.text


def test_api_tokens_authenticate_and_can_be_revoked(site: Site) -> None:
    with site.client() as client:
        sign_up(client)
        page = client.post(
            "/account/tokens", data={"csrf_token": page_token(client), "name": "laptop"}
        )
        token = re.search(r'<code class="token">(pb_[^<]+)</code>', page.text).group(1)
    with site.client(headers={"Authorization": f"Bearer {token}"}) as api:
        assert api.get("/api/me").json()["name"] == "Ada"
    with site.client() as client:
        sign_in(client)
        token_id = site.services.members.tokens(1)[0]["id"]
        assert site.services.members.tokens(1)[0]["last_used_at"] is not None
        client.post(f"/account/tokens/{token_id}/delete", data={"csrf_token": page_token(client)})
    with site.client(headers={"Authorization": f"Bearer {token}"}) as api:
        response = api.get("/api/me")
        assert response.status_code == 401 and response.json() == {
            "error": "that API token is not valid"
        }


def make_token(client: httpx.Client, name: str = "laptop") -> str:
    page = client.post("/account/tokens", data={"csrf_token": page_token(client), "name": name})
    match = re.search(r'<code class="token">(pb_[^<]+)</code>', page.text)
    assert match, page.text
    return match.group(1)


def token_works(site: Site, token: str) -> bool:
    with site.client(headers={"Authorization": f"Bearer {token}"}) as api:
        return api.get("/api/me").status_code == 200


def test_changing_the_password_revokes_every_api_token(site: Site) -> None:
    with site.client() as client:
        sign_up(client)
        token = make_token(client)
        assert "revokes your API tokens" in client.get("/account").text
        assert token_works(site, token)
        changed = client.post(
            "/account/password",
            data={"csrf_token": page_token(client), "current": PASSWORD, "new": "a brand new one"},
        )
        assert changed.status_code == 200 and "API tokens were revoked" in changed.text
    assert not token_works(site, token)
    assert site.services.members.tokens(1) == []


def test_a_password_reset_revokes_every_api_token(
    site: Site, smtp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.services.settings = site.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port, "smtp_security": "none"}
    )
    with site.client() as client:
        sign_up(client)
        token = make_token(client)
    with site.client() as client:
        reset_link = request_reset(site, client, smtp_server)
        form = client.get(reset_link)
        assert "revokes your API tokens" in form.text
        done = client.post(
            reset_link, data={"csrf_token": form_token(form.text), "password": "reset and renewed"}
        )
        assert done.status_code == 303
        assert "API tokens were revoked" in client.get(done.headers["location"]).text
    assert not token_works(site, token)


def request_reset(site: Site, client: httpx.Client, smtp_server: Any) -> str:
    """Ask for a reset of ada@example.org; the path of the link that arrives by mail."""
    seen = len(mailed_links_so_far(site, smtp_server, "reset"))
    token = form_token(client.get("/reset").text)
    client.post("/reset", data={"csrf_token": token, "email": "ada@example.org"})
    return mailed_link(site, smtp_server, "reset", seen + 1)


def mailed_links_so_far(site: Site, smtp_server: Any, kind: str) -> list[str]:
    pattern = re.compile(rf"http://127\.0\.0\.1:\d+/{kind}/\S+")
    return [m for m in smtp_server.messages if pattern.search(m.get_content())]


def wait_for(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_account_actions_need_a_session_not_an_api_token(site: Site) -> None:
    with site.client() as client:
        sign_up(client)
        token = make_token(client)
    token_id = site.services.members.tokens(1)[0]["id"]
    calls = [
        ("POST", "/account/tokens", {"name": "minted"}),
        ("POST", f"/account/tokens/{token_id}/delete", {}),
        ("GET", "/account/export", None),
        ("POST", "/account/delete", {"password": PASSWORD}),
        ("POST", "/account/password", {"current": PASSWORD, "new": "taken over now"}),
        ("POST", "/account/digest", {"frequency": "daily", "categories": "cs.LG"}),
    ]
    with site.client(headers={"Authorization": f"Bearer {token}"}) as api:
        for method, path, data in calls:
            response = api.request(method, path, data=data)
            assert response.status_code == 403, (path, response.text)
            error = response.json()["error"]
            assert "\n" not in error and "session" in error
        assert api.get("/api/me").status_code == 200  # the token still reads
    assert len(site.services.members.tokens(1)) == 1
    assert site.services.members.get(1) is not None
    assert site.services.digests.by_member(1) is None
    with site.client() as client:
        assert sign_in(client).status_code == 303  # the password is unchanged


def test_export_then_delete_account(site: Site) -> None:
    with site.client() as client:
        sign_up(client)
        token = page_token(client, "/papers/2505.13308")
        client.post("/papers/2505.13308/upvote", data={"csrf_token": token})
        client.post(
            "/papers/2505.13308/comments", data={"csrf_token": token, "body": "Nice *result*"}
        )
        export = client.get("/account/export")
        assert export.headers["content-disposition"].startswith("attachment")
        data = export.json()
        assert data["member"]["email"] == "ada@example.org"
        assert [v["paper_id"] for v in data["upvotes"]] == ["2505.13308"]
        assert data["comments"][0]["body"] == "Nice *result*"
        assert "password" not in export.text
        refused = client.post(
            "/account/delete", data={"csrf_token": page_token(client), "password": "wrong password"}
        )
        assert refused.status_code == 400 and client.get("/account").status_code == 200
        gone = client.post(
            "/account/delete", data={"csrf_token": page_token(client), "password": PASSWORD}
        )
        assert gone.status_code == 303
        assert client.get("/account").status_code == 303
    paper = site.services.papers.get("2505.13308")
    assert paper["member_votes"] == 0 and paper["comment_count"] == 1
    comments = site.services.community.comments("2505.13308")
    assert comments[0]["author"] is None and comments[0]["body"] == "Nice *result*"
    with site.client() as client:
        assert sign_in(client).status_code == 400


def test_user_create_admin_from_the_cli(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOARD_NEW_PASSWORD", PASSWORD)
    result = cli("user", "create", "--admin", "root@example.org")
    assert result.exit_code == 0, result.output
    assert "admin" in result.stdout
    again = cli("user", "create", "root@example.org")
    assert again.exit_code == 1 and "already has an account" in again.stderr
    assert cli("user", "role", "root@example.org", "moderator").exit_code == 0
    listed = cli("user", "list", "--json")
    assert '"role": "moderator"' in listed.stdout
    assert '"email_verified_at": null' not in listed.stdout  # the operator vouches for it
    assert cli("user", "role", "root@example.org", "king").exit_code == 2
    with Container.open() as app:  # as a sign-up creates it: not verified
        app.members.create("bob@example.org", "Bob", "hash")
    assert "bob@example.org (address not confirmed)" in cli("user", "list").stdout
    assert cli("user", "verify", "BOB@example.org").exit_code == 0
    assert "not confirmed" not in cli("user", "list").stdout
    missing = cli("user", "verify", "nobody@example.org")
    assert missing.exit_code == 1 and "no member nobody@example.org" in missing.stderr
    monkeypatch.setenv("PAPERBOARD_NEW_PASSWORD", "short")
    weak = cli("user", "create", "weak@example.org")
    assert weak.exit_code == 1 and "at least 10 characters" in weak.stderr


def test_an_account_on_someone_elses_address_cannot_touch_its_subscription(site: Site) -> None:
    """Audit finding 5: signing up with another person's address gave the account that
    address's confirmed digest subscription, to read and to change."""
    from paperboard.store.digests import DigestStore

    digests = DigestStore(site.services.papers.engine)
    mine = digests.subscribe("victim@example.org", frequency="weekly", keywords=["private"])
    digests.confirm(mine["id"])
    with site.client() as client:
        assert sign_up(client, email="victim@example.org", name="Mallory").status_code == 303
        account = client.get("/account.json").json()
        assert account["digest"] is None
        assert account["member"]["email_verified"] is False
        token = page_token(client)
        changed = client.post(
            "/account/digest", data={"csrf_token": token, "frequency": "off", "keywords": "x"}
        )
        assert changed.status_code == 400 and "confirm your e-mail address" in changed.text
    after = digests.by_email("victim@example.org")
    assert after is not None
    assert (after["frequency"], after["keywords"]) == ("weekly", ["private"])
    assert after["member_id"] is None


def mail_settings(site: Site, smtp_server: Any) -> None:
    site.services.settings = site.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port, "smtp_security": "none"}
    )


def mailed_link(site: Site, smtp_server: Any, kind: str, count: int = 1) -> str:
    """The path of the ``count``-th link to /``kind``/ that arrived by mail (other mail, such
    as the address check after a sign-up, may come before or after it)."""
    pattern = re.compile(rf"(http://127\.0\.0\.1:\d+/{kind}/\S+)")

    def links() -> list[str]:
        found = (pattern.search(m.get_content()) for m in list(smtp_server.messages))
        return [match.group(1).removeprefix(site.url) for match in found if match]

    wait_for(lambda: len(links()) >= count)
    return links()[count - 1]


def test_sign_up_mails_a_link_that_verifies_the_address(site: Site, smtp_server: Any) -> None:
    mail_settings(site, smtp_server)
    with site.client() as client:
        assert sign_up(client).status_code == 303
        path = mailed_link(site, smtp_server, "verify")
        assert smtp_server.messages[0]["To"] == "ada@example.org"
        assert client.get("/account.json").json()["member"]["email_verified"] is False
        refused = client.post(
            "/account/digest", data={"csrf_token": page_token(client), "frequency": "daily"}
        )
        assert refused.status_code == 400
        form = client.get(path)  # shows a button: mail scanners open links without a reader
        assert form.status_code == 200 and "ada@example.org" in form.text
        assert client.get("/account.json").json()["member"]["email_verified"] is False
        done = client.post(path)
        assert done.status_code == 200 and "Address confirmed" in done.text
        assert client.get("/account.json").json()["member"]["email_verified"] is True
        saved = client.post(
            "/account/digest", data={"csrf_token": page_token(client), "frequency": "daily"}
        )
        assert saved.status_code == 303
        digest = client.get("/account.json").json()["digest"]
        # The verified address needs no second confirmation mail.
        assert digest["frequency"] == "daily" and digest["confirmed_at"] is not None
        assert len(smtp_server.messages) == 1
        assert client.post(path).status_code == 200  # a second click changes nothing
        assert client.get("/verify/not-a-token").status_code == 400
        assert client.post("/verify/not-a-token").status_code == 400


def test_a_link_for_a_deleted_account_confirms_nothing(site: Site, smtp_server: Any) -> None:
    mail_settings(site, smtp_server)
    with site.client() as client:
        sign_up(client)
        path = mailed_link(site, smtp_server, "verify")
    site.services.members.delete(1)
    with site.client() as client:
        answer = client.post(path)
        assert answer.status_code == 404 and "no account uses this address" in answer.text


def test_the_link_can_be_sent_again_a_few_times_an_hour(site: Site, smtp_server: Any) -> None:
    broken = site.services.settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_user": "a"})
    site.services.settings = broken
    with site.client() as client:
        sign_up(client)  # SMTP settings that cannot work: no link went out
        refused = client.post("/account/verify", data={"csrf_token": page_token(client)})
        assert refused.status_code == 400 and "cannot send e-mail yet" in refused.text
        mail_settings(site, smtp_server)
        for count in range(1, 4):
            again = client.post("/account/verify", data={"csrf_token": page_token(client)})
            assert again.status_code == 303
            mailed_link(site, smtp_server, "verify", count)
        assert "a new link is on its way" in client.get("/account?verify=sent").text
        throttled = client.post("/account/verify", data={"csrf_token": page_token(client)})
        assert throttled.status_code == 429
        assert len(smtp_server.messages) == 3
        client.post(mailed_link(site, smtp_server, "verify", 3))
        verified = client.post("/account/verify", data={"csrf_token": page_token(client)})
        assert verified.status_code == 303  # nothing to send any more, and nothing sent
        assert len(smtp_server.messages) == 3
