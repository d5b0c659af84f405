"""HTTP load benchmark: the feed pages and the search API under concurrent clients.

The site is started here (``paperboard serve --workers N`` on a free port, on ``--home``) and driven
by ``wrk`` (Debian's package: ``apt-get install wrk``) with ``--connections`` open connections for
``--duration`` seconds per scenario; without wrk, a Python asyncio/httpx client does it (much
slower on a small machine, where the client competes with the server for the same cores: its
figures are a floor). The tool used is printed.

Scenarios, each with the page cache on (``PAPERBOARD_PAGE_CACHE_SECONDS``, default 30) and as a
baseline with it off (0), both servers started by this process; the ratio is cached/uncached:

1. ``/``: the feed (HTML), the latest day;
2. ``/papers/date/<the day before>``: a day page (HTML);
3. ``/api/papers/search?q=...``: hybrid search, cycling over ``--queries`` different 2–4 word
   phrases from real titles (as bench/search.py does), so that the cache does not answer them all.

For each: requests/s, p50, p99 (and p99.9) latency, socket errors, non-2xx answers, and where the
CPU went during the run, in cores: the server (all its processes), the load generator, and
everything else (from /proc: other work on the machine skews the figures, so repeat a run where
"other" is high). The home must hold the papers and their indexes already
(``python bench/search.py --home DIR``).

    python bench/http.py --home /tmp/bench40k               # 64 connections, 30 s per scenario
    python bench/http.py --home /tmp/bench40k --duration 10 --client python
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _off_path() -> None:
    """This file is named like the standard library's ``http`` package: keep its folder off the
    path."""
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


_off_path()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from urllib.parse import quote_plus  # noqa: E402

ROOT = HERE.parent


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    errors: int  # connect/read/write errors and timeouts
    non_2xx: int
    server_cores: float = 0.0  # CPU the server used, in cores (seconds per second)
    client_cores: float = 0.0  # the load generator's
    other_cores: float = 0.0  # everything else on the machine: noise

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _queries(count: int) -> list[str]:
    """bench/search.py's queries: 2–4 word phrases from real titles."""
    spec = importlib.util.spec_from_file_location("bench_search", HERE / "search.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    _off_path()  # bench/search.py puts its folder on the path
    return list(dict.fromkeys(module._queries(count)))  # distinct, in order


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``paperboard serve`` in a child process (its own process group), stopped on exit."""

    def __init__(self, home: Path, workers: int, cache_seconds: int) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOARD_")}
        env["PAPERBOARD_HOME"] = str(home)
        env["PAPERBOARD_PAGE_CACHE_SECONDS"] = str(cache_seconds)
        self.log = home / "logs" / f"bench-serve-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "paperboard",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        with self.log.open("w") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                command,
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited ({self.process.returncode}):\n{self.output()}")
            try:
                with urllib.request.urlopen(self.base + "/", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"the server did not answer within {timeout:.0f}s:\n{self.output()}")

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=60) as answer:
            return answer.read()  # type: ignore[no-any-return]

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # uvicorn's supervisor stops its workers
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


# -- CPU accounting: how much of the machine other work took during a run --------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal: the loopback traffic's kernel work lands in
    # softirq, attributed to no process; leave it (and idle, iowait) out
    return (fields[0] + fields[1] + fields[2] + fields[7]) / _TICK


def _session_seconds(session: int) -> float:
    """CPU seconds used so far by the live processes of ``session`` (the server and its workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session:  # fields after the name: state ppid pgrp session ...
                total += int(fields[11]) + int(fields[12])  # utime stime
    return total / _TICK


def _own_seconds() -> float:
    """CPU seconds of this process and its waited-for children (wrk)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# -- wrk ----------------------------------------------------------------------------------------

_WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local counter, position = 0, 1
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  -- each thread starts at its own offset, so the threads do not ask the same path together
  position = math.floor((id - 1) * #paths / math.max(1, tonumber(os.getenv("BENCH_THREADS")))) + 1
end
function request()
  local path = paths[position]
  position = position % #paths + 1
  return wrk.format("GET", path)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d %d %d %d %d\\n", \
summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    e.connect, e.read, e.write, e.timeout, e.status))
end
"""


def run_wrk(base: str, paths: list[str], connections: int, seconds: int, threads: int) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        script, listing = Path(folder) / "paths.lua", Path(folder) / "paths.txt"
        script.write_text(_WRK_SCRIPT)
        listing.write_text("\n".join(paths) + "\n")
        env = {**os.environ, "BENCH_PATHS": str(listing), "BENCH_THREADS": str(threads)}
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "30s",
            "-s",
            str(script),
            base + paths[0],
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    found = re.search(r"^BENCH (.+)$", done.stdout, re.M)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    requests, duration_us, p50, p99, p999, *errors, status = map(int, found.group(1).split())
    return Result(
        requests, duration_us / 1e6, p50 / 1000, p99 / 1000, p999 / 1000, sum(errors), status
    )


# -- Python fallback ----------------------------------------------------------------------------


async def _python_load(base: str, paths: list[str], connections: int, seconds: float) -> Result:
    import httpx

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    samples: list[float] = []
    errors = non_2xx = 0
    position = 0
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def one_client() -> None:
            nonlocal errors, non_2xx, position
            while time.perf_counter() < deadline:
                path = paths[position % len(paths)]
                position += 1
                sent = time.perf_counter()
                try:
                    answer = await client.get(path)
                except httpx.HTTPError:
                    errors += 1
                    continue
                samples.append(time.perf_counter() - sent)
                if not 200 <= answer.status_code < 300:
                    non_2xx += 1

        await asyncio.gather(*(one_client() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    ordered = sorted(samples) or [0.0]
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return Result(len(samples), elapsed, pick(0.50), pick(0.99), pick(0.999), errors, non_2xx)


def run_python(
    base: str, paths: list[str], connections: int, seconds: int, _threads: int
) -> Result:
    return asyncio.run(_python_load(base, paths, connections, seconds))


# -- scenarios ----------------------------------------------------------------------------------


def scenarios(server: Server, queries: list[str]) -> list[tuple[str, list[str]]]:
    latest = json.loads(server.get("/.json"))
    day = latest.get("previous") or f"/papers/date/{latest['start']}"
    search = [f"/api/papers/search?q={quote_plus(q)}" for q in queries]
    return [("feed /", ["/"]), (f"day {day.rsplit('/', 1)[-1]}", [day]), ("search API", search)]


Load = Callable[[str, list[str], int, int, int], Result]


def measure(
    args: argparse.Namespace, load: Load, cache_seconds: int, queries: list[str]
) -> dict[str, Result]:
    results: dict[str, Result] = {}
    label = f"cache {cache_seconds}s" if cache_seconds else "no cache"
    with Server(args.home, args.workers, cache_seconds) as server:
        server.wait()
        plan = scenarios(server, queries)
        for path in (
            "/",
            plan[1][1][0],
            "/api/papers/search?q=warm+up",
        ):  # load templates, indexes, model
            for _ in range(2 * args.workers):
                server.get(path)
        for name, paths in plan:
            if args.only and name.split()[0] not in args.only:
                continue
            busy, served, own = (
                _busy_seconds(),
                _session_seconds(server.process.pid),
                _own_seconds(),
            )
            started = time.perf_counter()
            result = load(server.base, paths, args.connections, args.duration, args.threads)
            elapsed = time.perf_counter() - started
            result.server_cores = (_session_seconds(server.process.pid) - served) / elapsed
            result.client_cores = (_own_seconds() - own) / elapsed
            machine = (_busy_seconds() - busy) / elapsed
            result.other_cores = max(0.0, machine - result.server_cores - result.client_cores)
            results[name] = result
            print(
                f"  {name:<15} {label:<9} {result.rate:>8,.0f} {result.p50_ms:>8.1f}"
                f" {result.p99_ms:>8.1f} {result.p999_ms:>8.1f} {result.errors:>6,}"
                f" {result.non_2xx:>7,}   {result.server_cores:.2f} /"
                f" {result.client_cores:.2f} / {result.other_cores:.2f}   {result.requests:>9,}",
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--home", type=Path, required=True, help="a prepared home (papers and indexes)"
    )
    parser.add_argument("--duration", type=int, default=30, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=64, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--queries", type=int, default=10_000, help="different search queries to cycle over"
    )
    parser.add_argument(
        "--cache-seconds", type=int, default=30, help="the page cache's lifetime (at most 60)"
    )
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--only", nargs="+", choices=("feed", "day", "search"), help="run only these scenarios"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the runs with the cache off"
    )
    args = parser.parse_args()
    if not (args.home / "paperboard.db").exists():
        raise SystemExit(
            f"{args.home} holds no paperboard.db: prepare it with python bench/search.py --home DIR"
        )
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    if args.client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    load: Load = run_wrk if use_wrk else run_python
    queries = _queries(args.queries)
    tool = (
        f"wrk, {args.threads} threads"
        if use_wrk
        else (
            "Python asyncio + httpx"
            + ("" if args.client == "python" else " (wrk not found)")
            + ": far costlier per request than wrk, its figures are a floor"
        )
    )
    print(
        f"{args.home}: {args.workers} workers, {args.connections} connections, "
        f"{args.duration}s per scenario; "
        f"client: {tool}; {os.cpu_count()} cores; search cycles over {len(queries):,} queries"
    )
    print(
        f"  load average now {os.getloadavg()[0]:.2f}; 'other' is the CPU other work took"
        " during a run:"
        " repeat where it is high"
    )
    print(
        f"  {'scenario':<15} {'server':<9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'p99.9 ms':>8} {'errors':>6}"
        f" {'non-2xx':>7}   cores: server / client / other   requests"
    )
    cached = measure(args, load, args.cache_seconds, queries)
    if args.no_baseline:
        return
    plain = measure(args, load, 0, queries)
    print("  cache effect (cached / uncached):")
    for name, result in cached.items():
        base = plain[name]
        print(
            f"  {name:<15} req/s x{result.rate / max(base.rate, 1e-9):6.1f}   "
            f"p50 {base.p50_ms:7.1f} -> {result.p50_ms:6.1f} ms   "
            f"p99 {base.p99_ms:7.1f} -> {result.p99_ms:6.1f} ms"
        )
    search = cached.get("search API")
    if search is not None and search.requests > len(queries):
        print(
            f"  (search: {search.requests:,} requests over {len(queries):,} queries:"
            f" at least {search.requests - len(queries):,} could be cache hits;"
            " raise --queries to avoid them)"
        )


if __name__ == "__main__":
    main()
