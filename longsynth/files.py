"""Writing a file whole or not at all, hashing one, and reading a Parquet file by its literal path:
the one place each is done.

Shards, cards, manifests, cache entries and resume state are all written to a temporary name in the
same folder and renamed into place, so a crash leaves the old file or the new one, never half of
one. The temporary name is private to the process and thread (`.NAME.PID.THREAD.tmp`), so two
writers of the same file never clobber each other's temporary, and `stale_temporaries` can find
what an interrupted writer left.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

TEMPORARY_GLOB = ".*.tmp"


def temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def write_atomically(
    path: Path,
    write: Callable[[Path], None],
    durable: bool = True,
    before_rename: Callable[[Path], None] | None = None,
) -> None:
    """Let `write` fill a temporary file, then rename it to `path`. With `durable`, the data is on
    disk before the rename (a build's outputs); without, a crash may lose it (derived cache data).
    `before_rename` sees the finished temporary file (to record its hash before it counts as done)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        if before_rename is not None:
            before_rename(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomically(path: Path, data: bytes, durable: bool = True) -> None:
    write_atomically(path, lambda tmp: tmp.write_bytes(data), durable)


def write_folder_atomically(folder: Path, write: Callable[[Path], None]) -> None:
    """Let `write` fill a temporary folder, then rename it to `folder`. When another process finished
    the same folder first, theirs is kept (both hold the same derived data, and theirs may be in use);
    a caller replacing a damaged folder removes it first."""
    tmp = temporary_name(folder)
    tmp.mkdir(parents=True)
    try:
        write(tmp)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not folder.exists():  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def input_files(path: Path) -> list[Path]:
    """The files an input path names: itself if it is a regular file (a link the user gave is fine),
    else a folder's regular files below it, sorted, without links (their targets may lie outside
    the input). A FIFO, socket or device is never read: opening one can block forever."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return [path] if path.is_file() else []


def stale_temporaries(folder: Path) -> Iterator[Path]:
    """Temporary files an interrupted writer left below `folder`."""
    return folder.rglob(TEMPORARY_GLOB)


def file_record(path: Path) -> dict[str, int | str]:
    """What a file must still be to be trusted later: its size and sha256."""
    return {"size": path.stat().st_size, "sha256": sha256_file(path)}


def matches_record(path: Path, record: dict[str, int | str]) -> bool:
    """Whether a file is still the one recorded (the size first: a truncated file fails without a read)."""
    try:
        return path.is_file() and path.stat().st_size == record["size"] and sha256_file(path) == record["sha256"]
    except (OSError, KeyError, TypeError):
        return False


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_parquet_file(path: Path, columns: list[str] | None = None, n_rows: int | None = None) -> pl.DataFrame:
    """A Parquet file by its literal path: never expanded as a glob pattern (a folder named `o[1]` or
    `ds*` is a name, not a pattern) nor as a Hive-partitioned folder. `n_rows`: its first rows only."""
    return pl.read_parquet(path, columns=columns, n_rows=n_rows, glob=False, hive_partitioning=False)


def read_parquet_schema_file(path: Path) -> dict[str, pl.DataType]:
    """A Parquet file's column names and types, from its footer alone, by its literal path (as
    `read_parquet_file`)."""
    return dict(pl.scan_parquet(path, glob=False, hive_partitioning=False).collect_schema())


class FolderBusy(OSError):
    """Another process holds the folder's writer lock."""


@contextmanager
def locked_folder(folder: Path) -> Iterator[None]:
    """Hold the one writer lock of an output folder while writing into it: a second writer (another
    build or run into the same -o) is refused at once instead of mixing its files with the first's.
    The lock is the folder's own flock (no lock file to publish or to clean up); the kernel releases
    it when the process ends, however it ends."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(f"another longsynth process is writing into {str(folder)!r}") from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
