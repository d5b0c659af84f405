"""Monitoring: the site's /metrics over loopback (request durations by route template, search
durations by mode, the database's sizes), its bearer token and its absence from the page cache,
the worker's counters and its own metrics port, and JSON log lines."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FakeServer, Site, start_site
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from test_worker import hf_daily_papers

from paperboard.core.config import Settings, load_settings
from paperboard.core.errors import ConfigError
from paperboard.present.container import Container
from paperboard.present.log_format import JsonFormatter, configure_logging
from paperboard.present.metrics import serve_worker_metrics
from paperboard.present.worker import run_worker
from paperboard.store.counts import CountStore

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(client: httpx.Client, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def requests(samples: Samples, method: str, route: str, status: str) -> float:
    return value(
        samples,
        "paperboard_http_request_duration_seconds_count",
        method=method,
        route=route,
        status=status,
    )


def searches(samples: Samples, mode: str) -> float:
    return value(samples, "paperboard_search_duration_seconds_count", mode=mode)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def another_site(site: Site) -> Iterator[Any]:
    """Start a second site on the same home and database with other settings."""
    servers: list[tuple[Any, Any]] = []

    def start(**changes: Any) -> httpx.Client:
        url = f"http://127.0.0.1:{free_port()}"
        settings = site.settings.model_copy(update={"base_url": url, **changes})
        _app, server, thread = start_site(settings)
        servers.append((server, thread))
        return httpx.Client(base_url=url, timeout=30)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def test_requests_and_searches_are_counted_by_route_template_and_mode(site: Site) -> None:
    paper_id = site.services.papers.list_papers(datetime.min.date(), datetime.max.date())[0]["id"]
    with site.client() as client:
        before = scrape(client)
        assert client.get(f"/papers/{paper_id}").status_code == 200
        assert client.get(f"/papers/{paper_id}.json").status_code == 200
        assert client.get("/papers/2999.99999").status_code == 404
        assert client.get("/no/such/page").status_code == 404
        assert (
            client.get("/papers", params={"q": "attention", "mode": "lexical"}).status_code == 200
        )
        api = client.get("/api/papers/search", params={"q": "language models"})
        assert api.status_code == 200
        after = scrape(client)

    template = "/papers/{paper_id:path}"
    assert requests(after, "GET", template, "2xx") - requests(before, "GET", template, "2xx") == 2
    assert requests(after, "GET", template, "4xx") - requests(before, "GET", template, "4xx") == 1
    assert requests(after, "GET", "other", "4xx") - requests(before, "GET", "other", "4xx") == 1
    assert requests(after, "GET", "/papers", "2xx") - requests(before, "GET", "/papers", "2xx") == 1
    assert requests(after, "GET", "/metrics", "2xx") >= 1
    # No label holds a path: only route templates, and no paper id anywhere.
    routes = {dict(labels).get("route", "") for _name, labels in after}
    assert not any(paper_id in route for route in routes)
    assert searches(after, "lexical") - searches(before, "lexical") == 1
    # The API searches hybrid, or by words when the demo indexes hold no vectors.
    assert sum(searches(after, m) - searches(before, m) for m in ("hybrid", "lexical")) == 2

    counts = CountStore(site.services.engine)
    assert value(after, "paperboard_papers") == counts.papers() > 0
    assert value(after, "paperboard_members") == counts.members()
    assert value(after, "paperboard_database_up") == 1
    assert ("paperboard_replica_lag_seconds", frozenset()) in after
    assert value(after, "paperboard_replica_lag_seconds") == 0  # the demo is indexed


def test_held_leases_are_reported_with_their_holder(site: Site) -> None:
    site.services.leases.acquire("job:ingest", "node-a:42", 300)
    with site.client() as client:
        samples = scrape(client)
    left = value(samples, "paperboard_lease_expiry_seconds", lease="job:ingest", holder="node-a:42")
    assert 0 < left <= 300


def test_metrics_are_never_cached_and_cached_pages_keep_their_route(another_site: Any) -> None:
    with another_site(page_cache_seconds=30) as client:
        first = client.get("/metrics")
        assert first.headers["cache-control"] == "no-store"
        assert first.headers["x-robots-tag"].startswith("noindex")
        for _ in range(3):  # the first makes the page, the others come from the cache
            assert client.get("/about").status_code == 200
        second = client.get("/metrics")
    assert first.text != second.text  # made afresh: it counts the first scrape and the pages
    before, after = parse(first.text), parse(second.text)
    assert requests(after, "GET", "/about", "2xx") - requests(before, "GET", "/about", "2xx") == 3


def test_a_metrics_token_is_required_once_set(another_site: Any) -> None:
    token = "a-long-random-metrics-token"
    with another_site(metrics_token=token) as client:
        missing = client.get("/metrics")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert "paperboard_" not in missing.text
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401
        basic = client.get("/metrics", headers={"Authorization": f"Basic {token}"})
        assert basic.status_code == 401
        samples = scrape(client, Authorization=f"Bearer {token}")
    assert value(samples, "paperboard_database_up") == 1


def ingest_and_digest_settings(
    fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch, model_cache: Path
) -> Settings:
    """A worker that ingests the recorded daily papers of 2026-11-20 from a local endpoint and
    writes digests to the outbox, logging in JSON."""
    hf_daily_papers(fake_server, monkeypatch)
    for name, setting in {
        "PAPERBOARD_MODELS_DIR": str(model_cache),
        "PAPERBOARD_DIGEST_TIME": "07:00",
        "PAPERBOARD_LOG_FORMAT": "json",
    }.items():
        monkeypatch.setenv(name, setting)
    return load_settings()


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_worker_pass_counts_papers_digests_and_jobs(
    cli: Any, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch, model_cache: Path
) -> None:
    settings = ingest_and_digest_settings(fake_server, monkeypatch, model_cache)
    assert cli("subscribers", "add", "reader@example.org", "--confirmed").exit_code == 0
    names = [
        ("paperboard_ingested_papers_total", {"source": "hf"}),
        ("paperboard_embedded_papers_total", {}),
        ("paperboard_digests_total", {"status": "sent"}),
        ("paperboard_jobs_total", {"job": "ingest", "outcome": "ok"}),
        ("paperboard_jobs_total", {"job": "daily digest", "outcome": "ok"}),
        ("paperboard_jobs_total", {"job": "submissions", "outcome": "idle"}),
    ]
    before = [counter(name, **labels) for name, labels in names]
    server = serve_worker_metrics(free_port())
    try:
        results = run_worker(
            settings, once=True, clock=lambda: datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
        )
        assert [r.job for r in results if r.ok] == ["ingest", "daily digest"], results
        port = server.server_address[1]
        scraped = parse(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
    finally:
        server.shutdown()
        server.server_close()
    grew = [
        counter(name, **labels) - old for (name, labels), old in zip(names, before, strict=True)
    ]
    with Container.open(settings) as app:
        papers = CountStore(app.engine).papers()
    assert grew == [papers, papers, 1, 1, 1, 1]
    # The worker's own endpoint serves the same counters.
    for name, labels in names:
        assert value(scraped, name, **labels) == counter(name, **labels)

    lines = (settings.log_dir / "worker.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert entries and all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    assert {e["logger"] for e in entries} == {"paperboard.worker"}
    assert any(e["message"].startswith("ingest: ") and e["level"] == "INFO" for e in entries)
    assert all(e["time"].endswith("Z") for e in entries)


def test_a_port_in_use_is_one_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot serve worker metrics on port {port}"):
            serve_worker_metrics(port)


def json_logs() -> None:
    """JSON logs, with uvicorn's loggers set up as uvicorn does (its handlers write to the
    stderr of the moment)."""
    import uvicorn.config

    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    configure_logging(load_settings(log_format="json"))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Text logs again after the test, and uvicorn's loggers as uvicorn sets them up."""
    import uvicorn.config

    yield
    configure_logging(load_settings(log_format="text"))
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)


def test_json_logs_are_one_object_per_line(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    json_logs()
    try:
        raise ValueError("the disk is made of cheese")
    except ValueError:
        logging.getLogger("paperboard.web").exception("unexpected error on %s", "/papers")
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    lines = capsys.readouterr().err.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [(e["level"], e["logger"], e["message"]) for e in entries] == [
        ("ERROR", "paperboard.web", "unexpected error on /papers"),
        ("WARNING", "uvicorn.error", "Invalid HTTP request received."),
    ]
    assert "ValueError: the disk is made of cheese" in entries[0]["exception"]
    assert "exception" not in entries[1]
    assert datetime.fromisoformat(entries[0]["time"]).utcoffset() == timedelta(0)


def test_text_logs_add_no_handler(restore_logging: None) -> None:
    json_logs()
    root = logging.getLogger()
    assert any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
    configure_logging(load_settings(log_format="text"))
    assert not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)


def test_a_bad_log_format_is_a_setting_error(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOARD_LOG_FORMAT", "yaml")
    result = cli("worker", "--once")
    assert result.exit_code == 2 and "PAPERBOARD_LOG_FORMAT" in result.stderr


MULTIPROCESS = """
import multiprocessing, sys
from paperboard.core.config import load_settings
from paperboard.present.container import Container
from paperboard.present.metrics import exposition, observe_request

def answer() -> None:
    observe_request("GET", "/about", 200, 0.01)

children = [multiprocessing.get_context("fork").Process(target=answer) for _ in range(3)]
for child in children:
    child.start()
for child in children:
    child.join()
settings = load_settings(home=sys.argv[1], database_url=f"sqlite:///{sys.argv[1]}/db.sqlite")
with Container.open(settings) as app:
    print(exposition(app)[0].decode())
"""


def test_multiprocess_mode_adds_up_every_process(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    samples = parse(done.stdout)
    assert requests(samples, "GET", "/about", "2xx") == 3
    assert value(samples, "paperboard_papers") == 0
    assert value(samples, "paperboard_database_up") == 1


def test_a_missing_multiprocess_folder_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    done = subprocess.run(
        [sys.executable, "-m", "paperboard", "worker", "--once"],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(missing)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"paperboard: error: PROMETHEUS_MULTIPROC_DIR is {missing}, which is not a directory: "
        "create it (empty) before starting paperboard, or unset it"
    )
