"""Writing a file so that a reader, or a restart after a crash, finds the old content or the new,
never part of either.

The data goes to a temporary file with a unique name in the target's folder
(``.NAME.RANDOM.tmp``), is flushed to disk, and is renamed over the target in one step; the folder
is then flushed too, so that the rename itself survives a power cut. When anything fails, the
temporary file is removed and the target is left as it was.

:func:`atomic_write` writes bytes or text; :func:`atomic_path` hands a temporary path to code that
can only write to a path of its own (``onnx.save_model``, ``faiss.write_index``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

_ATTEMPTS = 100


def _create_temporary(target: Path, mode: int | None) -> tuple[int, Path]:
    """A new, empty file beside ``target`` that no one else has opened, and its descriptor.

    Without ``mode`` it gets the permissions a plain ``open`` would give (0o666 less the umask);
    with it, exactly ``mode``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(_ATTEMPTS):
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temporary, flags, 0o666 if mode is None else mode)
        except FileExistsError:
            continue
        if mode is not None:
            try:
                os.fchmod(fd, mode)  # the umask only ever removes bits: make it exact
            except BaseException:
                os.close(fd)
                temporary.unlink(missing_ok=True)
                raise
        return fd, temporary
    raise FileExistsError(f"no free temporary name beside {target}")


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk, where the system lets a folder be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse to fsync a folder
            os.fsync(fd)
    finally:
        os.close(fd)


def _put_in_place(temporary: Path, target: Path, *, fsync: bool, exclusive: bool) -> None:
    if exclusive:
        os.link(temporary, target)  # FileExistsError when target exists: the first writer wins
    else:
        os.replace(temporary, target)
    if fsync:
        _fsync_folder(target.parent)


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    fsync: bool = True,
    mode: int | None = None,
    exclusive: bool = False,
) -> None:
    """Replace the file at ``path`` with ``data`` (text is written as UTF-8) in one step.

    ``fsync`` flushes the file and then its folder to disk before returning, so the new content
    survives a power cut. ``mode`` sets the file's permissions exactly; without it they are those
    of a plain ``open``. With ``exclusive``, an existing file is kept and :class:`FileExistsError`
    raised instead (the first of several concurrent writers wins; the others read its file).
    """
    target = Path(path)
    # Encoded before any file exists, so text that cannot be encoded leaves nothing behind.
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, temporary = _create_temporary(target, mode)
    try:
        with open(fd, "wb") as handle:
            handle.write(payload)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        _put_in_place(temporary, target, fsync=fsync, exclusive=exclusive)
    finally:
        temporary.unlink(missing_ok=True)  # gone already after a replace


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, fsync: bool = True, mode: int | None = None
) -> Iterator[Path]:
    """A temporary path to write the new content of ``path`` to; when the block ends without an
    error, the file written there replaces ``path`` in one step (flushed to disk first when
    ``fsync``, with exactly ``mode`` when given), and otherwise it is removed."""
    target = Path(path)
    fd, temporary = _create_temporary(target, mode)
    os.close(fd)
    try:
        yield temporary
        if mode is not None:
            os.chmod(temporary, mode)  # in case the writer made a new file there
        if fsync:
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())
        _put_in_place(temporary, target, fsync=fsync, exclusive=False)
    finally:
        temporary.unlink(missing_ok=True)
