"""`longsynth score`: every prediction scored with its task's metric, per row and per cell.

Predictions come from `longsynth run` (a folder with `predictions.parquet`, or its partial file
while a run is unfinished), from a jsonl of `{"id", "prediction"}`, or from RULER's prediction
jsonl (`pred`, with our id in `others.id`, as `longsynth export ruler` writes it), so results of
other harnesses score the same way. A row with no prediction (none given, or its request failed)
scores 0 and is counted as missing in every total it enters: never dropped.

Each cell (task, target length, depth) gets its mean and a 95% interval over its rows: Wilson's
score interval when every score is 0 or 1, else a percentile bootstrap (2,000 resamples, seeded,
so the same scores always give the same interval).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..dataset import open_dataset
from ..errors import OutputError, SpecError
from ..files import read_parquet_file
from ..generators.registry import get_generator_class
from ..inputs import json_lines, read_text
from ..outputs import OutputFolder
from ..scoring import anchor_extra, anchor_score, score
from .run import PARTIAL, PREDICTIONS, RUN, _parquet_bytes, read_partial

SCORES = "scores.parquet"
SUMMARY = "summary.json"
_DEPTH = re.compile(r"-d([0-9.]+)-\d+$")
Z = 1.959963984540054  # the normal quantile of a two-sided 95% interval


def cell_depth(row_id: str) -> float | None:
    """The depth a row's cell asked for (its id says `-d<depth>`), or None for a task with no grid."""
    found = _DEPTH.search(row_id)
    return float(found.group(1)) if found else None


def read_predictions(pred: Path) -> dict[str, str | None]:
    """Prediction text by row id (None where a request failed) from any of the accepted forms."""
    pred = Path(pred)
    if pred.is_dir():
        if (pred / PREDICTIONS).exists():
            records = read_parquet_file(pred / PREDICTIONS).to_dicts()
        elif (pred / PARTIAL).exists():
            records = list(read_partial(pred / PARTIAL).values())
        else:
            raise OutputError(f"{str(pred)!r} holds no {PREDICTIONS}; run `longsynth run` into it first")
        return {r["id"]: (None if r.get("error") else r.get("prediction")) for r in records}
    if not pred.is_file():
        raise OutputError(f"{str(pred)!r} is neither a predictions folder nor a jsonl file")
    found: dict[str, str | None] = {}
    for number, record in json_lines(pred, "prediction file"):  # a line at a time, each bounded
        row_id = record.get("id") if isinstance(record, dict) else None
        text = record.get("prediction") if isinstance(record, dict) else None
        if row_id is None and isinstance(record, dict) and isinstance(record.get("others"), dict):
            row_id, text = record["others"].get("id"), record.get("pred")  # RULER's prediction file
        if not isinstance(row_id, str) or not (text is None or isinstance(text, str)):
            raise SpecError(f'{pred}:{number} needs "id" and "prediction" (or RULER\'s "pred" and "others.id")')
        found[row_id] = text
    return found


def wilson(successes: float, n: int, z: float = Z) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


Z_99 = 2.5758  # the normal quantile of a two-sided 99% interval


def interval(scores: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """An interval (95% by default, or 99%) for the mean of `scores` (Wilson's for 0/1 scores, else a
    seeded bootstrap)."""
    if len(scores) == 0:
        return 0.0, 0.0
    if np.isin(scores, (0.0, 1.0)).all():
        return wilson(float(scores.sum()), len(scores), Z if level == 0.95 else Z_99)
    draws = np.random.default_rng(0).integers(0, len(scores), size=(2000, len(scores)))
    means = scores[draws].mean(axis=1)
    tail = (1.0 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def score_rows(directory: Path, predictions: dict[str, str | None]) -> pl.DataFrame:
    """One row per dataset row: id, task, target_length, depth, score, missing."""
    dataset = open_dataset(directory, evaluation=True)
    family = get_generator_class(dataset.spec().generator)
    records = []
    for task in dataset.tasks:
        for row in dataset.rows(task):
            text = predictions.get(row["id"])
            records.append(
                {
                    "id": row["id"],
                    "task": task,
                    "target_length": int(row["target_length"]),
                    "depth": cell_depth(row["id"]),
                    "score": 0.0 if text is None else float(score(row, text)),
                    # The anchor's own metric on the raw reply (None: the task has no anchor metric).
                    "anchor_score": anchor_score(row, text or ""),
                    # A second number the anchor reports apart (LongBioBench's citation accuracy).
                    "anchor_extra": anchor_extra(row, text or ""),
                    "anchor_extra_name": (family.tasks[task].anchor_extra or ("",))[0],
                    "missing": text is None,
                }
            )
    if predictions and not any(predictions.keys() & {r["id"] for r in records}):
        raise SpecError(
            f"none of the {len(predictions)} predictions names a row of this dataset (ids such as "
            f"{next(iter(predictions))!r}); are they for another build?"
        )
    schema = {
        "id": pl.String,
        "task": pl.String,
        "target_length": pl.Int64,
        "depth": pl.Float64,
        "score": pl.Float64,
        "anchor_score": pl.Float64,
        "anchor_extra": pl.Float64,
        "anchor_extra_name": pl.String,
        "missing": pl.Boolean,
    }
    return pl.DataFrame(records, schema=schema)


def _anchor_mean(scores: pl.DataFrame, column: str = "anchor_score") -> float | None:
    """The anchor metric's mean over rows that have one (None when none does)."""
    values = scores[column].drop_nulls()
    return round(float(values.mean()), 4) if len(values) else None


def summarize(scores: pl.DataFrame) -> dict[str, Any]:
    """Overall and per-task means, and each cell's mean with its interval and missing count."""
    cells = []
    keys = ["task", "target_length", "depth"]
    for (task, length, depth), group in scores.group_by(keys, maintain_order=True):
        values = group["score"].to_numpy()
        low, high = interval(values)
        cells.append(
            {
                "task": task,
                "target_length": int(length),
                "depth": depth,
                "n": len(values),
                "score": round(float(values.mean()), 4),
                "ci_low": round(low, 4),
                "ci_high": round(high, 4),
                "anchor_score": _anchor_mean(group),
                "missing": int(group["missing"].sum()),
            }
        )
    cells.sort(key=lambda c: (c["task"], c["target_length"], -1.0 if c["depth"] is None else c["depth"]))
    tasks = {
        task: round(float(group["score"].mean()), 4)
        for (task,), group in scores.group_by(["task"], maintain_order=True)
    }
    anchors = {
        task: _anchor_mean(group)
        for (task,), group in scores.group_by(["task"], maintain_order=True)
        if group["anchor_score"].null_count() < len(group)
    }
    extras = {
        task: {"name": group["anchor_extra_name"][0], "mean": _anchor_mean(group, "anchor_extra")}
        for (task,), group in scores.group_by(["task"], maintain_order=True)
        if group["anchor_extra"].null_count() < len(group)
    }
    anchor_means = [mean for mean in anchors.values() if mean is not None]
    return {
        # RULER's convention: the mean of the per-task means (a task with 4 rows counts as much as one with
        # 40); `overall_rows` is the mean over rows.
        "overall": round(float(np.mean(list(tasks.values()))), 4) if tasks else 0.0,
        "overall_rows": round(float(scores["score"].mean()), 4) if len(scores) else 0.0,
        "tasks": tasks,
        # The anchors' own metrics (RULER's string_match_all / _part on the raw reply), to set beside
        # published numbers; our strict score above is the default. `extra`: what an anchor reports
        # apart (LongBioBench's citation accuracy beside its answer accuracy).
        "anchor": {
            "overall": round(float(np.mean(anchor_means)), 4) if anchor_means else None,
            "tasks": anchors,
            "extra": extras,
        },
        "missing": int(scores["missing"].sum()),
        "rows": len(scores),
        "cells": cells,
    }


def _recorded_dataset(path: Path, what: str) -> str | None:
    """The dataset manifest sha256 a run.json or summary.json records (None: no such file or field)."""
    if not path.is_file():
        return None
    try:
        recorded = json.loads(read_text(path, what, limit=16 * 1024 * 1024))
    except json.JSONDecodeError:
        raise OutputError(f"{str(path)!r} is not valid JSON") from None
    value = recorded.get("dataset_manifest_sha256") if isinstance(recorded, dict) else None
    return value if isinstance(value, str) else None


def score_run(
    directory: Path, pred: Path, out: Path | None = None, force: bool = False
) -> tuple[pl.DataFrame, dict[str, Any], Path]:
    """Score `pred` against the build in `directory`; write scores.parquet and summary.json into
    `out` (default: PRED when it is a folder, else the jsonl's folder). A run made on another dataset
    (its run.json names another manifest) is refused, and so is a folder holding another dataset's
    scores, unless `force`."""
    pred = Path(pred)
    out = Path(out) if out else (pred if pred.is_dir() else pred.parent)
    dataset = open_dataset(Path(directory), evaluation=True)
    sha = dataset.manifest_sha256
    ran_on = _recorded_dataset(pred / RUN, "run record") if pred.is_dir() else None
    if ran_on is not None and ran_on != sha and not force:
        raise SpecError(
            f"{str(pred)!r} is a run on another dataset (manifest {ran_on[:12]}, not {sha[:12]} of "
            f"{str(directory)!r}); score it against its own dataset, or pass --force"
        )
    scored_on = _recorded_dataset(out / SUMMARY, "summary")
    if scored_on is not None and scored_on != sha and not force:
        raise OutputError(
            f"{str(out)!r} holds scores of another dataset (manifest {scored_on[:12]}); give another -o, "
            "or pass --force to replace them"
        )
    folder = OutputFolder(out, "the scores folder (-o, or the predictions' folder)")
    scores = score_rows(Path(directory), read_predictions(pred))
    summary = {**summarize(scores), "dataset_manifest_sha256": sha}
    folder.write(SCORES, _parquet_bytes(scores.drop("missing", "anchor_extra_name")))
    folder.write(SUMMARY, (json.dumps(summary, indent=1) + "\n").encode())
    return scores, summary, out


def table(summary: dict[str, Any]) -> str:
    """A compact text table: one line per task, the mean at each length, and the missing count."""
    lengths = sorted({c["target_length"] for c in summary["cells"]})
    width = max([len("task"), *(len(t) for t in summary["tasks"])])
    lines = [f"{'task':<{width}}  " + "  ".join(f"{_short(n):>6}" for n in lengths) + "     all  missing"]
    for task, mean in summary["tasks"].items():
        cells = [c for c in summary["cells"] if c["task"] == task]
        by_length = []
        for n in lengths:
            group = [c for c in cells if c["target_length"] == n]
            total = sum(c["n"] for c in group)
            by_length.append(f"{sum(c['score'] * c['n'] for c in group) / total:6.3f}" if total else "     -")
        missing = sum(c["missing"] for c in cells)
        lines.append(f"{task:<{width}}  " + "  ".join(by_length) + f"  {mean:6.3f}  {missing:7d}")
    lines.append(
        f"overall {summary['overall']:.3f} (mean of the {len(summary['tasks'])} task means; "
        f"{summary.get('overall_rows', summary['overall']):.3f} over all {summary['rows']} rows, "
        f"{summary['missing']} missing)"
    )
    anchor = summary.get("anchor", {})
    if anchor.get("tasks"):
        means = ", ".join(f"{task} {mean:.3f}" for task, mean in anchor["tasks"].items())
        lines.append(f"anchor's own metric (on the raw replies): overall {anchor['overall']:.3f}; {means}")
    for task, extra in anchor.get("extra", {}).items():
        lines.append(f"{task}: {extra['name']} {extra['mean']:.3f} (reported apart by the anchor)")
    return "\n".join(lines)


def _short(length: int) -> str:
    return f"{length // 1024}K" if length % 1024 == 0 else str(length)
