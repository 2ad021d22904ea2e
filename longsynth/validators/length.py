"""The length validator: the one encode, compared with the record and the length contract.

Evaluation rows: `target - tolerance <= prompt_length + reserve <= target`, where `prompt` is exactly
what a model is sent (the chat-templated input and the answer prefix) and `reserve` the tokens kept
for its answer, so a row at target T is answerable by a model whose context is T. Training rows:
`target - tolerance <= length <= target`.
"""

from __future__ import annotations

from typing import Any

from ..fitting import length_tolerance
from ..tokenizers import Measurement


def check_length(
    row: dict[str, Any],
    measurement: Measurement,
    tolerance: int | None,
    input_tokens: int | None = None,
    fills: bool = True,
) -> list[str]:
    """`measurement` is of the prompt (evaluation rows) or the text (training rows); `input_tokens`,
    when given, is a count of the input alone to hold `length` to. `fills` False (the family says
    the task's context is its items alone): the target is an upper bound only."""
    target = int(row["target_length"])
    slack = length_tolerance(target, tolerance) if fills else target
    problems = []
    if "prompt" in row:
        if int(row["prompt_length"]) != measurement.length:
            problems.append(
                f"recorded prompt length {row['prompt_length']} but the prompt has {measurement.length} tokens"
            )
        total = measurement.length + int(row["reserve"])
        if not target - slack <= total <= target:
            problems.append(
                f"prompt length {measurement.length} + reserve {row['reserve']} = {total} is outside "
                f"[{target - slack}, {target}]"
            )
        if input_tokens is not None and int(row["length"]) != input_tokens:
            problems.append(f"recorded length {row['length']} but the input has {input_tokens} tokens")
        return problems
    if int(row["length"]) != measurement.length:
        problems.append(f"recorded length {row['length']} but the text has {measurement.length} tokens")
    if not target - slack <= measurement.length <= target:
        problems.append(f"length {measurement.length} is outside [{target - slack}, {target}]")
    return problems
