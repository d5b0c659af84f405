"""Run ``paperboard ARGS`` in a child process that kills itself with SIGKILL just before its Nth
change to the files under one folder, so a crash test can step through every point of an update
that touches several files.

The child sees its own file changes through Python's audit events, which CPython raises before a
file is created or opened for writing, renamed, linked or removed. The product code has no test
hooks, and the process really dies of SIGKILL, leaving the files exactly as a crash there would.
Changes made by native code (tantivy's own writes) are not seen.

``run_killed`` starts a new interpreter for each run. A test that steps through many kill points
uses a ``Killer`` instead: one interpreter imports paperboard once, then forks a fresh child per
run, which sets its environment, working folder and audit hook and runs the command as
``run_killed``'s would (a separate process, exiting or dying the same way); only the seconds of
importing are not paid again for each kill point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

# Shared by both ways of running: the audit hook that counts the changes under the folder.
_HOOK = r"""
import os, signal, sys

WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def install_hook(folder, left):
    folder = os.path.realpath(folder) + os.sep

    def inside(path):
        if isinstance(path, int) or path is None:  # a file descriptor
            return False
        return os.path.realpath(os.fsdecode(path)).startswith(folder)

    def hook(event, args):
        nonlocal left
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
"""

_CHILD = (
    _HOOK
    + r"""
install_hook(os.environ["KILLPOINT_FOLDER"], int(os.environ["KILLPOINT_AT"]))
sys.argv = ["paperboard", *sys.argv[1:]]
from paperboard.present.cli.main import run

run()
"""
)

# Reads one job (JSON) a line, forks a child for it and answers its exit status (JSON) a line.
# The child leaves the loop by raising SystemExit, so the interpreter ends as it would have in a
# process of its own (atexit handlers, finalizers), unless SIGKILL comes first.
_FORKER = (
    _HOOK
    + r"""
import importlib, json, time

for name in sys.argv[1:]:
    importlib.import_module(name)
from paperboard.present.cli.main import run

# ONNX Runtime starts a thread of its own when imported, and a child forked after that hangs or
# aborts on its way out: each child imports it itself.
if "onnxruntime" in sys.modules:
    raise SystemExit("killpoint: onnxruntime must not be imported before forking")


def child(job):
    for fd, name in ((1, "stdout"), (2, "stderr")):
        out = os.open(job[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, fd)
        os.close(out)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(0, closefd=False)
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    install_hook(job["folder"], job["at"])
    sys.argv = ["paperboard", *job["args"]]
    run()
    raise SystemExit(0)


for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        child(job)
    deadline = time.monotonic() + job["timeout"]
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline and not timed_out:
            os.kill(pid, signal.SIGKILL)
            timed_out = True
        time.sleep(0.005)
    answer = {"returncode": os.waitstatus_to_exitcode(status), "timed_out": timed_out}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
"""
)

# What ``paperboard index`` imports on its way, less ONNX Runtime (see ``_FORKER``): about three
# seconds of each run.
INDEX_MODULES = (
    "paperboard.index.indexer",
    "paperboard.index.facets",
    "paperboard.index.onnx_model",
    "paperboard.present.coordination",
    "tokenizers",
    "tantivy",
)


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


class Killer:
    """``run_killed`` for many runs: children forked from one interpreter that imported paperboard
    (and ``modules``) once. Use as a context manager."""

    def __init__(self, modules: Sequence[str] = INDEX_MODULES) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="killpoint-")
        self._process = subprocess.Popen(
            [sys.executable, "-c", _FORKER, *modules],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run_killed(
        self,
        args: list[str],
        *,
        folder: Path,
        at: int,
        env: dict[str, str],
        cwd: Path,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """As the module's ``run_killed``, in a child forked for this run."""
        assert self._process.stdin is not None and self._process.stdout is not None
        out, err = Path(self._folder.name, "stdout"), Path(self._folder.name, "stderr")
        job = {
            "args": args,
            "folder": str(folder),
            "at": at,
            "env": os.environ | env,
            "cwd": str(cwd),
            "timeout": timeout,
            "stdout": str(out),
            "stderr": str(err),
        }
        self._process.stdin.write(json.dumps(job) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the forking process ended (exit status {self._process.wait()})")
        answer = json.loads(line)
        stdout, stderr = out.read_text("utf-8"), err.read_text("utf-8")
        command = ["paperboard", *args]
        if answer["timed_out"]:
            raise subprocess.TimeoutExpired(command, timeout, stdout, stderr)
        return subprocess.CompletedProcess(command, answer["returncode"], stdout, stderr)

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._folder.cleanup()

    def __enter__(self) -> Killer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
