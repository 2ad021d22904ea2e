"""The babilong metrics.

Ours: the reply names the answer word (whole word, any case). `scoring.score` runs the shared policy
first: the reply is cut to the row's reserve, an echo of the input is nothing, and a reply that also
names another word of the answer's kind from the story (another room, person or thing; not the ones
the question names) scores 0, so listing every room does not score.

BABILong's own (`anchor`): the reply's first sentence, lower-cased, must contain the answer and no
other label of the task, labels named in the question aside. BABILong's labels are bAbI's fixed
vocabulary per task; ours are the words of the answer's kind the row's story uses (`labels`).
"""

from __future__ import annotations

import re
from typing import Any

from ...metadata_json import decode_metadata


def names_answer(row: dict[str, Any], reply: str) -> float:
    gold = row["answers"][0].lower()
    return float(re.search(rf"(?<![a-z]){re.escape(gold)}(?![a-z])", reply.lower()) is not None)


def babilong_compare(row: dict[str, Any], prediction: str) -> float:
    """BABILong's `compare_answers` on the raw reply: its first sentence (up to the first full stop,
    and before any "<context>" or "<example>"), lower-cased, contains the answer and no other label
    (substring containment, as theirs). Theirs also cuts at "Question", after lower-casing, so that
    cut never happens; nor does it here."""
    output = prediction.lower().split(".")[0].split("<context>")[0].split("<example>")[0]
    metadata = decode_metadata(row["metadata"])
    target = row["answers"][0].lower()
    labels = {w.lower() for w in metadata.get("labels", [])} | {target}
    in_question = {w for w in labels if w in row["question"].lower()}
    named = {w for w in labels if w in output} - in_question
    return float(named == {target})
