"""Reading a built folder back: validate every row, or show one sample."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cores import available_cores
from .dataset import Dataset, known_valid, open_dataset, read_shard, record_valid, shard_schema_problem
from .errors import DamagedOutput, OutputError, SpecError
from .export.card import render_card
from .export.manifest import CARD
from .generators.registry import get_generator_class
from .metadata_json import decode_metadata, read_metadata
from .pipeline import attempt_seed, make_generator, plan
from .read_ahead import ordered_map
from .rows import schema_for
from .spec import Spec
from .terminal import printable
from .tokenizers import Tokenizer
from .validators import TEXT_COLUMNS, measure_written, text_problems, validate_row


@dataclass
class Report:
    rows: int = 0
    files: int = 0
    failed_rows: int = 0
    file_problems: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _spec_problems(manifest: dict[str, Any], spec: Spec, generator) -> list[str]:
    """The manifest's own facts that the rows can contradict: the spec's fingerprint, the split."""
    problems = []
    if manifest.get("fingerprint") != spec.fingerprint():
        problems.append("manifest.json: the spec's fingerprint does not match the spec it records (edited?)")
    if manifest.get("split", generator.split) != generator.split:
        problems.append(
            f"manifest.json: split {manifest.get('split')!r}, but {spec.generator} writes {generator.split!r}"
        )
    return problems


def _row_problems(
    row: dict[str, Any], metadata: dict[str, Any], task: str, spec: Spec, generator, cells: dict[str, Any]
) -> list[str]:
    """What a row says about itself that must agree with the spec it was built from."""
    problems = []
    if row["task"] != task or row["generator"] != spec.generator or row["tokenizer"] != generator.tokenizer.name:
        problems.append(
            f"task, generator or tokenizer ({row['task']}, {row['generator']}, {row['tokenizer']}) "
            f"is not this build's ({task}, {spec.generator}, {generator.tokenizer.name})"
        )
    cell = cells.get(row["id"])
    if cell is None:
        return problems + ["not a sample of the manifest's spec (its id names no planned cell)"]
    if row["target_length"] != cell.target_length:
        problems.append(f"target length {row['target_length']} differs from its cell's {cell.target_length}")
    attempt = metadata.get("attempt", 0)
    if not isinstance(attempt, int) or row["seed"] != attempt_seed(spec, cell, attempt):
        problems.append("its seed is not the one the spec gives its cell")
    return problems


def validate_directory(directory: Path, progress: Callable[[int, int], None] | None = None) -> Report:
    """Re-check a build folder: every file against the manifest, the manifest against its spec, every
    row against the spec (its cell, seed, counts) and with the validators (each prompt re-encoded by
    the tokenizer's own library, `measure_written`). A clean folder is recorded as valid in this
    machine's cache (see `require_valid`); `progress(rows, planned)` after each row."""
    dataset = open_dataset(directory, verified=False)
    report = validate_dataset(dataset, progress)
    if not report.problems:
        record_valid(dataset.folder)
    return report


def require_valid(dataset: Dataset) -> None:
    """Refuse to publish (push, export) a folder whose rows do not all pass validation: it is run now,
    unless this machine's cache records that this very manifest's rows were found valid."""
    if known_valid(dataset):
        return
    report = validate_dataset(dataset)
    if report.problems:
        raise OutputError(
            f"{str(dataset.folder)!r} fails validation ({report.problems[0]}); only a folder whose rows all "
            "pass `longsynth validate` is published or exported"
        )
    record_valid(dataset.folder)


def validate_dataset(dataset: Dataset, progress: Callable[[int, int], None] | None = None) -> Report:
    """The checks of `validate_directory` on a folder opened through the door; `progress(rows, planned)`
    after each row (planned: the spec's samples, which a build that dropped some does not reach)."""
    manifest = dataset.manifest
    spec = dataset.spec()
    if tuple(spec.tasks) != dataset.tasks:
        raise OutputError("the manifest's spec is not usable: its tasks changed when read")
    generator = make_generator(spec)
    report = Report()
    report.file_problems = list(dataset.problems) + _spec_problems(manifest, spec, generator)
    report.problems.extend(report.file_problems)
    planned = {task: {cell.id: cell for cell in cells} for task, cells in plan(spec).items()}
    planned_rows = sum(len(cells) for cells in planned.values())
    counts = dict.fromkeys(spec.tasks, 0)
    lengths: dict[str, list[int]] = {task: [] for task in spec.tasks}
    seen_ids: set[str] = set()
    tokenizer = generator.tokenizer
    schema = schema_for(generator.split)
    for entry, counted in _measured(_shard_rows(dataset, generator.split), tokenizer):
        if isinstance(entry, str):  # a shard that cannot be read
            report.problems.append(entry)
            continue
        task, name, row = entry
        if row is None:  # a shard read whole: its rows follow
            report.files += 1
            continue
        report.rows += 1
        if progress is not None:
            progress(report.rows, planned_rows)
        counts[task] += 1
        nulls = [column for column in schema if row.get(column) is None]
        if nulls:  # a shard edited by someone else: the row is its nulls, nothing else is read from it
            problems = text_problems(row) + [f"its column {c!r} is null" for c in nulls if c not in TEXT_COLUMNS]
            report.failed_rows += 1
            report.problems.extend(f"{name} {row.get('id')}: {p}" for p in problems)
            continue
        lengths[task].append(row["prompt_length"] + row["reserve"] if "prompt" in row else row["length"])
        metadata, problem = read_metadata(row["metadata"])  # (decoded once, for every check of the row)
        if metadata is None:
            problems = text_problems(row) + [problem]
        elif counted is None:  # its texts are not text: nothing to measure or re-derive
            problems = _row_problems(row, metadata, task, spec, generator, planned[task]) + text_problems(row)
        else:
            measurement, input_tokens = counted
            problems = _row_problems(row, metadata, task, spec, generator, planned[task])
            problems += validate_row(row, generator, tokenizer, measurement, metadata, input_tokens)
        if row["id"] in seen_ids:
            problems.append("duplicate id")
        seen_ids.add(row["id"])
        if problems:
            report.failed_rows += 1
            report.problems.extend(f"{name} {row['id']}: {p}" for p in problems)
    dropped = manifest.get("dropped", {})
    for task in spec.tasks:
        recorded = manifest["counts"].get(task)
        if recorded != counts[task]:
            report.problems.append(f"{task}: the manifest counts {recorded} rows, the shards hold {counts[task]}")
        absent = len(planned[task]) - counts[task]
        if absent != dropped.get(task, 0):
            report.problems.append(
                f"{task}: {absent} of its {len(planned[task])} planned samples are absent, "
                f"but the manifest records {dropped.get(task, 0)} dropped"
            )
    untrue = _stats_problems(manifest, spec, lengths) or _card_problems(dataset, spec, generator)
    report.file_problems += untrue
    report.problems += untrue
    return report


def _shard_rows(dataset: Dataset, split: str) -> Iterator[str | tuple[str, str, dict[str, Any] | None]]:
    """Every shard's rows in order, as (task, shard name, row): first (task, name, None) for each shard
    read, or the one-line problem of a shard that cannot be read (a damaged file, another schema)."""
    for task, path in ((task, path) for task, paths in dataset.shards.items() for path in paths):
        name = f"{task}/{path.name}"
        try:
            frame = read_shard(path)
        except DamagedOutput as exc:
            yield str(exc)
            continue
        problem = shard_schema_problem(frame, split, nulls=False)  # (a row's nulls are its own problem)
        if problem:
            yield f"{name}: {problem}"
            continue
        yield task, name, None
        for row in frame.iter_rows(named=True):
            yield task, name, row


def _measured(entries: Iterator, tokenizer: Tokenizer) -> Iterator[tuple[Any, Any]]:
    """Each entry with its row's counts (`measure_written`; None for entries without a row), measured a
    few rows ahead on every core where the tokenizer encodes outside the GIL (tiktoken): encoding is
    nine tenths of validating a long row, and the family oracles run meanwhile on this thread."""

    def counts(entry):
        row = entry[2] if isinstance(entry, tuple) else None
        return entry, (measure_written(row, tokenizer) if row is not None and not text_problems(row) else None)

    if not getattr(tokenizer, "encodes_outside_gil", False):
        return map(counts, entries)
    return ordered_map(counts, entries, workers=available_cores())


def _stats_problems(manifest: dict[str, Any], spec: Spec, lengths: dict[str, list[int]]) -> list[str]:
    """The manifest's shard statistics (the card's table is made from them) must be the rows' own."""
    shards = manifest.get("shards")
    problems = []
    for task in spec.tasks:
        stats = shards.get(task) if isinstance(shards, dict) else None
        try:
            recorded = sorted(n for s in stats for n in s["lengths"])
            rows = sum(s["rows"] for s in stats)
        except (TypeError, KeyError):
            problems.append(f"manifest.json: {task}'s shard statistics are missing or malformed")
            continue
        if recorded != sorted(lengths[task]) or rows != len(lengths[task]):
            problems.append(f"manifest.json: {task}'s shard statistics are not its rows' (lengths or counts differ)")
    return problems


def _card_problems(dataset: Dataset, spec: Spec, generator) -> list[str]:
    """The card's front matter (README.md's YAML, which tells `load_dataset` which files each config
    reads) must be the one this manifest renders: a replaced card whose hash was updated would
    otherwise pass, and loading would fail. The prose below it may differ between versions."""
    expected = _front_matter(render_card(spec, generator, dataset.manifest["shards"], dataset.folder))
    try:
        found = _front_matter((dataset.folder / CARD).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        found = None
    if found == expected:
        return []
    # The card's `num_bytes` are the shards' sizes when it was written: once a file no longer matches
    # the manifest (reported already), they may differ from the files' without the card being edited.
    if dataset.problems and found is not None and _SIZES.sub(r"\1", found) == _SIZES.sub(r"\1", expected):
        return []
    return [f"{CARD}: its front matter is not the one this manifest renders (edited?)"]


_SIZES = re.compile(r"(?m)^( *num_bytes: )\d+$")


def _front_matter(card: str) -> str | None:
    head, sep, _ = card.partition("\n---\n")
    return head if card.startswith("---\n") and sep else None


def load_row(directory: Path, task: str | None, index: int) -> dict[str, Any]:
    dataset = open_dataset(directory)
    task = task or dataset.tasks[0]
    if task not in dataset.tasks:
        raise SpecError(f"task {task!r} is not in this build; it has: {', '.join(dataset.tasks)}")
    frame = dataset.frame(task)
    if not 0 <= index < frame.height:
        raise SpecError(f"--index {index} is out of range; {task} has {frame.height} rows")
    return frame.row(index, named=True)


def render_row(row: dict[str, Any], full: bool = False, color: bool = False, around: int = 160, most: int = 20) -> str:
    """The row's fields, then its input with each relevant item marked."""
    metadata = decode_metadata(row["metadata"])
    text = row.get("input") or row.get("text") or ""
    spans = get_generator_class(row["generator"]).marked_spans(metadata)

    def mark(s: str) -> str:
        return f"\x1b[1;33m>>> {printable(s)} <<<\x1b[0m" if color else f">>> {printable(s)} <<<"

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
        pieces.append(printable(gap))  # (someone else's text: see `terminal`)
        pieces.append(mark(text[start:end]))
        cursor = end
    rest = text[cursor:]
    if not full and len(rest) > 2 * around + 40:
        rest = rest[:around] + f" [... {len(rest) - 2 * around} chars ...] " + rest[-around:]
    pieces.append(printable(rest))
    lines = [printable(line) for line in lines]  # (the fields above; the text's pieces are done)
    lines.append("".join(pieces))
    if hidden:
        lines.append(f"({hidden} more marked items not shown; use --full)")
    return "\n".join(lines)
