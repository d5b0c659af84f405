"""The welcome page a sign-up lands on: what a member can do, and whether a confirmation link
went out, over real HTTP (with a real SMTP server when mail is configured)."""

from __future__ import annotations

from typing import Any

from conftest import Site
from test_members import PASSWORD, form_token, mail_settings, mailed_link, sign_up


def test_a_sign_up_lands_on_the_welcome_page_then_goes_on(site: Site, smtp_server: Any) -> None:
    mail_settings(site, smtp_server)
    with site.client() as client:
        token = form_token(client.get("/signup").text)
        response = client.post(
            "/signup",
            data={
                "csrf_token": token,
                "email": "ada@example.org",
                "name": "Ada",
                "password": PASSWORD,
                "next": "/papers/trending?p=2",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/welcome?next=/papers/trending%3Fp%3D2"
        welcome = client.get(response.headers["location"])
        assert welcome.status_code == 200
        text = welcome.text
        assert "Welcome, Ada!" in text
        assert "We sent a confirmation link to <strong>ada@example.org</strong>" in text
        for feature in ("Upvote", "Submit", "Get the digest", "For you", "API tokens"):
            assert f"<strong>{feature}</strong>" in text, feature
        assert '<a class="button" href="/papers/trending?p=2">Continue</a>' in text
        assert mailed_link(site, smtp_server, "verify").startswith("/verify/")  # it did go
        twin = client.get("/welcome.json").json()
        assert twin["mail_sent"] is True and twin["email_verified"] is False


def test_the_welcome_page_says_so_when_no_mail_can_be_sent(site: Site) -> None:
    broken = {"smtp_host": "127.0.0.1", "smtp_user": "half", "smtp_password": None}
    site.services.settings = site.settings.model_copy(update=broken)  # no password: no mail
    with site.client() as client:
        assert sign_up(client).status_code == 303
        text = client.get("/welcome?next=//evil.example/").text
        assert "This site cannot send e-mail yet" in text and "We sent" not in text
        assert '<a class="button" href="/">Continue</a>' in text  # never an open redirect
    with site.client() as stranger:
        assert stranger.get("/welcome").status_code == 303  # members only: to the sign-in form
