"""Reading a built folder back: validate every row, or show one sample."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from .errors import OutputError, SpecError
from .export.layout import data_files
from .export.manifest import file_problems, read_manifest
from .generators.registry import get_generator_class
from .metadata_json import decode_metadata
from .pipeline import make_generator
from .spec import Spec, spec_from_dict
from .validators import validate_row


def spec_from_manifest(manifest: dict[str, Any]) -> Spec:
    try:
        return spec_from_dict(manifest["spec"])
    except SpecError as exc:
        raise OutputError(f"the manifest's spec is not usable: {exc}") from None


@dataclass
class Report:
    rows: int = 0
    files: int = 0
    failed_rows: int = 0
    file_problems: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def validate_directory(directory: Path) -> Report:
    """Re-check file hashes and every row (one re-encode each) of a build folder."""
    manifest = read_manifest(directory)
    spec = spec_from_manifest(manifest)
    generator = make_generator(spec)
    report = Report()
    report.file_problems = file_problems(directory, manifest)
    report.problems.extend(report.file_problems)
    seen_ids: set[str] = set()
    for path in data_files(directory):
        if path.suffix != ".parquet":
            continue
        report.files += 1
        for row in pl.read_parquet(path).iter_rows(named=True):
            report.rows += 1
            problems = validate_row(row, generator, generator.tokenizer)
            if row["id"] in seen_ids:
                problems.append("duplicate id")
            seen_ids.add(row["id"])
            if problems:
                report.failed_rows += 1
                report.problems.extend(f"{path.relative_to(directory)} {row['id']}: {p}" for p in problems)
    return report


def load_row(directory: Path, task: str | None, index: int) -> dict[str, Any]:
    manifest = read_manifest(directory)
    tasks = manifest["spec"]["tasks"]
    task = task or tasks[0]
    if task not in tasks:
        raise SpecError(f"task {task!r} is not in this build; it has: {', '.join(tasks)}")
    files = sorted(p for p in (directory / task).glob("*.parquet"))
    frame = pl.concat([pl.read_parquet(p) for p in files]) if files else pl.DataFrame()
    if not 0 <= index < frame.height:
        raise SpecError(f"--index {index} is out of range; {task} has {frame.height} rows")
    return frame.row(index, named=True)


def render_row(row: dict[str, Any], full: bool = False, color: bool = False, around: int = 160, most: int = 20) -> str:
    """The row's fields, then its input with each relevant item marked."""
    metadata = decode_metadata(row["metadata"])
    text = row.get("input") or row.get("text") or ""
    spans = get_generator_class(row["generator"]).marked_spans(metadata)

    def mark(s: str) -> str:
        return f"\x1b[1;33m>>> {s} <<<\x1b[0m" if color else f">>> {s} <<<"

    lines = [
        f"id: {row['id']}",
        f"task: {row['task']}  length: {row['length']} / {row['target_length']} "
        f"({row['tokenizer']})  seed: {row['seed']}",
    ]
    if "question" in row:
        lines += [
            f"question: {row['question']}",
            f"answers: {row['answers']}",
            f"answer_prefix: {row['answer_prefix']}",
            f"depths: {row['depths']}",
        ]
    lines.append("-" * 72)
    hidden = 0
    if not full and len(spans) > most:  # holobench rows can have a thousand relevant rows: show the first ones
        hidden, spans = len(spans) - most, spans[:most]
    pieces, cursor = [], 0
    for start, end in spans:
        if start < cursor:
            continue
        gap = text[cursor:start]
        if not full and len(gap) > 2 * around + 40:  # never elide a handful of characters
            gap = gap[:around] + f" [... {len(gap) - 2 * around} chars ...] " + gap[-around:]
        pieces.append(gap)
        pieces.append(mark(text[start:end]))
        cursor = end
    rest = text[cursor:]
    if not full and len(rest) > 2 * around + 40:
        rest = rest[:around] + f" [... {len(rest) - 2 * around} chars ...] " + rest[-around:]
    pieces.append(rest)
    lines.append("".join(pieces))
    if hidden:
        lines.append(f"({hidden} more marked items not shown; use --full)")
    return "\n".join(lines)
