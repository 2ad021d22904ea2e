"""Validators: the generic length and depth checks, then the family's own (its answerability oracle).

`validate_row` is the single entry point used by the build (with the
sample's one measurement) and by `longsynth validate` (which re-encodes).
A row with any problem is never written.
"""

from __future__ import annotations

from typing import Any

from ..metadata_json import read_metadata
from ..tokenizers import Measurement, Tokenizer, certain_cuts, measure
from .base import Validator
from .depth import check_depths, is_span_within
from .length import check_length


def run_validator(validator: Validator, generator: Any, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """One family validator's problems; a row it cannot read is a problem, not a crash."""
    try:
        return validator.check(generator, row, metadata)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        return [f"{validator.name}: could not read the row ({type(exc).__name__}: {exc})"]


TEXT_COLUMNS = ("prompt", "input", "answer_prefix", "text")  # what `text_problems` checks


def text_problems(row: dict[str, Any]) -> list[str]:
    """A written row's texts that are not text (a null or a number where someone edited the shard):
    such a row is a problem, and nothing is measured or re-derived from it."""
    columns = ("prompt", "input", "answer_prefix") if "prompt" in row else ("text",)
    wrong = [name for name in columns if not isinstance(row.get(name), str)]
    return [f"its {name} is not text ({type(row.get(name)).__name__})" for name in wrong]


def measure_written(row: dict[str, Any], tokenizer: Tokenizer) -> tuple[Measurement, int | None]:
    """A written row's counts, measured afresh by the tokenizer's own library (not the build's faster
    encoder, which this re-checks): its prompt (or text), and its input's count alone
    (`input_count`). Safe to run on other threads (`longsynth validate` measures rows ahead while it
    validates earlier ones)."""
    text = row["prompt"] if "prompt" in row else row.get("text")
    measurement = measure(tokenizer, text, reference=True)
    return measurement, input_count(tokenizer, measurement, text, row["input"]) if "prompt" in row else None


EDGE_CHARS = 256  # how far into each end of the input a certain pre-token cut is looked for


def input_count(tokenizer: Tokenizer, measurement: Measurement, prompt: str, text: str) -> int:
    """The tokens of `text` (a row's input) encoded alone, from the prompt's own encode where that is
    exact: the input's middle, between the first and the last certain pre-token cut near its ends
    (`pre_token_cuts`), is tokenized in the prompt exactly as alone, so its count is read off the
    prompt's tokens and only the two ends (a few hundred characters each) are encoded again.
    Elsewhere (no such cut, another tokenizer, an input that is not in the prompt) the whole input
    is encoded. This is not the build's shortcut (any token boundary at the input's ends, taken from
    the build's faster encoder), so it checks that one: a validate used to encode every input twice."""
    if len(text) <= 4 * EDGE_CHARS or getattr(tokenizer, "pre_token_cuts", None) is None:
        return tokenizer.count(text)
    head = certain_cuts(tokenizer, text, 1, EDGE_CHARS)
    tail = certain_cuts(tokenizer, text, len(text) - EDGE_CHARS + 1, len(text))
    start = prompt.find(text)
    if head is None or tail is None or not len(head) or not len(tail) or start < 0:
        return tokenizer.count(text)
    first, last = int(head[0]), int(tail[-1])
    middle = measurement.tokens_between(start + first, start + last)
    if middle is None:  # a certain cut is always a token boundary; never trust a disagreement
        return tokenizer.count(text)
    return tokenizer.count(text[:first]) + middle + tokenizer.count(text[last:])


def validate_row(
    row: dict[str, Any],
    generator: Any,
    tokenizer: Tokenizer,
    measurement: Measurement | None = None,
    metadata: dict[str, Any] | None = None,
    input_tokens: int | None = None,
) -> list[str]:
    """Every problem found with one row; an empty list means the row is valid.

    The build passes the measurement and the metadata it just made, so neither the text nor the
    metadata JSON is processed twice; `longsynth validate` passes the row alone, or with
    `measure_written`'s counts made ahead.
    """
    text = row["prompt"] if "prompt" in row else row.get("text")
    if measurement is None:  # a written row
        if text_problems(row):
            return text_problems(row)
        measurement, input_tokens = measure_written(row, tokenizer)
    if metadata is None:
        metadata, problem = read_metadata(row.get("metadata"))
        if metadata is None:
            return [problem]
    fills = generator.fills_target(row["task"])
    problems = check_length(row, measurement, generator.spec.length_tolerance, input_tokens, fills)
    if metadata.get("fills_target", True) != fills:
        problems.append(f"metadata.fills_target is {metadata.get('fills_target', True)}, but the spec says {fills}")
    span_ok = True
    if "prompt" in row:
        span = metadata.get("input_span", (0, len(row["input"])))
        if not is_span_within(span, len(text)):  # offsets into the prompt, none below zero
            span_ok = False  # (the depths are measured from it)
            problems.append(f"metadata.input_span {span!r} is not a span of the prompt's {len(text)} characters")
        elif text[span[0] : span[1]] != row["input"] or not text.endswith(row["answer_prefix"]):
            problems.append("the prompt is not the input wrapped by the chat template, then the answer prefix")
    if span_ok and metadata.get(metadata.get("item_key", "items")):
        problems += check_depths(row, metadata, measurement)
    for validator in generator.validators:
        problems += run_validator(validator, generator, row, metadata)
    return problems


__all__ = ["TEXT_COLUMNS", "Validator", "check_depths", "check_length", "run_validator", "validate_row"]
