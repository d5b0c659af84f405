"""Hostile input must get a one-line 4xx, never a 500: control characters anywhere in a request,
dates at the calendar's ends, ids too big for the database, names that hide or mislead; and the
headers that protect a page must be on every answer, errors included."""

from __future__ import annotations

import os
import stat
from typing import Any

import pytest
from conftest import Site, sqlite_only
from test_members import page_token, sign_up

from paperboard.core.errors import NotFoundError
from paperboard.store.database import open_engine

PAPER = "2505.13308"


def assert_one_line_json_error(response: Any, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text[:200])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    message = response.json()["error"]
    assert message and "\n" not in message


# -- 1. NUL and other control characters -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/papers/%00", 404),
        ("/papers/%00.json", 404),
        ("/api/papers/%00", 404),
        ("/api/papers/%00/comments", 404),
        ("/papers/2505.13308%01", 404),
        ("/feeds/category/cs.LG%0a.xml", 404),
        ("/papers?q=%00", 400),
        ("/api/papers/search?q=a%00b", 400),
        ("/api/daily_papers?submitter=%00", 400),
        ("/feeds/search.xml?q=%00", 400),
        ("/signin?next=/%00", 400),
    ],
)
@sqlite_only  # refused, with its own message, before any route runs
def test_control_characters_in_the_address_are_refused(site: Site, path: str, status: int) -> None:
    with site.client() as client:
        response = client.get(path)
    assert response.status_code == status, (path, response.status_code, response.text[:200])
    assert "control characters" in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    if ".json" in path or path.startswith(("/api/", "/feeds/")):
        assert_one_line_json_error(response, status)


def test_nul_in_form_fields_gets_400(site: Site) -> None:
    with site.client() as client:
        token = page_token(client, "/signin")
        forms = [
            ("/signin", {"csrf_token": token, "email": "a\x00@example.org", "password": "x" * 12}),
            ("/signin", {"csrf_token": token, "email": "ada@example.org", "password": "x\x00" * 6}),
            (
                "/signup",
                {
                    "csrf_token": token,
                    "email": "eve@example.org",
                    "name": "E\x00ve",
                    "password": "correct horse battery",
                },
            ),
            ("/subscribe", {"email": "s\x00b@example.org", "frequency": "daily"}),
        ]
        for path, data in forms:
            response = client.post(path, data=data)
            assert response.status_code == 400, (path, response.status_code, response.text[:200])
            assert "control characters in a form field" in response.text
        sign_up(client)
        token = page_token(client, "/")
        response = client.post(
            f"/papers/{PAPER}/comments", data={"csrf_token": token, "body": "nul \x00 here"}
        )
        assert response.status_code == 400
        multipart = client.post(
            f"/papers/{PAPER}/comments",
            data={"csrf_token": token},
            files={"body": (None, "nul \x00 here")},
        )
        assert multipart.status_code == 400
        api = client.post(
            f"/api/papers/{PAPER}/comments",
            headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
            content=b'{"body": "nul \\u0000 here"}',
        )
        assert_one_line_json_error(api, 400)
        # Line breaks and tabs are what comments are made of: they stay welcome.
        fine = client.post(
            f"/papers/{PAPER}/comments",
            data={"csrf_token": token, "body": "two\r\nlines\tand a tab"},
        )
        assert fine.status_code == 303
    bodies = [c["body"] for c in site.services.community.comments(PAPER)]
    assert bodies == ["two\r\nlines\tand a tab"] or bodies == ["two\nlines\tand a tab"]


# -- 2. the calendar's ends, and errors in the shape asked for -------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/papers/week/9999-W52",
        "/papers/week/0001-W01",
        "/papers/month/0001-01",
        "/papers/month/9999-12",
        "/papers/month/0000-12",
        "/papers/date/9999-12-31",
        "/papers/date/0001-01-01",
        "/papers/week/9999-W52.json",
        "/papers/month/0001-01.json",
        "/api/daily_papers?week=9999-W52",
        "/api/daily_papers?week=0001-W01",
        "/api/daily_papers?month=9999-12",
        "/api/daily_papers?date=9999-12-31",
        "/feeds/date/9999-12-31.xml",
    ],
)
def test_the_calendars_ends_are_not_errors_of_ours(site: Site, path: str) -> None:
    with site.client() as client:
        response = client.get(path)
    assert response.status_code in (200, 400, 404), (path, response.status_code)
    if response.status_code != 200:
        assert "something went wrong" not in response.text
    if ".json" in path or path.startswith("/api/"):
        assert response.headers["content-type"].startswith("application/json")


def test_periods_at_the_calendars_ends_have_no_neighbour_beyond_it() -> None:
    from paperboard.rank import periods

    assert periods.week("9999-W51").next() is None  # 9999-W52 runs into the year 10000
    assert periods.month("9999-12").next() is None
    assert periods.month("0001-01").previous() is None
    assert periods.week("0001-W01").previous() is None
    assert periods.day("9999-12-31").next() is None
    assert periods.day("0001-01-01").previous() is None
    assert periods.month("2025-12").next() == periods.month("2026-01")
    with pytest.raises(periods.PeriodError, match="no such week"):
        periods.week("9999-W53")
    with pytest.raises(periods.PeriodError, match="past the calendar's last day"):
        periods.week("9999-W52")


def _crash(site: Site) -> None:
    """Break the database under the running site (the papers table goes away), as a failed
    migration or a bad restore would: every feed page then fails unexpectedly."""
    with site.services.papers.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE papers RENAME TO papers_gone")


def test_an_unexpected_error_answers_in_the_shape_asked_for(site: Site) -> None:
    _crash(site)
    with site.client() as client:
        html = client.get("/")
        twin = client.get("/.json")
        api = client.get("/api/daily_papers")
    for response in (html, twin, api):
        assert response.status_code == 500
        assert "something went wrong" in response.text
    assert html.headers["content-type"].startswith("text/html")
    assert_one_line_json_error(twin, 500)
    assert_one_line_json_error(api, 500)


# -- 3. ids too big for the database ---------------------------------------------------------------


def test_ids_beyond_the_keys_are_not_found(site: Site) -> None:
    big = "10000000000000000000"  # 10**19 > 2**63 - 1
    with site.client() as client:
        sign_up(client)
        token = page_token(client, "/account")
        answers = {
            "edit form": client.get(f"/comments/{big}/edit"),
            "edit": client.post(f"/comments/{big}/edit", data={"csrf_token": token, "body": "x"}),
            "delete": client.post(f"/comments/{big}/delete", data={"csrf_token": token}),
            "token": client.post(f"/account/tokens/{big}/delete", data={"csrf_token": token}),
            "2**63": client.get(f"/comments/{2**63}/edit"),
            "2**31 (past PostgreSQL's integer keys)": client.get(f"/comments/{2**31}/edit"),
            "2**31 token": client.post(
                f"/account/tokens/{2**31}/delete", data={"csrf_token": token}
            ),
            "negative": client.get("/comments/-1/edit"),
            "not a number": client.get("/comments/abc/edit"),
            "json twin": client.get(f"/comments/{big}/edit.json"),
        }
    for what, response in answers.items():
        assert response.status_code == 404, (what, response.status_code, response.text[:200])
    assert_one_line_json_error(answers["json twin"], 404)


# -- 4. names and categories -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", "needs a name"),
        ("\u3000", "needs a name"),
        ("Ada\u202eevil", "control"),
        ("Ada\u200f", "control"),
        ("Ada\x1b[31m", "control"),
        ("Ada\nLovelace", "control"),
        ("Ada\x7f", "control"),
    ],
)
@sqlite_only  # refused by the form's checks before anything is stored
def test_sign_up_refuses_blank_and_disguised_names(site: Site, name: str, message: str) -> None:
    with site.client() as client:
        response = sign_up(client, name=name)
    assert response.status_code == 400, (name, response.status_code)
    assert message in response.text
    assert site.services.members.by_email("ada@example.org") is None


def test_ordinary_names_still_sign_up(site: Site) -> None:
    with site.client() as client:
        assert sign_up(client, name="  Ada Lovelace-Byron  ").status_code == 303
        assert sign_up(client, email="z@example.org", name="Zoë 张伟 ☃").status_code == 303
    assert site.services.members.by_email("ada@example.org")["name"] == "Ada Lovelace-Byron"


def test_bad_categories_in_feed_addresses_are_not_found(site: Site) -> None:
    with site.client() as client:
        assert client.get("/feeds/category/cs.LG.xml").status_code == 200
        for category in ("cs.LG%0a", "cs.LG%0d%0aX", "cs.LG%20", "cs..LG", "%3Cb%3E", "x" * 41):
            response = client.get(f"/feeds/category/{category}.xml")
            assert_one_line_json_error(response, 404)


def test_a_final_line_break_is_no_part_of_a_category_or_a_period() -> None:
    from paperboard.present.web.routes.feeds import by_category
    from paperboard.rank import periods

    for text in ("2025-W01\n", "2025-05\n"):
        with pytest.raises(periods.PeriodError):
            (periods.week if "W" in text else periods.month)(text)
    with pytest.raises(NotFoundError, match="no such category"):
        by_category(None, "cs.LG\n")  # type: ignore[arg-type]  # refused before it is used


# -- 5. protective headers everywhere --------------------------------------------------------------


def test_error_answers_carry_the_protective_headers(site: Site) -> None:
    with site.client() as client:
        not_found = client.get("/no/such/page")
        too_large = client.post("/signin", content=b"x" * (site.settings.max_form_bytes + 1))
        _crash(site)
        crashed = client.get("/")
    for response in (not_found, too_large, crashed):
        assert response.headers["x-content-type-options"] == "nosniff", response.status_code
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert crashed.status_code == 500 and too_large.status_code == 413


@sqlite_only  # the router's answer: no SQL
def test_method_not_allowed_says_what_is_allowed(site: Site) -> None:
    with site.client() as client:
        response = client.get("/signout")
        api = client.delete("/api/me")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert api.status_code == 405 and "GET" in api.headers["allow"]


def test_https_gets_secure_anonymous_cookies_and_hsts(site: Site) -> None:
    with site.client() as client:
        plain = client.get("/signin")
        assert "Secure" not in plain.headers["set-cookie"]
        assert "strict-transport-security" not in plain.headers
    with site.client() as client:  # behind a proxy that ends TLS
        proxied = client.get("/signin", headers={"X-Forwarded-Proto": "https"})
        assert "pb_anon=" in proxied.headers["set-cookie"]
        assert "Secure" in proxied.headers["set-cookie"]
        assert proxied.headers["strict-transport-security"].startswith("max-age=")
    site.services.settings = site.services.settings.model_copy(
        update={"base_url": "https://papers.example.org"}
    )
    with site.client() as client:  # the public address is https
        response = client.get("/signin")
        assert "Secure" in response.headers["set-cookie"]
        assert "max-age=" in response.headers["strict-transport-security"]
        assert "max-age=" in client.get("/no/such/page").headers["strict-transport-security"]


def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path: Any) -> None:
    path = tmp_path / "sub" / "paperboard.db"
    engine = open_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    engine.dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_an_account_needs_an_e_mail_address(cli: Any) -> None:
    """``user create not-an-email`` made an account no mail could reach."""
    for address in ("not-an-email", "a@b", "two words@example.org", "ada@exa\u0000mple.org"):
        result = cli("user", "create", address, "--password-stdin", input="longpassword123\n")
        assert result.exit_code == 1, (address, result.stdout)
        assert result.stderr.count("\n") == 1 and "e-mail address" in result.stderr
    made = cli("user", "create", " Ada@Example.org ", "--password-stdin", input="longpassword123\n")
    assert made.exit_code == 0, made.stderr
    assert "ada@example.org" in made.stdout
