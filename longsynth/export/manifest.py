"""The manifest: reading it, and checking a folder against it (the one verifier `validate` and
`push` share, so a folder that fails one fails the other)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..files import sha256_file
from .layout import data_files

MANIFEST = "manifest.json"


def read_manifest(directory: Path) -> dict[str, Any]:
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise OutputError(f"{str(directory)!r} is not a folder")
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise OutputError(f"{str(directory)!r} has no manifest.json; is it a finished longsynth build?") from None
    except json.JSONDecodeError:
        raise OutputError(f"{str(path)!r} is not valid JSON") from None


def file_problems(directory: Path, manifest: dict[str, Any]) -> list[str]:
    """Files the manifest lists that are missing or changed, and data files it does not list."""
    problems = []
    listed = manifest.get("files", {})
    for name, digest in listed.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{name}: listed in the manifest but missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: sha256 differs from the manifest")
    for path in data_files(directory):
        if str(path.relative_to(directory)) not in listed:
            problems.append(f"{path.relative_to(directory)}: not listed in the manifest")
    return problems
