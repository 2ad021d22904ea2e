"""The nextlong oracle: every character of a training row is accounted for by a corpus chunk, the
meta-chunks rebuild the source document in order, and the negatives are other documents' chunks,
each used once."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...metadata_json import decode_metadata, encode_metadata
from ...validators.base import Validator
from .retrieval import UNIT_END


def _names_a_chunk(chunk: dict[str, Any], index) -> bool:
    """Whether a recorded chunk names a chunk of the index by its number (not a negative one, which
    Python would read from the end, nor a float, a string or true)."""
    number = chunk.get("chunk")
    return type(number) is int and 0 <= number < len(index.chunk_doc)


def chunks_tile_the_text(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """The recorded chunk spans cover the text in order, each span holding its corpus chunk's text."""
    index = generator.index
    text = row["text"]
    for n, chunk in enumerate(metadata["chunks"]):
        if not _names_a_chunk(chunk, index):  # (the other checks of the row need every chunk's number)
            return [f"chunk {n} names corpus chunk {chunk.get('chunk')!r}, which the index does not have"]
    problems: list[str] = []
    position = 0
    owners = index.doc_ids_of([chunk["chunk"] for chunk in metadata["chunks"]])
    for n, chunk in enumerate(metadata["chunks"]):
        start, end = chunk["char_start"], chunk["char_end"]
        if start != position:
            problems.append(f"chunk {n} starts at {start}, expected {position}")
            break
        piece = text[start:end]
        stored = index.chunk_texts[chunk["chunk"]]
        if (chunk.get("cut") and not stored.startswith(piece)) or (not chunk.get("cut") and piece != stored):
            problems.append(f"chunk {n} is not the text of corpus chunk {chunk['chunk']}")
        if owners[n] != chunk["doc_id"]:
            problems.append(f"chunk {n} is not from document {chunk['doc_id']}")
        position = end
        if not chunk.get("cut"):
            if text[end : end + len(UNIT_END)] != UNIT_END:
                problems.append(f"chunk {n} is not followed by a line break")
            position = end + len(UNIT_END)
    if position != len(text):
        problems.append(f"the chunks cover {position} of {len(text)} characters")
    return problems


def source_rebuilt(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """The meta-chunks all come from the source document and, joined, are that document."""
    index = generator.index
    text, source = row["text"], row["source_id"]
    metas = [c for c in metadata["chunks"] if c["role"] == "meta"]
    if not all(_names_a_chunk(c, index) for c in metadata["chunks"]):
        return []  # `chunks_tile_the_text` says which
    problems = []
    if any(c["doc_id"] != source for c in metas):
        problems.append("a meta-chunk comes from another document")
    # the source's number in the index, from a meta-chunk's id (a search of a million document ids per
    # row was most of a row's cost at that size), then checked against the id it must have
    owners = {int(index.chunk_doc[c["chunk"]]) for c in metas}
    doc = owners.pop() if len(owners) == 1 else -1
    if doc < 0 or index.doc_ids[doc] != source:
        problems.append(f"source document {source} is not in the corpus, or its meta-chunks are not its own")
    else:
        rebuilt = "".join(text[c["char_start"] : c["char_end"]] + index.chunk_joiners[c["chunk"]] for c in metas)
        if rebuilt != index.document(doc):
            problems.append("the meta-chunks do not reproduce the source document in order")
    return problems


def negatives_foreign_and_unique(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """No negative comes from the source document, and no chunk is used twice."""
    chunks, index = metadata["chunks"], generator.index  # (once: the property is a cache lookup per call)
    if not all(_names_a_chunk(c, index) for c in chunks):
        return []  # `chunks_tile_the_text` says which
    problems = []
    if any(c["doc_id"] == row["source_id"] for c in chunks if c["role"] == "negative"):
        problems.append("a negative comes from the source document")
    ids = [c["chunk"] for c in chunks]
    if len(set(ids)) != len(ids):
        problems.append("a chunk is used twice in one sample")
    return problems


def _change_first_character(row: dict[str, Any]) -> dict[str, Any]:
    text = row["text"]
    return {**row, "text": ("#" if text[0] != "#" else "%") + text[1:]}


def _unknown_source(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "source_id": "not-a-document-of-the-corpus"}


def _reuse_first_chunk(row: dict[str, Any]) -> dict[str, Any]:
    metadata = decode_metadata(row["metadata"])
    metadata["chunks"][-1]["chunk"] = metadata["chunks"][0]["chunk"]
    return {**row, "metadata": encode_metadata(metadata)}


def token_columns_from_text(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """`input_ids`, `doc_boundaries` and `position_ids`, where present, equal what a re-encode of
    `text` gives; every boundary is a token boundary (masking a document masks all of it)."""
    present = [name for name in ("input_ids", "doc_boundaries", "position_ids") if row.get(name) is not None]
    if not present:
        return []
    text = row["text"]
    ids = generator.tokenizer.encode_array(text)
    ends = generator.tokenizer.char_ends(text, ids)
    problems = []
    if "input_ids" in present and list(row["input_ids"]) != ids.tolist():
        problems.append("input_ids differ from a re-encode of the text")
    starts = np.searchsorted(ends, [c["char_start"] for c in metadata["chunks"]], side="right")
    if "doc_boundaries" in present:
        if list(row["doc_boundaries"]) != starts.tolist():
            problems.append("doc_boundaries differ from the chunk starts in a re-encode of the text")
        token_starts = np.concatenate([[0], ends[:-1]])
        misaligned = [
            c["char_start"]
            for c, b in zip(metadata["chunks"], starts.tolist(), strict=True)
            if b < len(ids) and token_starts[b] != c["char_start"]
        ]
        if misaligned:
            problems.append(f"a token straddles the chunk start at character {misaligned[0]}")
    if "position_ids" in present:
        positions = (
            np.arange(len(ids)) - starts[np.maximum(np.searchsorted(starts, np.arange(len(ids)), side="right") - 1, 0)]
        )
        if list(row["position_ids"]) != positions.tolist():
            problems.append("position_ids do not restart at every chunk start of a re-encode")
    return problems


def _shift_a_boundary(row: dict[str, Any]) -> dict[str, Any]:
    boundaries = list(row.get("doc_boundaries") or [])
    if len(boundaries) > 1:
        boundaries[1] += 1
    return {**row, "doc_boundaries": boundaries, "input_ids": (row.get("input_ids") or [0])[1:] or [1]}


VALIDATORS = (
    Validator("chunks tile the text", chunks_tile_the_text, _change_first_character),
    Validator("source document rebuilt", source_rebuilt, _unknown_source),
    Validator("negatives foreign and unique", negatives_foreign_and_unique, _reuse_first_chunk),
    Validator("token columns from a re-encode", token_columns_from_text, _shift_a_boundary),
)
