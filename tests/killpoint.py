"""Run ``paperboard ARGS`` in a child process that kills itself with SIGKILL just before its Nth
change to the files under one folder, so a crash test can step through every point of an update
that touches several files.

The child sees its own file changes through Python's audit events, which CPython raises before a
file is created or opened for writing, renamed, linked or removed. The product code has no test
hooks, and the process really dies of SIGKILL, leaving the files exactly as a crash there would.
Changes made by native code (tantivy's own writes) are not seen.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import os, signal, sys

folder = os.path.realpath(os.environ["KILLPOINT_FOLDER"]) + os.sep
left = int(os.environ["KILLPOINT_AT"])
WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def inside(path):
    if isinstance(path, int) or path is None:  # a file descriptor
        return False
    return os.path.realpath(os.fsdecode(path)).startswith(folder)


def hook(event, args):
    global left
    if event == "open":
        changed = [args[0]] if isinstance(args[2], int) and args[2] & WRITES else []
    elif event in ("os.rename", "os.link"):
        changed = [args[0], args[1]]
    elif event in ("os.remove", "os.rmdir", "os.mkdir", "os.truncate"):
        changed = [args[0]]
    else:
        return
    if any(inside(path) for path in changed):
        left -= 1
        if left == 0:
            os.kill(os.getpid(), signal.SIGKILL)


sys.addaudithook(hook)
sys.argv = ["paperboard", *sys.argv[1:]]
from paperboard.present.cli.main import run

run()
"""


def run_killed(
    args: list[str], *, folder: Path, at: int, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``paperboard ARGS``, killed before its ``at``-th change under ``folder`` (returncode
    ``-SIGKILL``) or run to its end when it makes fewer changes."""
    return subprocess.run(
        [sys.executable, "-c", _CHILD, *args],
        env=os.environ | env | {"KILLPOINT_FOLDER": str(folder), "KILLPOINT_AT": str(at)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
