"""Thread limits for the numeric libraries in a process that serves requests, and the thread
pools a search hands its parts to.

numpy's and scipy's OpenBLAS start one thread per core and, after each product, keep those threads
spinning for a while in case another comes. A query's products are small (one vector against a few
hundred rows), so the extra threads gain nothing there, and their spinning took the second core of
a 2-core server from the search itself (2.7M papers: lexical p95 57.6 ms with the default, 45.8 ms
with one BLAS thread; ``bench/search.py``). Batch jobs (index builds, the map) keep the default.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import threadpool_limits

_POOLS: dict[tuple[int, str], ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def thread_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """The process's pool called ``name`` (made on first use). A forked child gets pools of its
    own: an inherited one believes the parent's idle threads are there, and work handed to it
    would wait for them forever."""
    key = (os.getpid(), name)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ThreadPoolExecutor(workers, thread_name_prefix=f"pb-{name}")
        return pool


def limit_blas_for_serving() -> None:
    """Let the BLAS libraries use one thread for the rest of this process. numpy and faiss are
    imported first, so that their libraries are loaded (and limited) now rather than later with
    the default. The pthreads OpenBLAS pools are process-wide; faiss's OpenMP build takes the
    limit only in the calling thread."""
    import faiss  # noqa: F401 -- loads its BLAS
    import numpy  # noqa: F401 -- loads OpenBLAS

    threadpool_limits(limits=1, user_api="blas")
