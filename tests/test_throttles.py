"""Limits on what one client or member can make the site do: password reset mail, sign-ups and
comments, over real HTTP on a real database (the same atomic claims as the sign-in limit)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from conftest import Site
from test_concurrency import together
from test_members import PASSWORD, form_token, page_token, sign_up, wait_for

from paperboard.present.web.security import (
    COMMENTS_PER_MEMBER,
    RESETS_PER_ADDRESS,
    RESETS_PER_CLIENT,
    SIGNUPS_PER_CLIENT,
)

PAPER = "2505.13308"


def with_mail(site: Site, smtp_server: Any) -> None:
    site.services.settings = site.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port, "smtp_security": "none"}
    )


def ask_reset(client: httpx.Client, email: str, path: str = "/reset") -> httpx.Response:
    token = form_token(client.get("/reset").text)
    return client.post(path, data={"csrf_token": token, "email": email})


def assert_one_line_429(response: httpx.Response, words: str) -> None:
    assert response.status_code == 429, response.text
    if response.headers["content-type"].startswith("application/json"):
        message = response.json()["error"]
        assert "\n" not in message
    else:
        message = response.text
    assert words in message


def test_reset_mail_is_limited_per_address_the_same_for_unknown_ones(
    site: Site, smtp_server: Any
) -> None:
    with site.client() as client:
        sign_up(client)  # before mail is set up: only reset mails arrive below
    with_mail(site, smtp_server)
    with site.client() as client:
        known = [ask_reset(client, "ada@example.org").status_code for _ in range(15)]
        unknown = [ask_reset(client, "nobody@example.org").status_code for _ in range(15)]
        assert known == unknown == [200] * RESETS_PER_ADDRESS + [429] * (15 - RESETS_PER_ADDRESS)
        assert_one_line_429(ask_reset(client, "ada@example.org"), "too many reset requests")
        assert_one_line_429(
            ask_reset(client, "ADA@example.org", "/reset.json"), "too many reset requests"
        )
    wait_for(lambda: len(smtp_server.messages) == RESETS_PER_ADDRESS)
    time.sleep(0.3)  # nothing more trickles in
    assert len(smtp_server.messages) == RESETS_PER_ADDRESS


def test_reset_requests_sent_together_are_held_to_the_limit(site: Site, smtp_server: Any) -> None:
    with site.client() as client:
        sign_up(client)  # before mail is set up: only reset mails arrive below
    with_mail(site, smtp_server)

    def ask(_i: int, barrier: Any) -> int:
        with site.client() as client:
            token = form_token(client.get("/reset").text)
            barrier.wait()
            data = {"csrf_token": token, "email": "ada@example.org"}
            return client.post("/reset", data=data).status_code

    statuses = together(12, ask)
    assert sorted(statuses) == [200] * RESETS_PER_ADDRESS + [429] * (12 - RESETS_PER_ADDRESS)
    wait_for(lambda: len(smtp_server.messages) == RESETS_PER_ADDRESS)


def test_reset_mail_is_limited_per_client(site: Site, smtp_server: Any) -> None:
    with_mail(site, smtp_server)
    with site.client() as client:
        for n in range(RESETS_PER_CLIENT):
            assert ask_reset(client, f"someone{n}@example.org").status_code == 200
        assert_one_line_429(ask_reset(client, "fresh@example.org"), "too many reset requests")


def test_sign_ups_are_limited_per_client(site: Site) -> None:
    with site.client() as client:  # a refused sign-up (weak password) does not count
        assert sign_up(client, "weak@example.org", "Weak", "short").status_code == 400
    for n in range(SIGNUPS_PER_CLIENT):
        with site.client() as client:
            assert sign_up(client, f"m{n}@example.org", f"Member {n}").status_code == 303
    with site.client() as client:
        assert_one_line_429(sign_up(client, "late@example.org", "Late"), "too many sign-ups")
        token = form_token(client.get("/signup").text)
        as_json = client.post(
            "/signup.json",
            data={
                "csrf_token": token,
                "email": "late@example.org",
                "name": "Late",
                "password": PASSWORD,
            },
        )
        assert_one_line_429(as_json, "too many sign-ups")
    assert site.services.members.by_email("late@example.org") is None


def test_comments_are_limited_per_member(site: Site) -> None:
    with site.client() as client:
        sign_up(client)
        token = page_token(client, f"/papers/{PAPER}")
        for n in range(COMMENTS_PER_MEMBER):
            posted = client.post(
                f"/papers/{PAPER}/comments", data={"csrf_token": token, "body": f"note {n}"}
            )
            assert posted.status_code == 303
        page = client.post(f"/papers/{PAPER}/comments", data={"csrf_token": token, "body": "more"})
        assert_one_line_429(page, "too many comments")
        api = client.post(
            f"/api/papers/{PAPER}/comments", json={"body": "more"}, headers={"X-CSRF-Token": token}
        )
        assert_one_line_429(api, "too many comments")
    with site.client() as other:  # another member is not held back
        sign_up(other, "grace@example.org", "Grace")
        token = page_token(other, f"/papers/{PAPER}")
        posted = other.post(f"/papers/{PAPER}/comments", data={"csrf_token": token, "body": "hi"})
        assert posted.status_code == 303
    assert len(site.services.community.comments(PAPER)) == COMMENTS_PER_MEMBER + 1
