"""The on-disk cache: verified tokenizer files, corpus indexes, and small derived tables.

Everything here is derived data that is expensive to rebuild and cheap to
check (keys hash every input), so a machine pays for it once. The folder is
`$LONGSYNTH_CACHE` or `~/.cache/longsynth`; deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from .files import write_bytes_atomically


def cache_dir(*parts: str) -> Path:
    root = os.environ.get("LONGSYNTH_CACHE") or os.path.join(Path.home(), ".cache", "longsynth")
    return Path(root).joinpath(*parts)


def cached_json(name: str, key: Any, build: Callable[[], Any]) -> Any:
    """`build()`'s JSON-able result, stored under a hash of `key`; a damaged or unwritable cache is ignored."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]
    path = cache_dir("json", f"{name}-{digest}.json")
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, ValueError):  # orjson.JSONDecodeError is a ValueError
        pass
    value = build()
    try:
        blob = orjson.dumps(value)
    except TypeError:  # not storable as JSON (an integer beyond 64 bits): not cached
        return value
    store_bytes(path, blob)
    return value


def store_bytes(path: Path, blob: bytes) -> None:
    """Write a cache file whole or not at all; a cache that cannot be written is only slower, so
    failures are ignored."""
    try:
        write_bytes_atomically(path, blob, durable=False)
    except OSError:
        pass
