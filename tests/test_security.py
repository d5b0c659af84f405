"""Attacks that must fail: forged forms, state changes by GET, open redirects, script injected
through paper data, and the headers that limit what a page may do."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conftest import Site
from test_members import page_token, sign_up

from paperboard.core.records import PaperRecord

PAPER = "2505.13308"


def test_state_changing_forms_need_the_sessions_csrf_token(site: Site) -> None:
    with site.client() as client:
        sign_up(client)
        for path, data in [
            (f"/papers/{PAPER}/upvote", {}),
            (f"/papers/{PAPER}/comments", {"body": "forged"}),
            ("/account/tokens", {"name": "stolen"}),
            ("/signout", {}),
        ]:
            missing = client.post(path, data=data)
            wrong = client.post(path, data={**data, "csrf_token": "guess"})
            assert missing.status_code == wrong.status_code == 403, path
            assert "form has expired" in wrong.text
        assert site.services.community.comments(PAPER) == []
        assert site.services.members.tokens(1) == []
        assert client.get("/account").status_code == 200  # still signed in


def test_another_browsers_token_does_not_work(site: Site) -> None:
    with site.client() as victim, site.client() as attacker:
        sign_up(victim)
        sign_up(attacker, email="eve@example.org", name="Eve")
        eve_token = page_token(attacker, "/")
        assert (
            victim.post(f"/papers/{PAPER}/upvote", data={"csrf_token": eve_token}).status_code
            == 403
        )
    with site.client() as anonymous:
        signin_token = page_token(anonymous, "/signin")
    with site.client() as other:  # a sign-in form token is bound to the browser that loaded it
        other.get("/signin")
        response = other.post(
            "/signin",
            data={"csrf_token": signin_token, "email": "x@example.org", "password": "y" * 12},
        )
        assert response.status_code == 403


def test_no_state_change_on_get(site: Site) -> None:
    with site.client() as client:
        sign_up(client)
        for path in (f"/papers/{PAPER}/upvote", "/signout", "/account/delete", "/account/tokens"):
            assert client.get(path).status_code in (404, 405), path
        assert client.get("/account").status_code == 200
    assert site.services.papers.get(PAPER)["member_votes"] == 0


def test_sign_in_does_not_redirect_off_site(site: Site) -> None:
    with site.client() as client:
        sign_up(client)
        client.post("/signout", data={"csrf_token": page_token(client, "/")})
        for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
            token = page_token(client, "/signin")
            response = client.post(
                "/signin",
                data={
                    "csrf_token": token,
                    "email": "ada@example.org",
                    "password": "correct horse battery",
                    "next": target,
                },
            )
            assert response.headers["location"] == "/", target
            client.post("/signout", data={"csrf_token": page_token(client, "/")})


def test_markup_in_titles_and_abstracts_is_shown_as_text(site: Site) -> None:
    nasty = PaperRecord(
        id="demo:xss-test",
        source="demo",
        title='<script>alert("t")</script> Attention <b>is</b> all',
        abstract='<img src=x onerror=alert(1)> We show $x<y$ & "quotes" </textarea>',
        authors=["<svg onload=alert(2)>"],
        categories=["cs.LG"],
        published_at=datetime(2025, 5, 19, 12, tzinfo=UTC),
    )
    site.services.papers.write([nasty])
    with site.client() as client:
        for path in ("/papers/demo:xss-test", "/papers/date/2025-05-19", "/papers/month/2025-05"):
            html = client.get(path).text
            assert "xss-test" in html, path
            assert (
                "<script>alert" not in html
                and "<img src=x" not in html
                and "<svg onload" not in html
            )
            assert "&lt;script&gt;" in html
        assert "$x&lt;y$" in client.get("/papers/demo:xss-test").text  # LaTeX stays readable
        twin = client.get("/papers/demo:xss-test.json").json()
        assert twin["paper"]["title"].startswith("<script>")  # data stays data in JSON


def test_pages_carry_protective_headers(site: Site) -> None:
    response = site.client().get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_https_deployments_get_secure_cookies(site: Site) -> None:
    site.services.settings = site.services.settings.model_copy(
        update={"base_url": "https://papers.example.org"}
    )
    with site.client() as client:
        form = client.get("/signup")
        assert "Secure" in form.headers["set-cookie"]  # pb_anon, the form's cookie
        # This client speaks plain http, so it keeps Secure cookies to itself: hand it back.
        client.cookies.set("pb_anon", form.headers["set-cookie"].split(";")[0].split("=", 1)[1])
        response = sign_up(client)
    assert "Secure" in response.headers["set-cookie"]


def test_api_write_calls_need_a_token_or_a_csrf_header(site: Site) -> None:
    with site.client() as client:
        sign_up(client)
        assert client.post(f"/api/papers/{PAPER}/upvote").status_code == 403  # cookie alone: no
        token = page_token(client, "/")
        ok = client.post(f"/api/papers/{PAPER}/upvote", headers={"X-CSRF-Token": token})
        assert ok.status_code == 200 and ok.json()["upvoted"] is True
    anonymous: Any = site.client().post(f"/api/papers/{PAPER}/upvote")
    assert anonymous.status_code == 401 and anonymous.json() == {"error": "sign in first"}
