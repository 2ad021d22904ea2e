"""The package version, in a module of its own so that any module can read it without importing the
public API (which imports the pipeline, which imports the writer that records the version)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

__version__ = "0.1.0"


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 of this package's own files (code, templates, data): what a cache of generated rows must
    be keyed by besides the spec, since the same spec builds other rows once the code changes."""
    digest = hashlib.sha256(__version__.encode())
    root = Path(__file__).parent
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".j2", ".yaml")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
