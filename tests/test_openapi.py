"""Schemathesis against the live site's /openapi.json: every GET operation and the API's POST and
DELETE calls, anonymously and with a member's API token, must never answer with a server error
nor with a status code the description does not list for the operation.

Small and deterministic for CI: Hypothesis is derandomized, keeps no example database, and tries
``PAPERBOARD_FUZZ_EXAMPLES`` cases per operation (default 5). ``bench/fuzz.py`` runs the same with
a larger budget against a running site. Left out: the HTML forms' POSTs (they need a CSRF token,
so they would only ever be refused) and ``POST /api/papers/submit``, which fetches from arXiv.
"""

from __future__ import annotations

import os
import re
from typing import Any

import requests
import schemathesis
from conftest import Site
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import status_code_conformance
from test_members import page_token, sign_up

# A 5xx, and any status the description does not list for the operation.
CHECKS = [not_a_server_error, status_code_conformance]
EXAMPLES = int(os.environ.get("PAPERBOARD_FUZZ_EXAMPLES", "5"))
PAPER = "2505.13308"  # one of the demo papers


def operations(site: Site) -> Any:
    schema = schemathesis.openapi.from_url(f"{site.url}/openapi.json", timeout=30)
    return schema.include(
        lambda ctx: ctx.operation.method.upper() == "GET" or ctx.operation.path.startswith("/api/")
    ).exclude(path="/api/papers/submit")


def fuzz(site: Site, headers: dict[str, str]) -> list[str]:
    """Run each operation's cases; return one line per operation that failed a check."""
    failures: list[str] = []
    with requests.Session() as session:
        for result in operations(site).get_all_operations():
            operation = result.ok()
            strategies = [operation.as_strategy()]
            if "{paper_id}" in operation.path:  # random ids only ever meet a 404
                strategies.append(operation.as_strategy(path_parameters={"paper_id": PAPER}))

            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=st.one_of(strategies))
            def check(case: Any) -> None:
                response = case.call(
                    base_url=site.url, session=session, headers=headers, timeout=30
                )
                case.validate_response(response, checks=CHECKS)

            try:
                check()
            except (Exception, FailureGroup) as error:  # FailureGroup: several checks failed
                failures.append(f"{operation.label}: {error}")
    return failures


def api_token(site: Site) -> str:
    with site.client() as client:
        sign_up(client)
        page = client.post(
            "/account/tokens", data={"csrf_token": page_token(client), "name": "fuzz"}
        )
    match = re.search(r'<code class="token">(pb_[^<]+)</code>', page.text)
    assert match, "no API token on the account page"
    return match.group(1)


def test_no_operation_answers_a_server_error_anonymously(site: Site) -> None:
    assert fuzz(site, {}) == []


def test_no_operation_answers_a_server_error_with_an_api_token(site: Site) -> None:
    token = api_token(site)
    assert fuzz(site, {"Authorization": f"Bearer {token}"}) == []
