"""The nextlong oracle: every character of a training row is accounted for by a corpus chunk, the
meta-chunks rebuild the source document in order, and the negatives are other documents' chunks,
each used once."""

from __future__ import annotations

from typing import Any

from ...metadata_json import decode_metadata, encode_metadata
from ...validators.base import Validator
from .retrieval import UNIT_END


def chunks_tile_the_text(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """The recorded chunk spans cover the text in order, each span holding its corpus chunk's text."""
    index = generator.index
    text = row["text"]
    problems: list[str] = []
    position = 0
    for n, chunk in enumerate(metadata["chunks"]):
        start, end = chunk["char_start"], chunk["char_end"]
        if start != position:
            problems.append(f"chunk {n} starts at {start}, expected {position}")
            break
        piece = text[start:end]
        stored = index.chunk_texts[chunk["chunk"]]
        if (chunk.get("cut") and not stored.startswith(piece)) or (not chunk.get("cut") and piece != stored):
            problems.append(f"chunk {n} is not the text of corpus chunk {chunk['chunk']}")
        if index.doc_ids[int(index.chunk_doc[chunk["chunk"]])] != chunk["doc_id"]:
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
    problems = []
    if any(c["doc_id"] != source for c in metas):
        problems.append("a meta-chunk comes from another document")
    doc = index.doc_ids.index(source) if source in index.doc_ids else -1
    if doc < 0:
        problems.append(f"source document {source} is not in the corpus")
    else:
        rebuilt = "".join(text[c["char_start"] : c["char_end"]] + index.chunk_joiners[c["chunk"]] for c in metas)
        if rebuilt != index.document(doc):
            problems.append("the meta-chunks do not reproduce the source document in order")
    return problems


def negatives_foreign_and_unique(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """No negative comes from the source document, and no chunk is used twice."""
    chunks = metadata["chunks"]
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


VALIDATORS = (
    Validator("chunks tile the text", chunks_tile_the_text, _change_first_character),
    Validator("source document rebuilt", source_rebuilt, _unknown_source),
    Validator("negatives foreign and unique", negatives_foreign_and_unique, _reuse_first_chunk),
)
