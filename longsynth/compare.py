"""Two builds compared (`longsynth diff A B`, and the card's "Changes" section of `build --previous`):
what differs in their specs, and per task which rows were added, removed or changed.

A row is matched by its id (task, length, depth, sample number) and compared by its content: every field
but the dataset's canary GUID, which changes with any spec change by design (so a new version whose rows
are the same reads as unchanged).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .dataset import open_dataset
from .metadata_json import decode_metadata


def _flat(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec's fields with its options (and per-task options) flattened in: what a person changed."""
    flat = {k: v for k, v in spec.items() if k not in ("options", "task_options")}
    flat.update({f"options.{k}": v for k, v in spec.get("options", {}).items()})
    for task, values in spec.get("task_options", {}).items():
        flat.update({f"task_options.{task}.{k}": v for k, v in values.items()})
    return flat


def _content(row: dict[str, Any]) -> str:
    """A row's content hash, its canary left out."""
    metadata = decode_metadata(row["metadata"]) if isinstance(row.get("metadata"), str) else row.get("metadata")
    if isinstance(metadata, dict):
        metadata = {k: v for k, v in metadata.items() if k != "canary"}
    body = {**row, "metadata": metadata}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def compare(old: str | Path, new: str | Path) -> dict[str, Any]:
    """{"versions", "spec": {field: [old, new]}, "tasks": {task: {old, new, added, removed, changed}}}."""
    a, b = open_dataset(old), open_dataset(new)
    spec_a, spec_b = _flat(a.manifest["spec"]), _flat(b.manifest["spec"])
    spec = {
        key: [spec_a.get(key), spec_b.get(key)]
        for key in sorted(set(spec_a) | set(spec_b))
        if spec_a.get(key) != spec_b.get(key)
    }
    tasks: dict[str, dict[str, int]] = {}
    for task in sorted(set(a.tasks) | set(b.tasks), key=lambda t: (t not in b.tasks, t)):
        rows_a = {r["id"]: _content(r) for r in a.rows(task)} if task in a.tasks else {}
        rows_b = {r["id"]: _content(r) for r in b.rows(task)} if task in b.tasks else {}
        tasks[task] = {
            "old": len(rows_a),
            "new": len(rows_b),
            "added": len(rows_b.keys() - rows_a.keys()),
            "removed": len(rows_a.keys() - rows_b.keys()),
            "changed": sum(1 for key in rows_a.keys() & rows_b.keys() if rows_a[key] != rows_b[key]),
        }
    versions = [a.manifest["spec"].get("version", ""), b.manifest["spec"].get("version", "")]
    return {"versions": versions, "spec": spec, "tasks": tasks}


def changes_markdown(found: dict[str, Any]) -> str:
    """The comparison as the card's "Changes" section (a changelog against the previous version)."""
    old, new = found["versions"]
    lines = [f"Changes from version {old} to {new}.", ""]
    if found["spec"]:
        lines += ["| spec field | before | now |", "| --- | --- | --- |"]
        lines += [f"| {key} | {json.dumps(a)} | {json.dumps(b)} |" for key, (a, b) in found["spec"].items()]
    else:
        lines.append("The spec is the same.")
    lines += [
        "",
        "| task | rows before | rows now | added | removed | changed |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {task} | {c['old']} | {c['new']} | {c['added']} | {c['removed']} | {c['changed']} |"
        for task, c in found["tasks"].items()
    ]
    return "\n".join(lines)


__all__ = ["changes_markdown", "compare"]
