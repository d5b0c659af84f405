"""Several nodes on one machine, as a real deployment runs them: one PostgreSQL server, two app
servers with their own ``HOME`` behind Debian's haproxy, and workers started as separate
processes (named as if on two nodes). Everything over loopback; the upstream daily-papers API is
a local fake and mail goes to a local SMTP server.

The scenarios run in order on one cluster (module fixture), each a test:
ingest through a worker is searchable through the balancer on both app servers within the
stated lag; a session made on one app server works on the other; two workers racing one digest
period give each subscriber one digest; a worker killed mid-digest is taken over by the other
once its lease expires; an app server killed under load loses no request; a third app server
with a fresh ``HOME`` becomes ready without embedding anything.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import (
    FIXTURES,
    FakeServer,
    PostgresServer,
    Reply,
    SmtpSink,
    _free_port,
    needs_program,
)

ROOT = Path(__file__).resolve().parent.parent
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
REFRESH_SECONDS = 1.0
LEASE_SECONDS = 10
LAG_BOUND = 30.0  # seconds from a worker's ingest ending to the paper being found everywhere
PASSWORD = "correct horse battery staple"
PAPER_ID, PAPER_WORDS = "2611.01234", "Sparse Mixtures for Everyone"

pytestmark = needs_program(HAPROXY, "haproxy")


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "paperboard.present.cli.main", *args]


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]
    smtp: SmtpSink
    apps: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    balancer: subprocess.Popen[bytes] | None = None
    balancer_port: int = 0
    measured: dict[str, float] = field(default_factory=dict)

    def node_env(self, name: str, **extra: str) -> dict[str, str]:
        home = self.root / name
        home.mkdir(exist_ok=True)
        return {
            **self.env,
            "PAPERBOARD_HOME": str(home),
            "PAPERBOARD_NODE_NAME": name,
            **extra,
        }

    def cli(self, *args: str, node: str = "admin", timeout: float = 120) -> Any:
        result = subprocess.run(
            _command(*args),
            env=self.node_env(node),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result

    def worker(self, node: str, now: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            _command("worker", "--once", "--now", now),
            env=self.node_env(node),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def start_app(self, name: str) -> None:
        port = _free_port()
        log = (self.root / f"{name}.log").open("wb")
        self.apps[name] = subprocess.Popen(
            _command("serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "info"),
            env=self.node_env(name, PAPERBOARD_BASE_URL=f"http://127.0.0.1:{self.balancer_port}"),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.ports[name] = port

    def url(self, name: str | None = None) -> str:
        port = self.balancer_port if name is None else self.ports[name]
        return f"http://127.0.0.1:{port}"

    def wait_ready(self, name: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            process = self.apps[name]
            assert process.poll() is None, (self.root / f"{name}.log").read_text()[-3000:]
            try:
                answer = httpx.get(f"{self.url(name)}/healthz", timeout=5)
                last = answer.json()
                if answer.status_code == 200:
                    return dict(last)
            except httpx.HTTPError as error:
                last = error
            time.sleep(0.2)
        raise AssertionError(f"{name} not ready after {timeout} s: {last}")

    def start_balancer(self) -> None:
        config = self.root / "haproxy.cfg"
        servers = "\n".join(
            f"    server {name} 127.0.0.1:{port} check inter 500 fall 2 rise 1"
            for name, port in self.ports.items()
        )
        config.write_text(_haproxy_config(self.balancer_port, servers))
        self.balancer = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.balancer.poll() is None, self.balancer.communicate()[1]
            try:
                if httpx.get(f"{self.url()}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("haproxy did not answer")

    def search(self, where: str | None, words: str, mode: str = "lexical") -> list[str]:
        answer = httpx.get(
            f"{self.url(where)}/api/papers/search",
            params={"q": words, "mode": mode},
            timeout=10,
        )
        answer.raise_for_status()
        return [entry["paper"]["id"] for entry in answer.json()]

    def stop(self) -> None:
        for process in [*self.apps.values(), self.balancer]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*self.apps.values(), self.balancer]:
            if process is not None:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


def _haproxy_config(port: int, servers: str) -> str:
    return f"""global
    maxconn 256
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
    retry-on all-retryable-errors
frontend web
    bind 127.0.0.1:{port}
    default_backend apps
backend apps
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
{servers}
"""


@pytest.fixture(scope="module")
def cluster(
    postgres_server: PostgresServer,
    model_cache: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    database = "cluster"
    postgres_server.admin(f"DROP DATABASE IF EXISTS {database}")
    postgres_server.admin(f"CREATE DATABASE {database}")
    upstream = FakeServer()
    daily = (FIXTURES / "hf_daily_papers_2026-11-20.json").read_text()
    upstream.route(
        "/api/daily_papers",
        lambda seen: Reply(
            200,
            daily if seen.query.get("date") == ["2026-11-20"] else "[]",
            content_type="application/json",
        ),
    )
    smtp = SmtpSink()
    base = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PAPERBOARD_") or name.startswith("PAPERBOARD_TEST_")
    }
    env = {
        **base,
        "PAPERBOARD_DATABASE_URL": postgres_server.url(database),
        "PAPERBOARD_SECRET_KEY": "one-key-for-every-node-of-this-cluster",
        "PAPERBOARD_MODELS_DIR": str(model_cache),
        "PAPERBOARD_REPLICA_REFRESH_SECONDS": str(REFRESH_SECONDS),
        "PAPERBOARD_LEASE_SECONDS": str(LEASE_SECONDS),
        "PAPERBOARD_PAGE_CACHE_SECONDS": "0",
        "PAPERBOARD_HF_API_URL": upstream.url,
        "PAPERBOARD_INGEST_SOURCES": '["hf"]',
        "PAPERBOARD_SMTP_HOST": "127.0.0.1",
        "PAPERBOARD_SMTP_PORT": str(smtp.port),
        "PAPERBOARD_SMTP_SECURITY": "none",
        "PAPERBOARD_MAIL_RATE": "1000",
        "PAPERBOARD_DIGEST_TIME": "07:00",
        "PAPERBOARD_HTTP_BACKOFF": "0",
    }
    found = Cluster(root, env, smtp)
    found.balancer_port = _free_port()
    try:
        # Both app servers start at once on an empty database: one migrates, the other waits.
        found.start_app("app-a")
        found.start_app("app-b")
        for name in ("app-a", "app-b"):
            found.wait_ready(name)
        found.start_balancer()
        yield found
    finally:
        found.stop()
        upstream.close()
        smtp.close()
        for line in sorted(f"{k}: {v:.2f}" for k, v in found.measured.items()):
            print(f"cluster measured {line}")


def test_an_ingest_on_one_worker_is_searchable_on_every_app_server(cluster: Cluster) -> None:
    assert cluster.search(None, PAPER_WORDS) == []
    started = time.monotonic()
    worker = cluster.worker("node-a", "2026-11-21T06:00:00+00:00")  # before digest time
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, out + err
    assert "ok  ingest" in out
    ingested = time.monotonic()
    found_at: dict[str, float] = {}
    while len(found_at) < 2 and time.monotonic() - ingested < LAG_BOUND:
        for name in ("app-a", "app-b"):
            if name not in found_at and PAPER_ID in cluster.search(name, PAPER_WORDS):
                found_at[name] = time.monotonic()
        time.sleep(0.1)
    assert set(found_at) == {"app-a", "app-b"}, "not searchable on every app server in time"
    cluster.measured["ingest worker run, s"] = ingested - started
    cluster.measured["searchable on both app servers after the run, s"] = (
        max(found_at.values()) - ingested
    )
    for _ in range(4):  # through the balancer, whichever server answers
        assert PAPER_ID in cluster.search(None, PAPER_WORDS)
    # The vectors the worker stored were copied, not made again: meaning search works on both.
    deadline = time.monotonic() + LAG_BOUND
    while time.monotonic() < deadline:
        if all(PAPER_ID in cluster.search(n, PAPER_WORDS, "dense") for n in ("app-a", "app-b")):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("dense search did not find the paper on both app servers")
    health = httpx.get(f"{cluster.url('app-b')}/healthz", timeout=5).json()
    assert health["ready"] is True and health["replica_lag_seconds"] == 0


def test_a_session_made_on_one_app_server_works_on_the_other(cluster: Cluster) -> None:
    import re

    subprocess.run(
        _command("user", "create", "--password-stdin", "ada@example.org"),
        input=PASSWORD,
        env=cluster.node_env("admin"),
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    with httpx.Client(base_url=cluster.url("app-a"), timeout=10) as on_a:
        form = on_a.get("/signin").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        signed = on_a.post(
            "/signin",
            data={"csrf_token": token.group(1), "email": "ada@example.org", "password": PASSWORD},
        )
        assert signed.status_code in (200, 303), signed.text[:300]
        cookies = dict(on_a.cookies)
    with httpx.Client(base_url=cluster.url("app-b"), cookies=cookies, timeout=10) as on_b:
        account = on_b.get("/account")
        assert account.status_code == 200 and "ada@example.org" in account.text


def _subscribe(cluster: Cluster, count: int, frequency: str) -> list[str]:
    from paperboard.store.database import open_engine
    from paperboard.store.digests import DigestStore

    emails = [f"{frequency}{n:02d}@example.org" for n in range(count)]
    engine = open_engine(cluster.env["PAPERBOARD_DATABASE_URL"])
    try:
        digests = DigestStore(engine)
        for email in emails:
            digests.subscribe(email, confirmed=True, for_you=False, frequency=frequency)
    finally:
        engine.dispose()
    return emails


def _messages_by_recipient(smtp: SmtpSink, emails: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {email: [] for email in emails}
    for message in smtp.messages:
        if message["To"] in found:
            found[message["To"]].append(message["Message-ID"])
    return found


def test_two_workers_racing_one_digest_period_send_each_digest_once(cluster: Cluster) -> None:
    emails = _subscribe(cluster, 12, "daily")
    now = "2026-11-21T08:00:00+00:00"
    first, second = cluster.worker("node-a", now), cluster.worker("node-b", now)
    outputs = [process.communicate(timeout=120) for process in (first, second)]
    for process, (out, err) in zip((first, second), outputs, strict=True):
        assert process.returncode == 0, out + err
    sent = _messages_by_recipient(cluster.smtp, emails)
    assert all(len(ids) == 1 for ids in sent.values()), sent
    # Each job ran on one worker only; the other saw it finished or running elsewhere.
    together = outputs[0][0] + outputs[1][0]
    assert together.count("daily:2026-11-20: 12 sent") == 1, together
    again = cluster.worker("node-b", "2026-11-21T08:30:00+00:00")
    out, _ = again.communicate(timeout=120)
    assert "nothing is due" in out
    assert all(len(ids) == 1 for ids in _messages_by_recipient(cluster.smtp, emails).values())


def test_a_worker_killed_mid_digest_is_taken_over_after_its_lease(cluster: Cluster) -> None:
    emails = _subscribe(cluster, 10, "weekly")
    cluster.smtp.delay = 0.3
    monday = "2026-11-23T08:00:00+00:00"  # the weekly digest of 16-22 November is due
    try:
        doomed = cluster.worker("node-a", monday)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if sum(len(i) for i in _messages_by_recipient(cluster.smtp, emails).values()) >= 3:
                break
            time.sleep(0.02)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        cut = sum(len(i) for i in _messages_by_recipient(cluster.smtp, emails).values())
        assert 0 < cut < len(emails), "the worker was not killed midway"
        killed = time.monotonic()
        # The other node finds the job held by node-a until its lease runs out, then finishes it.
        while True:
            survivor = cluster.worker("node-b", monday)
            out, err = survivor.communicate(timeout=120)
            assert survivor.returncode == 0, out + err
            if "weekly:" in out and "sent" in out:
                break
            assert "running in node-a" in out, out
            assert time.monotonic() - killed < LEASE_SECONDS + 30
            time.sleep(1)
        cluster.measured["digest taken over after the kill, s"] = time.monotonic() - killed
    finally:
        cluster.smtp.delay = 0.0
    sent = _messages_by_recipient(cluster.smtp, emails)
    assert all(len(set(ids)) == 1 for ids in sent.values()), sent  # one digest each
    repeats = sum(len(ids) - 1 for ids in sent.values())
    assert repeats <= 1  # at most the message in doubt at the kill, with the same Message-ID


def test_an_app_server_killed_under_load_loses_no_request(cluster: Cluster) -> None:
    failures: list[str] = []
    answered = 0
    with httpx.Client(base_url=cluster.url(), timeout=10) as client:
        for n in range(60):
            if n == 10:
                cluster.apps["app-a"].send_signal(signal.SIGKILL)
            try:
                reply = client.get(f"/papers/{PAPER_ID}")
                if reply.status_code != 200:
                    failures.append(f"{reply.status_code}")
                else:
                    answered += 1
            except httpx.HTTPError as error:
                failures.append(type(error).__name__)
    assert failures == [] and answered == 60
    cluster.apps["app-a"].wait()


def test_a_new_app_server_with_a_fresh_home_is_ready_without_embedding(cluster: Cluster) -> None:
    from sqlalchemy import func, select

    from paperboard.store.database import open_engine
    from paperboard.store.embeddings import paper_vectors

    engine = open_engine(cluster.env["PAPERBOARD_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            before = connection.execute(select(func.count()).select_from(paper_vectors)).scalar()
        assert before and before >= 3
        started = time.monotonic()
        cluster.start_app("app-c")
        health = cluster.wait_ready("app-c")
        cluster.measured["fresh app server ready, s"] = time.monotonic() - started
        with engine.connect() as connection:
            after = connection.execute(select(func.count()).select_from(paper_vectors)).scalar()
    finally:
        engine.dispose()
    assert after == before  # nothing was embedded (again)
    assert health["replica_lag_seconds"] == 0
    assert PAPER_ID in cluster.search("app-c", PAPER_WORDS, "dense")
    copied = list((cluster.root / "app-c" / "index" / "vectors").glob("chunk-*.npy"))
    assert copied, "no vectors in the new server's own index"
