"""The deployment recipe in ``deploy/`` holds together: the compose file's services and their
order, the systemd units and their hardening, the env file's settings as paperboard reads them,
HAProxy's and nginx's own checks of their configurations, and HAProxy routing for real between
two backends by their ``/healthz``. Docker itself is not run here."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FakeServer, Reply, SeenRequest, program_missing

from paperboard.core.config import load_settings
from paperboard.core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
ENV_EXAMPLE = DEPLOY / "paperboard.env.example"
SECRET = "0123456789abcdef" * 4
# haproxy.cfg's placeholder servers: renderers (compose.yaml's haproxy, the tests) replace them.
PLACEHOLDERS = ["server app1 127.0.0.1:8001 check", "server app2 127.0.0.1:8002 check"]


def tool(name: str) -> str | None:
    """A program on PATH or in /usr/sbin (not on every user's PATH)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- compose.yaml --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def paperboard_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image") == "paperboard:local"
    }


def test_compose_has_the_database_migration_app_servers_worker_and_balancer(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "app1", "app2", "worker", "haproxy"}
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    assert services["migrate"]["command"] == ["paperboard", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("app1", "app2"):
        assert services[name]["command"][:2] == ["paperboard", "serve"]
        assert "0.0.0.0" in services[name]["command"]
        assert "/healthz" in " ".join(services[name]["healthcheck"]["test"])
    assert services["worker"]["command"] == ["paperboard", "worker"]
    assert services["worker"]["stop_signal"] == "SIGINT"
    assert set(services["haproxy"]["depends_on"]) == {"app1", "app2"}
    for built in paperboard_services(compose).values():
        assert built["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}


def test_every_paperboard_service_starts_after_the_migration(compose: dict[str, Any]) -> None:
    services = paperboard_services(compose)
    assert set(services) == {"migrate", "app1", "app2", "worker"}
    for name, service in services.items():
        if name != "migrate":
            condition = service["depends_on"]["migrate"]["condition"]
            assert condition == "service_completed_successfully", name


def test_every_paperboard_service_shares_one_secret_key_and_database(
    compose: dict[str, Any],
) -> None:
    services = paperboard_services(compose)
    for setting in ("PAPERBOARD_SECRET_KEY", "PAPERBOARD_DATABASE_URL", "PAPERBOARD_BASE_URL"):
        values = {service["environment"][setting] for service in services.values()}
        assert len(values) == 1, setting
    (key,) = {service["environment"]["PAPERBOARD_SECRET_KEY"] for service in services.values()}
    # from deploy/.env, and compose stops when it is missing rather than start without one
    assert key.startswith("${PAPERBOARD_SECRET_KEY:?")
    homes = [
        volume.split(":")[0]
        for name, service in services.items()
        if name != "migrate"
        for volume in service["volumes"]
        if volume.endswith(":/var/lib/paperboard")
    ]
    assert sorted(homes) == ["app1-home", "app2-home", "worker-home"]


def test_the_compose_balancer_renders_the_placeholders_of_haproxy_cfg(
    compose: dict[str, Any],
) -> None:
    haproxy = compose["services"]["haproxy"]
    assert "./haproxy.cfg:/etc/paperboard/haproxy.cfg:ro" in haproxy["volumes"]
    script = haproxy["command"][-1]
    config = (DEPLOY / "haproxy.cfg").read_text()
    for placeholder in PLACEHOLDERS:
        assert f"\n    {placeholder}\n" in config
        address = placeholder.split()[2]
        assert f"s/{address} check/" in script, address


def test_the_image_installs_cpu_torch_before_paperboard() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    torch = dockerfile.index("pip install torch==2.13.0 --index-url https://download.pytorch.org")
    assert torch < dockerfile.index("pip install /build")
    assert "USER paperboard" in dockerfile


# -- systemd units and the env file ---------------------------------------------------------------


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser


def env_example() -> dict[str, str]:
    """The env file as systemd reads it: KEY=value lines, a value in '...' taken literally."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            values[key.strip()] = value
    return values


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("paperboard-web.service", "paperboard serve"),
        ("paperboard-worker.service", "paperboard worker"),
    ],
)
def test_the_units_run_paperboard_as_its_own_user_in_a_read_only_system(
    name: str, command: str
) -> None:
    service = unit(name)["Service"]
    assert f"/bin/{command}" in service["ExecStart"]
    assert service["EnvironmentFile"] == "/etc/paperboard/paperboard.env"
    assert service["User"] == "paperboard" and service["Group"] == "paperboard"
    assert service["Restart"] == "on-failure"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    home = env_example()["PAPERBOARD_HOME"]
    assert home in service["ReadWritePaths"].split()
    assert f"/var/lib/{service['StateDirectory']}" == home


def test_the_web_unit_serves_every_interface_and_empties_its_metrics_folder() -> None:
    service = unit("paperboard-web.service")["Service"]
    assert "--host 0.0.0.0 --port 8000" in service["ExecStart"]
    folder = service["Environment"].removeprefix("PROMETHEUS_MULTIPROC_DIR=")
    assert folder == f"/run/{service['RuntimeDirectory']}"
    assert f"rm -f {folder}/*.db" in service["ExecStartPre"]


def test_the_worker_unit_stops_the_worker_like_ctrl_c() -> None:
    assert unit("paperboard-worker.service")["Service"]["KillSignal"] == "SIGINT"


def test_systemd_knows_every_directive_of_the_units(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    names = sorted(path.name for path in UNITS.glob("*.service"))
    assert names == ["paperboard-web.service", "paperboard-worker.service"]
    for name in names:
        # verify wants ExecStart's program to exist: point it at this Python instead
        text = (
            (UNITS / name)
            .read_text()
            .replace("/srv/paperboard/.venv/bin/paperboard", sys.executable)
        )
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / name) for name in names)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # "Unknown key ...", "Invalid ...": any word about our units (others' may be the host's)
    ours = [line for line in done.stderr.splitlines() if "paperboard-" in line]
    assert done.returncode == 0 and ours == [], done.stderr


def test_the_env_example_is_read_by_paperboard_once_its_secret_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no paperboard.toml
    for name in [*os.environ]:
        if name.startswith("PAPERBOARD_"):
            monkeypatch.delenv(name)
    values = env_example()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="PAPERBOARD_SECRET_KEY"):
        load_settings()  # the placeholder: nobody runs a cluster on it by mistake
    monkeypatch.setenv("PAPERBOARD_SECRET_KEY", SECRET)
    settings = load_settings()
    assert settings.db_url.startswith("postgresql+psycopg://")
    assert settings.ingest_sources == ["hf", "rss:cs.LG+cs.CV"]
    assert settings.mail_from == "paperboard <papers@example.org>"
    assert settings.metrics_token is None  # left blank: unset
    assert settings.replica_refresh_seconds == 10 and settings.lease_seconds == 120
    assert str(settings.home) == values["PAPERBOARD_HOME"]


# -- the load balancers -------------------------------------------------------------------------


def render_haproxy(port: int, servers: list[str], inter: str = "100ms") -> str:
    """deploy/haproxy.cfg listening on loopback ``port``, balancing ``servers`` (host:port)."""
    text = (DEPLOY / "haproxy.cfg").read_text()
    assert text.count("\n    bind :80\n") == 1 and text.count(" inter 2s ") == 1
    text = text.replace("\n    bind :80\n", f"\n    bind 127.0.0.1:{port}\n")
    text = text.replace(" inter 2s ", f" inter {inter} ")
    lines = "".join(f"    server app{n} {address} check\n" for n, address in enumerate(servers, 1))
    first, *others = (f"    {placeholder}\n" for placeholder in PLACEHOLDERS)
    assert text.count(first) == 1
    text = text.replace(first, lines)
    for placeholder in others:
        text = text.replace(placeholder, "")
    return text


def test_haproxy_accepts_its_configuration() -> None:
    haproxy = tool("haproxy")
    if haproxy is None:
        program_missing("haproxy")
    done = subprocess.run(
        [haproxy, "-c", "-f", str(DEPLOY / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warnings were found" not in done.stdout + done.stderr


def test_nginx_accepts_its_configuration(tmp_path: Path) -> None:
    nginx = tool("nginx")
    if nginx is None:
        program_missing("nginx")
    temporary = "\n".join(
        f"    {kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    wrapper = tmp_path / "nginx.conf"
    wrapper.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n{temporary}\n    access_log off;\n    include {DEPLOY / 'nginx.conf'};\n}}\n"
    )
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", "stderr", "-c", str(wrapper)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


class Backend:
    """An app server stand-in: answers ``/healthz`` with ``health``, and ``/`` with its name."""

    def __init__(self, name: str) -> None:
        self.name, self.health = name, 200
        self.server = FakeServer()
        self.server.route(
            "/healthz", lambda seen: Reply(self.health, b"", content_type="application/json")
        )
        self.server.route("/", Reply(200, name, content_type="text/plain"))
        self.server.route("/metrics", Reply(200, "secret", content_type="text/plain"))

    @property
    def address(self) -> str:
        return self.server.url.removeprefix("http://")

    def seen(self, path: str) -> list[SeenRequest]:
        return [request for request in list(self.server.requests) if request.path == path]


def header(request: SeenRequest, name: str) -> str | None:
    return next((v for k, v in request.headers.items() if k.lower() == name.lower()), None)


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.05)


@pytest.fixture
def balanced(tmp_path: Path) -> Iterator[tuple[str, Backend, Backend]]:
    """HAProxy with deploy/haproxy.cfg in front of two backends: its URL and the backends."""
    haproxy = tool("haproxy")
    if haproxy is None:
        program_missing("haproxy")
    one, two = Backend("app1"), Backend("app2")
    port = free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(render_haproxy(port, [one.address, two.address]))
    log = (tmp_path / "haproxy.log").open("w")
    process = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=log, stderr=log)
    try:
        yield f"http://127.0.0.1:{port}", one, two
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        one.server.close()
        two.server.close()


def test_haproxy_sends_requests_only_to_app_servers_whose_healthz_says_200(
    balanced: tuple[str, Backend, Backend],
) -> None:
    url, one, two = balanced
    two.health = 503  # starting, or failing
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as client:

        def answers() -> list[str]:
            try:
                return [client.get("/").text for _ in range(4)]
            except httpx.TransportError:  # not listening yet
                return []

        wait_for(lambda: answers() == ["app1"] * 4, "app2 taken out after failed checks")
        assert [client.get("/").text for _ in range(10)] == ["app1"] * 10
        assert two.seen("/healthz")  # a failed check takes a server out before it rises

        # The client's address and scheme reach the app server, whatever the client claims.
        before = len(one.seen("/"))
        client.get("/", headers={"X-Forwarded-Proto": "https"})
        forwarded = one.seen("/")[before]
        assert header(forwarded, "x-forwarded-for") == "127.0.0.1"
        assert header(forwarded, "x-forwarded-proto") == "http"

        # /metrics is for Prometheus, straight from each app server
        assert client.get("/metrics").status_code == 403
        assert one.seen("/metrics") == [] and two.seen("/metrics") == []

        two.health = 200  # ready: back in the round robin
        wait_for(lambda: "app2" in answers(), "app2 back after good checks")
        assert sorted(client.get("/").text for _ in range(4)) == ["app1", "app1", "app2", "app2"]
