"""A row as RULER's own scripts read it: one JSON object per line of `<task>/validation.jsonl`.

RULER's `call_api.py` sends `input + answer_prefix` to the model and its `evaluate.py` scores the
prediction against `outputs`. Here `input` is the chat-templated input (the row's `prompt` without
the answer prefix), so RULER sends exactly our `prompt`; `length` is RULER's: the prompt's tokens
plus those kept for the answer (our `prompt_length + reserve`); `others` carries the row's id. The
build's `--format jsonl` twins and `longsynth export ruler` both write it.
"""

from __future__ import annotations

import json
from typing import Any


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
