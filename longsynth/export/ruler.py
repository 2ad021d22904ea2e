"""`longsynth export ruler`: a validated build as RULER's scripts read it, `OUT/<task>/validation.jsonl`
(the line format is `ruler_jsonl`'s)."""

from __future__ import annotations

from pathlib import Path

from ..dataset import open_dataset
from ..errors import OutputError
from ..files import write_bytes_atomically
from ..inspect import require_valid
from .manifest import refuse_inside
from .ruler_jsonl import ruler_line


def export_ruler(directory: Path, out: Path) -> dict[str, int]:
    """Write `out/<task>/validation.jsonl` for every task of a build whose rows pass validation; rows
    per task."""
    directory, out = Path(directory), Path(out)
    refuse_inside(directory, out, "the export folder")
    dataset = open_dataset(directory, evaluation=True)
    require_valid(dataset)
    written = {}
    for task in dataset.tasks:
        rows = dataset.rows(task)
        lines = [ruler_line(n, row) for n, row in enumerate(rows)]
        try:
            write_bytes_atomically(out / task / "validation.jsonl", ("\n".join(lines) + "\n").encode("utf-8"))
        except OSError as exc:
            raise OutputError(f"cannot write to {str(out)!r}: {exc.strerror or exc}") from None
        written[task] = len(rows)
    return written
