"""Rows: the row schema (see the README), and turning a measured sample into a row."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import polars as pl

from .fitting import Placements
from .generators.base import Cell, Generator, Sample
from .items import item_columns, item_records
from .metadata_json import encode_metadata
from .tokenizers import Measurement, Tokenizer
from .validators.depth import measured_depths

COMMON_SCHEMA = {
    "id": pl.String,
    "generator": pl.String,
    "task": pl.String,
    "target_length": pl.Int64,
    "length": pl.Int64,
    "tokenizer": pl.String,
    "seed": pl.Int64,
}
EVAL_SCHEMA = {
    **COMMON_SCHEMA,
    "input": pl.String,
    "question": pl.String,
    "answers": pl.List(pl.String),
    "answer_prefix": pl.String,
    "depths": pl.List(pl.Float64),
    "prompt": pl.String,
    "prompt_length": pl.Int64,
    "reserve": pl.Int64,
    "metadata": pl.String,
}
TRAIN_SCHEMA = {**COMMON_SCHEMA, "text": pl.String, "source_id": pl.String, "metadata": pl.String}


# Token-level columns a family may add for trainers, in this order: the text's token ids, where
# each document (source chunk) starts, and positions restarting at each document.
TOKEN_COLUMNS = ("input_ids", "doc_boundaries", "position_ids")


def schema_for(split: str, token_columns: tuple[str, ...] = ()) -> dict[str, Any]:
    schema = dict(EVAL_SCHEMA if split == "test" else TRAIN_SCHEMA)
    for name in TOKEN_COLUMNS:
        if name in token_columns:
            schema[name] = pl.List(pl.Int32)
    return schema


def input_length(tokenizer: Tokenizer, measurement: Measurement, prompt: str, span: tuple[int, int]) -> int:
    """Tokens of the input alone, from the prompt's one encode where the input starts and ends on
    token boundaries (tiktoken keeps such text's tokens as they are alone); else one more encode."""
    if getattr(tokenizer, "encodes_outside_gil", False):  # tiktoken
        between = measurement.tokens_between(*span)
        if between is not None:
            return between
    return tokenizer.count(prompt[span[0] : span[1]])


def _shifted(placed: Placements, by: int) -> Placements:
    """Placements moved by `by` characters (spans of -1, meaning none, stay)."""
    moved = [np.where(a >= 0, a + by, a) for a in (placed.before, placed.after, placed.run)]
    return Placements(placed.start + by, placed.end + by, *moved)


def make_row(
    generator: Generator, cell: Cell, sample: Sample, measurement: Measurement, seed: int, attempt: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A row whose numbers (lengths, offsets, depths) all come from `measurement`, and its metadata.

    For evaluation rows `fitted.text` is the whole prompt; tokens and depths are measured in it, and
    character offsets are recorded in the input (the prompt from `metadata.input_span[0]` on)."""
    fitted = sample.fitted
    text = fitted.text
    start, end = fitted.input_span or (0, len(text))
    span = (fitted.context_start, fitted.context_end)
    placed, inserts = fitted.placements, fitted.inserts
    if sample.item_order is not None:
        order = np.asarray(sample.item_order, dtype=np.int64)
        placed = Placements(*(getattr(placed, f.name)[order] for f in dataclasses.fields(Placements)))
        inserts = [inserts[i] for i in sample.item_order]
    before, depths = measured_depths(measurement, span, placed.start, placed.end)
    layout = item_columns if sample.columnar_items else item_records
    items = layout(inserts, _shifted(placed, -start) if start else placed, before, depths)
    metadata = {
        **sample.metadata,
        "item_key": sample.item_key,
        sample.item_key: items,
        "context_span": [span[0] - start, span[1] - start],
        "attempt": attempt,
        "filler_units": fitted.filler_units,
        "partial_unit": fitted.partial_unit,
    }
    if not generator.fills_target(cell.task):
        metadata["fills_target"] = False  # the target is an upper bound (the family's items are the context)
    row: dict[str, Any] = {
        "id": cell.id,
        "generator": generator.name,
        "task": cell.task,
        "target_length": cell.target_length,
        "length": measurement.length,
        "tokenizer": generator.tokenizer.name,
        "seed": seed,
    }
    if generator.split == "test":
        metadata["input_span"] = [start, end]
        metadata["canary"] = generator.canary  # evaluation data: a training filter can drop it
        row.update(
            length=input_length(generator.tokenizer, measurement, text, (start, end)),
            input=text[start:end],
            question=sample.question,
            answers=list(sample.answers),
            answer_prefix=sample.answer_prefix,
            depths=depths.tolist(),
            prompt=text,
            prompt_length=measurement.length,
            reserve=generator.reserve_for(cell.task) if sample.reserve is None else sample.reserve,
        )
    else:
        row.update(text=text, source_id=sample.source_id)
    columns = generator.token_columns(generator.spec)
    row["metadata"] = encode_metadata(metadata)
    if columns and measurement.ids is not None:
        values = {"input_ids": measurement.ids.tolist(), **generator.token_layout(metadata, measurement)}
        row.update({name: values[name] for name in TOKEN_COLUMNS if name in columns})  # the schema's order
    return row, metadata
