"""A serving process runs its BLAS libraries with one thread, and each process has thread pools of
its own (core/threads.py)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
from typing import Any

from conftest import sqlite_only

from paperboard.core.threads import thread_pool

PROBE = """
import json
from fastapi.testclient import TestClient
from threadpoolctl import threadpool_info
import faiss, numpy  # loaded before the app, as a worker that built indexes would have them

def blas():  # OpenBLAS built on pthreads: one pool for the whole process
    return sorted(
        (l["filepath"].rsplit("/", 1)[-1], l["num_threads"])
        for l in threadpool_info()
        if l["user_api"] == "blas" and l.get("threading_layer") == "pthreads"
    )

from paperboard.present.web.app import create_app
before = blas()
with TestClient(create_app()) as client:
    status = client.get("/healthz").status_code
    during = blas()
print(json.dumps({"before": before, "during": during, "status": status}))
"""


@sqlite_only  # about the process, not the database
def test_the_site_limits_blas_to_one_thread(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, **env, "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] and all(n == 2 for _, n in seen["before"]), seen
    assert [name for name, _ in seen["during"]] == [name for name, _ in seen["before"]], seen
    assert all(n == 1 for _, n in seen["during"]), seen


def _run_in_pool(out: Any) -> None:
    pool = thread_pool("probe", 2)
    out.put((pool.submit(threading.get_ident).result(timeout=20), id(pool)))


def test_a_forked_child_gets_pools_of_its_own() -> None:
    """A pool used before a fork would leave the child waiting for threads it does not have."""
    pool = thread_pool("probe", 2)
    assert thread_pool("probe", 2) is pool and thread_pool("other", 2) is not pool
    assert pool.submit(threading.get_ident).result() != threading.get_ident()
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_run_in_pool, args=(out,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0
    _, child_pool = out.get(timeout=5)
    assert child_pool != id(pool)
