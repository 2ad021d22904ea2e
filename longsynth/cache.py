"""The on-disk cache: verified tokenizer files, corpus indexes, and small derived tables.

Everything here is derived data that is expensive to rebuild and cheap to
check (keys hash every input), so a machine pays for it once. The folder is
`$LONGSYNTH_CACHE` or `~/.cache/longsynth`; deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from .errors import CacheError
from .export.manifest import dataset_around
from .files import write_bytes_atomically, write_folder_atomically


def cache_dir(*parts: str) -> Path:
    root = os.environ.get("LONGSYNTH_CACHE") or os.path.join(Path.home(), ".cache", "longsynth")
    return Path(root).joinpath(*parts)


def check_cache() -> Path:
    """The cache folder, made if missing; a path that cannot be a writable folder (a regular file, a
    place under /proc, a read-only mount) is a one-line error before any work starts."""
    root = cache_dir()
    dataset = dataset_around(root.resolve())
    if dataset is not None:
        raise CacheError(
            f"cache folder {str(root)!r} is inside the dataset folder {str(dataset)!r}, whose manifest would no "
            "longer match it; point LONGSYNTH_CACHE elsewhere"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CacheError(
            f"cache folder {str(root)!r} is not a writable folder ({exc.strerror or exc}); "
            "point LONGSYNTH_CACHE at a folder you can write, or unset it"
        ) from None
    return root


def cached_json(name: str, key: Any, build: Callable[[], Any], load: Callable[[Any], Any] | None = None) -> Any:
    """`build()`'s JSON-able result, stored under a hash of `key`; a damaged or unwritable cache is ignored.

    With `load`, the result is `load(value)`, and an entry `load` refuses (KeyError, TypeError,
    ValueError: a damaged or foreign file) is built again and written over."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]
    path = cache_dir("json", f"{name}-{digest}.json")
    try:
        stored = orjson.loads(path.read_bytes())
        return load(stored) if load is not None else stored
    except (OSError, ValueError, KeyError, TypeError):  # orjson.JSONDecodeError is a ValueError
        pass
    value = build()
    try:
        blob = orjson.dumps(value)
    except TypeError:  # not storable as JSON (an integer beyond 64 bits): not cached
        blob = None
    if blob is not None:
        store_bytes(path, blob)
    return load(value) if load is not None else value


def code_key(*modules: Any, extra: str = "") -> str:
    """The sha256 of these modules' source files, Python's version (`random`'s draws) and `extra`: the
    key part that keeps a cached pool made by code from outliving that code."""
    digest = hashlib.sha256(f"{sys.version.split()[0]} {extra}".encode())
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def cached_counts(
    kind: str, tokenizer_name: str, texts: list[str], count: Callable[[list[str]], list[int]]
) -> list[int]:
    """`count(texts)` (token counts of a built-in pool: QA paragraphs, table rows), stored under a hash
    of the texts themselves and the tokenizer, so a machine counts a pool once, not every build (the
    QA pool of a 32K build is 8,100 paragraphs). Each text is hashed with its length, so no two
    lists share a key."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)

    def load(counts: Any) -> list[int]:
        if not isinstance(counts, list) or len(counts) != len(texts):
            raise ValueError("counts of another length")
        return counts

    return cached_json(kind, {"texts": digest.hexdigest(), "tokenizer": tokenizer_name}, lambda: count(texts), load)


def store_bytes(path: Path, blob: bytes) -> None:
    """Write a cache file whole or not at all; a cache that cannot be written is only slower, so
    failures are ignored."""
    try:
        write_bytes_atomically(path, blob, durable=False)
    except OSError:
        pass


def pack_folders(folders: dict[str, Path]) -> dict[str, dict[str, bytes]]:
    """Cache folders as {path under the cache: {file path in the folder: bytes}}: what a build ships to
    workers that do not share its disk (Ray's object store)."""
    return {
        relative: {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}
        for relative, folder in folders.items()
    }


def unpack_folders(packed: dict[str, dict[str, bytes]]) -> None:
    """Write shipped cache folders into this process's cache, each whole (a folder already there is kept)."""
    for relative, files in packed.items():
        folder = cache_dir(*Path(relative).parts)
        if folder.exists():
            continue

        def write(tmp: Path, files: dict[str, bytes] = files) -> None:
            for name, data in files.items():
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                (tmp / name).write_bytes(data)

        write_folder_atomically(folder, write)
