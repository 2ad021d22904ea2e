"""`longsynth export ruler`: a validated build as RULER's scripts read it, `OUT/<task>/validation.jsonl`
(the line format is `ruler_jsonl`'s)."""

from __future__ import annotations

from pathlib import Path

from ..dataset import open_dataset
from ..inspect import require_valid
from ..outputs import OutputFolder
from .ruler_jsonl import ruler_line


def export_ruler(directory: Path, out: Path) -> dict[str, int]:
    """Write `out/<task>/validation.jsonl` for every task of a build whose rows pass validation; rows
    per task."""
    directory, out = Path(directory), Path(out)
    folder = OutputFolder(out, "the export folder")
    dataset = open_dataset(directory, evaluation=True)
    require_valid(dataset)
    written = {}
    for task in dataset.tasks:
        rows = dataset.rows(task)
        lines = [ruler_line(n, row) for n, row in enumerate(rows)]
        folder.write(f"{task}/validation.jsonl", ("\n".join(lines) + "\n").encode("utf-8"))
        written[task] = len(rows)
    return written
