"""Suites: named build specs shipped as YAML, one file per suite (`ruler.yaml`).

A suite is a spec file with a one-line `description`; `longsynth build --suite NAME` builds it, and
flags override its fields. `--suite` also takes the path of a user's own suite file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..spec import read_yaml

FOLDER = Path(__file__).parent


def suite_names() -> list[str]:
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


def describe(name: str) -> str:
    return str(read_yaml(FOLDER / f"{name}.yaml").get("description", ""))


def load_suite(name: str) -> dict[str, Any]:
    """A suite's spec fields: a shipped suite by name, or a user's suite file by path."""
    path = FOLDER / f"{name}.yaml" if name in suite_names() else Path(name)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        raise SpecError(f"unknown suite {name!r}; shipped suites: {', '.join(suite_names())}, or give a .yaml file")
    fields = read_yaml(path)
    fields.pop("description", None)
    return fields
