"""Rows as RULER's own scripts read them: `<task>/validation.jsonl`, one JSON object per line.

RULER's `call_api.py` sends `input + answer_prefix` to the model and its `evaluate.py` scores the
prediction against `outputs`. Here `input` is the chat-templated input (the row's `prompt` without
the answer prefix), so RULER sends exactly our `prompt`; `length` is RULER's: the prompt's tokens
plus those kept for the answer (our `prompt_length + reserve`); `others` carries the row's id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..files import write_bytes_atomically
from .manifest import evaluation_build, refuse_inside, task_rows


def ruler_record(index: int, row: dict[str, Any]) -> dict[str, Any]:
    prompt, prefix = row["prompt"], row["answer_prefix"]
    return {
        "index": index,
        "input": prompt[: len(prompt) - len(prefix)] if prefix else prompt,
        "outputs": list(row["answers"]),
        "length": int(row["prompt_length"]) + int(row["reserve"]),
        "answer_prefix": prefix,
        "others": {"id": row["id"]},
    }


def ruler_line(index: int, row: dict[str, Any]) -> str:
    return json.dumps(ruler_record(index, row), ensure_ascii=False)


def export_ruler(directory: Path, out: Path) -> dict[str, int]:
    """Write `out/<task>/validation.jsonl` for every task of a verified build; rows per task."""
    directory, out = Path(directory), Path(out)
    refuse_inside(directory, out, "the export folder")
    manifest = evaluation_build(directory)
    written = {}
    for task in manifest["spec"]["tasks"]:
        rows = task_rows(directory, task)
        lines = [ruler_line(n, row) for n, row in enumerate(rows)]
        try:
            write_bytes_atomically(out / task / "validation.jsonl", ("\n".join(lines) + "\n").encode("utf-8"))
        except OSError as exc:
            raise OutputError(f"cannot write to {str(out)!r}: {exc.strerror or exc}") from None
        written[task] = len(rows)
    return written
