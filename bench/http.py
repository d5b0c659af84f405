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

For each: requests/s, p50 and p99 latency, socket errors, non-2xx answers, and the 1-minute load
average before the run (other work on the machine skews the figures: repeat when it is high).
The home must hold the papers and their indexes already (``python bench/search.py --home DIR``).

    python bench/http.py --home /tmp/bench40k               # 64 connections, 30 s per scenario
    python bench/http.py --home /tmp/bench40k --duration 10 --client python
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# This file is named like the standard library's ``http`` package: keep its folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from urllib.parse import quote_plus  # noqa: E402

ROOT = HERE.parent


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # connect/read/write errors and timeouts
    non_2xx: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _queries(count: int) -> list[str]:
    """bench/search.py's queries: 2–4 word phrases from real titles."""
    spec = importlib.util.spec_from_file_location("bench_search", HERE / "search.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
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
        self.log = tempfile.TemporaryFile(mode="w+")
        command = [sys.executable, "-m", "paperboard", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", str(workers)]
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

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
        self.log.seek(0)
        return self.log.read()[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # uvicorn's supervisor stops its workers
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


# -- wrk ----------------------------------------------------------------------------------------

_WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local threads, counter, position = {}, 0, 1
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
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
  io.write(string.format("BENCH %d %d %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.timeout, e.status))
end
"""


def run_wrk(base: str, paths: list[str], connections: int, seconds: int, threads: int) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        script, listing = Path(folder) / "paths.lua", Path(folder) / "paths.txt"
        script.write_text(_WRK_SCRIPT)
        listing.write_text("\n".join(paths) + "\n")
        env = {**os.environ, "BENCH_PATHS": str(listing), "BENCH_THREADS": str(threads)}
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
                   "--timeout", "30s", "-s", str(script), base + paths[0]]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    found = re.search(r"^BENCH (.+)$", done.stdout, re.M)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    requests, duration_us, p50, p99, connect, read, write, timeout, status = map(int, found.group(1).split())
    return Result(requests, duration_us / 1e6, p50 / 1000, p99 / 1000, connect + read + write + timeout, status)


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
                    await answer.aread()
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
    return Result(len(samples), elapsed, pick(0.50), pick(0.99), errors, non_2xx)


def run_python(base: str, paths: list[str], connections: int, seconds: int, _threads: int) -> Result:
    return asyncio.run(_python_load(base, paths, connections, seconds))


# -- scenarios ----------------------------------------------------------------------------------

def scenarios(server: Server, queries: list[str]) -> list[tuple[str, list[str]]]:
    latest = json.loads(server.get("/.json"))
    day = latest.get("previous") or f"/papers/date/{latest['start']}"
    search = [f"/api/papers/search?q={quote_plus(q)}" for q in queries]
    return [("feed /", ["/"]), (f"day {day.rsplit('/', 1)[-1]}", [day]), ("search API", search)]


def measure(args: argparse.Namespace, load, cache_seconds: int, queries: list[str]) -> dict[str, Result]:  # type: ignore[no-untyped-def]
    results: dict[str, Result] = {}
    label = f"cache {cache_seconds}s" if cache_seconds else "no cache"
    with Server(args.home, args.workers, cache_seconds) as server:
        server.wait()
        plan = scenarios(server, queries)
        for path in ("/", plan[1][1][0], "/api/papers/search?q=warm+up"):  # load templates, indexes, model
            for _ in range(2 * args.workers):
                server.get(path)
        for name, paths in plan:
            load_before = os.getloadavg()[0]
            result = load(server.base, paths, args.connections, args.duration, args.threads)
            results[name] = result
            print(f"  {name:<17} {label:<10} {result.rate:>9,.0f} {result.p50_ms:>9.1f} {result.p99_ms:>9.1f}"
                  f" {result.errors:>7,} {result.non_2xx:>8,} {load_before:>7.2f}   ({result.requests:,} requests)",
                  flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="a prepared home (papers and indexes)")
    parser.add_argument("--duration", type=int, default=30, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=64, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--queries", type=int, default=3000, help="different search queries to cycle over")
    parser.add_argument("--cache-seconds", type=int, default=30, help="the page cache's lifetime (at most 60)")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-baseline", action="store_true", help="skip the runs with the cache off")
    args = parser.parse_args()
    if not (args.home / "paperboard.db").exists():
        raise SystemExit(f"{args.home} holds no paperboard.db: prepare it with python bench/search.py --home DIR")
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    if args.client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    load = run_wrk if use_wrk else run_python
    queries = _queries(args.queries)
    tool = f"wrk, {args.threads} threads" if use_wrk else "Python asyncio + httpx (wrk not found: figures are a floor)"
    print(f"{args.home}: {args.workers} workers, {args.connections} connections, {args.duration}s per scenario; "
          f"client: {tool}; {os.cpu_count()} cores; search cycles over {len(queries):,} queries")
    print(f"  {'scenario':<17} {'server':<10} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'non-2xx':>8} {'load1':>7}")
    cached = measure(args, load, args.cache_seconds, queries)
    if args.no_baseline:
        return
    plain = measure(args, load, 0, queries)
    print("  cache effect (cached / uncached):")
    for name, result in cached.items():
        base = plain[name]
        print(f"  {name:<17} req/s x{result.rate / max(base.rate, 1e-9):6.1f}   "
              f"p50 {base.p50_ms:7.1f} -> {result.p50_ms:6.1f} ms   p99 {base.p99_ms:7.1f} -> {result.p99_ms:6.1f} ms")
    search = cached["search API"]
    if search.requests > len(queries):
        print(f"  (search: {search.requests:,} requests over {len(queries):,} queries: at least "
              f"{search.requests - len(queries):,} could be cache hits; raise --queries to avoid them)")


if __name__ == "__main__":
    main()
