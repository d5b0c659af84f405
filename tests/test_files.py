"""core/files.py: a file is replaced whole or not at all, and no temporary file is left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from paperboard.core.files import atomic_path, atomic_write


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_writes_a_new_file_in_bytes_or_text(tmp_path: Path) -> None:
    atomic_write(tmp_path / "a.bin", b"\x00\x01")
    atomic_write(tmp_path / "b.txt", "Schrödinger\n")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_bytes() == "Schrödinger\n".encode()
    assert names(tmp_path) == ["a.bin", "b.txt"]


def test_replaces_the_content_whole(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("a much longer old content than the new one")
    atomic_write(str(path), "{}")
    assert path.read_text() == "{}"
    assert names(tmp_path) == ["state.json"]


def test_without_fsync_nothing_is_flushed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = os.fsync

    def counted(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counted)
    atomic_write(tmp_path / "fast", b"x", fsync=False)
    assert calls == []
    atomic_write(tmp_path / "safe", b"x")
    assert len(calls) == 2  # the file, then its folder
    assert (tmp_path / "fast").read_bytes() == (tmp_path / "safe").read_bytes() == b"x"


def test_mode_is_exact_and_the_default_follows_the_umask(tmp_path: Path) -> None:
    atomic_write(tmp_path / "key", "secret", mode=0o600)
    assert stat.S_IMODE((tmp_path / "key").stat().st_mode) == 0o600
    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write(tmp_path / "plain", "x")
    (tmp_path / "reference").write_text("x")
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o666 & ~umask
    assert (tmp_path / "plain").stat().st_mode == (tmp_path / "reference").stat().st_mode


def test_text_that_cannot_be_encoded_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        atomic_write(path, "half a surrogate pair: \ud800")
    assert path.read_text() == "old"
    assert names(tmp_path) == ["map.json"]


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "worker.json"
    path.write_text("old")

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space"):
        atomic_write(path, "new")
    assert path.read_text() == "old"
    assert names(tmp_path) == ["worker.json"]


def test_a_folder_in_the_way_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "inside").write_text("kept")
    with pytest.raises(OSError):
        atomic_write(tmp_path / "taken", "new")
    assert (tmp_path / "taken" / "inside").read_text() == "kept"
    assert names(tmp_path) == ["taken"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_read_only_folder_fails_and_keeps_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "state.json").write_text("old")
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            atomic_write(folder / "state.json", "new")
        assert (folder / "state.json").read_text() == "old"
        assert names(folder) == ["state.json"]
    finally:
        folder.chmod(0o700)


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "missing" / "state.json", "{}")
    assert names(tmp_path) == []


def test_exclusive_lets_the_first_writer_win(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    atomic_write(path, "first", exclusive=True, mode=0o600)
    with pytest.raises(FileExistsError):
        atomic_write(path, "second", exclusive=True, mode=0o600)
    assert path.read_text() == "first"
    assert names(tmp_path) == ["secret_key"]


def test_atomic_path_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    with atomic_path(target, mode=0o644) as temporary:
        assert temporary.parent == tmp_path
        assert temporary.name.startswith(".model.onnx.")
        assert target.read_bytes() == b"old"  # not yet
        temporary.unlink()  # a writer that makes its own file is fine
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert names(tmp_path) == ["model.onnx"]


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "ann.faiss"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("killed midway")
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["ann.faiss"]
