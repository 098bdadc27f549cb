"""File-system helpers shared by datasets, checkpoints and run directories: temporary directories
with the usual permissions, durable (fsynced) writes, one-line errors for a full disk, and the
lock that keeps two trainers out of one run directory."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rlv.errors import RlvError

DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}
"""Errors of the storage itself (full disk, quota, read-only file system, I/O failure)."""

LOCK_FILE = ".lock"
"""Lock file inside a run directory, held (flock) by the trainer writing it; records its pid."""


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def shared_tmpdir(prefix: str, parent: Path) -> Path:
    """A temporary directory in `parent` with the permissions `mkdir` would give it (umask), not
    the 0700 of `tempfile.mkdtemp`, so the output it is renamed to is readable by others."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(tmp, 0o777 & ~current_umask())
    return tmp


def make_dir_atomic(path: Path, fill: Callable[[Path], None]) -> None:
    """Create the directory `path` holding what `fill(staging)` writes, in one step: filled as a
    hidden sibling, then renamed, so a process killed meanwhile never leaves `path` half made (at
    worst a hidden `.NAME.new-*` sibling). FileExistsError when `path` appeared meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = shared_tmpdir(f".{path.name}.new-", path.parent)
    try:
        fill(staging)
        try:
            os.rename(staging, path)  # refused onto a non-empty directory
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise FileExistsError(errno.EEXIST, "directory exists", str(path)) from error
            raise
        fsync_dir(path.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (renames into it) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """Flush every file under `path`, then the directories, to disk."""
    for root, _, files in os.walk(path):
        for name in files:
            fd = os.open(Path(root) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(root))


def is_disk_error(error: BaseException) -> bool:
    """Whether `error` is the storage failing (full disk, quota, read-only, I/O) rather than a bug."""
    return isinstance(error, OSError) and error.errno in DISK_ERRORS


def write_failure(path: Path, error: BaseException, consequence: str) -> RlvError:
    """A one-line error for a failed write of `path`: the reason, then what it means for the user."""
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error).splitlines()[0]
    return RlvError(f"{path}: could not write ({reason}); {consequence}")


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to a temporary sibling, flush it to disk and rename it over `path`."""
    write_bytes_atomic(path, text.encode())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temporary sibling, flush it to disk and rename it over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if is_disk_error(error):
            raise write_failure(path, error, "it is unchanged") from error
        raise


@contextmanager
def run_lock(run: Path) -> Iterator[None]:
    """Hold the run directory's lock while the body runs; another holder is a one-line error.
    The lock (flock) dies with its process, so a killed trainer never leaves it held."""
    path = Path(run) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise RlvError(
                f"{run}: another rlv train (pid {holder}) is writing this run directory; "
                "wait for it to finish or stop it first"
            ) from error
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _hash_bytes(digest: hashlib._Hash, path: Path) -> None:
    """Feed the bytes of the file `path` to `digest`, a megabyte at a time."""
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def file_fingerprint(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    _hash_bytes(digest, path)
    return digest.hexdigest()


def directory_fingerprint(path: Path) -> str:
    """SHA-256 over the relative names and bytes of every file below `path` (or of the file `path`),
    in sorted order: the same data gives the same fingerprint wherever it lies."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(item for item in path.rglob("*") if item.is_file())
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else file.name).encode() + b"\0")
        _hash_bytes(digest, file)
    return digest.hexdigest()
