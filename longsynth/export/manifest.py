"""The manifest: reading it, and checking a folder against it (the one verifier `validate` and
`push` share, so a folder that fails one fails the other).

A manifest may come from someone else. Its file names are trusted only if they are plain relative
paths inside the folder (never absolute, never `..`, never resume state), so checking a folder never
reads, and pushing it never sends, a file outside it.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import OutputError
from ..files import sha256_file
from .layout import STATE_DIR

MANIFEST = "manifest.json"
CARD = "README.md"
_REQUIRED = {"spec": dict, "files": dict, "counts": dict}


def read_manifest(directory: Path) -> dict[str, Any]:
    """The folder's manifest, checked to have the shape longsynth writes (else a one-line error)."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise OutputError(f"{str(directory)!r} is not a folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutputError(f"{str(directory)!r} has no manifest.json; is it a finished longsynth build?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise OutputError(f"{str(path)!r} is not valid JSON; rebuild the folder") from None
    if not isinstance(manifest, dict):
        raise OutputError(f"{str(path)!r} is not a longsynth manifest (not a JSON object); rebuild the folder")
    for key, kind in _REQUIRED.items():
        if not isinstance(manifest.get(key), kind):
            raise OutputError(f"{str(path)!r} is not a longsynth manifest (no {key!r} {kind.__name__}); rebuild it")
    return manifest


def safe_name(name: Any) -> bool:
    """A manifest entry that names a file inside the folder: relative, no `..`, not resume state."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return False
    parts = PurePosixPath(name).parts
    return not PurePosixPath(name).is_absolute() and ".." not in parts and parts[0] != STATE_DIR


def folder_files(directory: Path) -> list[str]:
    """Every file in a build folder but its resume state, as relative names."""
    return sorted(
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if (p.is_file() or p.is_symlink()) and STATE_DIR not in p.relative_to(directory).parts
    )


def file_problems(directory: Path, manifest: dict[str, Any]) -> list[str]:
    """Unsafe names in the manifest, listed files that are missing or changed, and files it does not list."""
    problems = []
    listed = manifest.get("files", {})
    for name, digest in listed.items():
        if not safe_name(name):
            problems.append(f"{name!r}: not a file inside the folder; the manifest cannot vouch for it")
            continue
        path = directory / name
        if path.is_symlink() or not path.is_file():
            problems.append(f"{name}: listed in the manifest but missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: sha256 differs from the manifest")
    for name in folder_files(directory):
        if name not in listed and name != MANIFEST:
            problems.append(f"{name}: not listed in the manifest")
    return problems


def dataset_around(path: Path) -> Path | None:
    """The longsynth dataset folder holding `path` (or `path` itself), if any: the nearest folder up the
    resolved path with a manifest longsynth wrote (no output of another command may go there)."""
    for folder in (path, *path.parents):
        if (folder / MANIFEST).is_file():
            try:
                read_manifest(folder)
            except OutputError:
                continue
            return folder
    return None
