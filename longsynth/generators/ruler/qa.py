"""RULER's question answering (`qa_1`, `qa_2`): the gold paragraph(s) of a question among
distractor paragraphs, each written "Document k: ...", and the question after them.

As in RULER, distractors are other paragraphs of the same set, drawn at random, as many as the
length holds. Unlike RULER (which shuffles the gold paragraph in among them), the first gold
paragraph sits at the cell's depth and a second one (`qa_2`) at a seeded depth; both depths are
measured and recorded.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING, Any

from ...fitting import Insert, Labeler
from ..base import Cell, Sample
from .qa_data import QASet

if TYPE_CHECKING:
    from .generator import RulerGenerator

DOCUMENT_LABEL = "Document {n}:"
DOCUMENT = re.compile(r"Document (\d+): ")
SEPARATOR = "\n\n"


def read_documents(context: str) -> list[tuple[int, int, int]]:
    """(number, start, end) of each document of a context, in order."""
    marks = list(DOCUMENT.finditer(context))
    ends = [m.start() - len(SEPARATOR) for m in marks[1:]] + [len(context)]
    return [(int(m.group(1)), m.end(), end) for m, end in zip(marks, ends, strict=True)]


def sample(generator: RulerGenerator, cell: Cell, rng: random.Random, options: Any, budget_adjust: int) -> Sample:
    qa: QASet = generator.qa_set(cell.task)
    paragraphs, questions = qa.reach(cell.target_length)
    asked = qa.questions[rng.randrange(questions)]
    gold = set(asked.gold)
    depths = [float(cell.depth)] + [round(rng.uniform(0.0, 100.0), 1) for _ in asked.gold[1:]]
    inserts = [Insert(qa.paragraphs[g], d, {"paragraph": g}) for g, d in zip(asked.gold, depths, strict=True)]
    # Distractors: a random draw of other paragraphs, about twice what the length holds.
    wanted = min(paragraphs, int(2 * cell.target_length / max(1.0, float(qa.tokens[:paragraphs].mean()))) + 16)
    drawn = [p for p in rng.sample(range(paragraphs), wanted) if p not in gold]
    variables = {"question": asked.text}
    answer_prefix = generator.templates.render("qa_answer_prefix.j2")
    fitted = generator.fit_prompt(
        "qa_prompt.j2",
        variables,
        cell,
        budget_adjust,
        answer_prefix=answer_prefix,
        filler_texts=[qa.paragraphs[p] for p in drawn],
        filler_tokens=qa.tokens[drawn],
        inserts=inserts,
        insert_tokens=[int(qa.tokens[g]) for g in asked.gold],
        # The blank line between documents is counted with the paragraph before it (`unit_text`).
        labeler=Labeler(generator.tokenizer, DOCUMENT_LABEL, separator=""),
        whole_units_only=True,
        separator=SEPARATOR,
    )
    metadata = {
        "params": {"hops": len(asked.gold), "data": options.qa_data or "built-in"},
        "documents": fitted.filler_units + len(inserts),
    }
    return Sample(fitted, asked.text, list(asked.answers), answer_prefix, metadata, item_key="gold")
