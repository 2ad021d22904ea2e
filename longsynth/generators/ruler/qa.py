"""RULER's question answering (`qa_1`, `qa_2`): the gold paragraph(s) of a question among
distractor paragraphs, each written as RULER writes them ("Document k:", a line break, the
paragraph), and the question after them.

Distractors follow RULER: first the question's related paragraphs (the rest of its SQuAD article, or
the rest of its own HotpotQA paragraphs, HotpotQA's hard distractors), then paragraphs drawn at
random from the whole set, as many as the length holds, in shuffled order. Unlike RULER (which
shuffles the gold paragraph in among them), the first gold paragraph sits at the cell's depth and a
second one (`qa_2`) at a seeded depth; both depths are measured and recorded.

Questions are drawn without replacement within a length (a seeded permutation, indexed by sample
and depth; see `question_for`) and independently across lengths. With the built-in set, each row
also records the values of the asked fact that its other documents state (`metadata.placed`): a
reply naming one of them besides the answer is hedging, and the scoring policy scores it so.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING, Any

from ...fitting import Insert, Labeler
from ..base import Cell, Sample
from .qa_data import QASet, question_for

if TYPE_CHECKING:
    from .generator import RulerGenerator

DOCUMENT_LABEL = "Document {n}:"
DOCUMENT = re.compile(r"Document (\d+):\n")
LABEL_BREAK = "\n"  # between a document's label and its paragraph, as RULER writes it
SEPARATOR = "\n\n"
LABEL_TOKENS = 5  # "Document 123:" counts 4 or 5 tokens: what choosing distractors budgets per label


def read_documents(context: str) -> list[tuple[int, int, int]]:
    """(number, start, end) of each document of a context, in order."""
    marks = list(DOCUMENT.finditer(context))
    ends = [m.start() - len(SEPARATOR) for m in marks[1:]] + [len(context)]
    return [(int(m.group(1)), m.end(), end) for m, end in zip(marks, ends, strict=True)]


def distractors(qa: QASet, asked, paragraphs: int, room: int, rng: random.Random) -> list[int]:
    """Distractor paragraphs in context order: as many as `room` tokens hold (a little under), the
    related ones first (all of them when they fit), the rest drawn at random, shuffled together as
    RULER does; then more random ones behind them for the fitter's last whole units."""
    gold = set(asked.gold)
    related = [p for p in asked.related if p < paragraphs and p not in gold]
    mean = max(1.0, float(qa.tokens[:paragraphs].mean()))
    wanted = min(paragraphs, int(room / mean) + len(related) + 32)
    chosen: list[int] = []
    seen = set(gold)  # a set beside the list: membership in the list cost 2.7 ms a 32K sample
    used = 0
    sizes = qa.tokens
    for p in rng.sample(related, len(related)) + rng.sample(range(paragraphs), wanted):
        if p in seen:
            continue
        cost = int(sizes[p]) + LABEL_TOKENS
        if used + cost > room - 2 * mean:  # leave the fitter a gap to close with the spares
            break
        chosen.append(p)
        seen.add(p)
        used += cost
    rng.shuffle(chosen)
    taken = gold | set(chosen)
    # Spares for what the estimate left (labels are counted per unit as they land): an eighth more.
    wanted_spares = 64 + len(chosen) // 8
    pool = rng.sample(range(paragraphs), min(paragraphs, wanted_spares + len(taken)))
    return chosen + [p for p in pool if p not in taken][:wanted_spares]


def placed_values(qa: QASet, asked, context: str) -> list[str]:
    """The values of the asked fact that the context's documents state (built-in set only: a user's
    set has no facts by name)."""
    if not asked.fact:
        return []
    stated = (qa.facts.get(context[start:end].rstrip("\n")) for _, start, end in read_documents(context))
    return list(dict.fromkeys(facts[asked.fact] for facts in stated if facts and asked.fact in facts))


def sample(generator: RulerGenerator, cell: Cell, rng: random.Random, options: Any, budget_adjust: int) -> Sample:
    qa: QASet = generator.qa_set(cell.task)
    paragraphs, questions = qa.reach(cell.target_length)
    asked = question_for(qa, questions, generator.spec.seed, cell.task, cell.target_length, cell.depth, cell.index)
    depths = [float(cell.depth)] + [round(rng.uniform(0.0, 100.0), 1) for _ in asked.gold[1:]]
    inserts = [Insert(qa.paragraphs[g], d, {"paragraph": g}) for g, d in zip(asked.gold, depths, strict=True)]
    variables = {"question": asked.text}
    answer_prefix = generator.templates.render("qa_answer_prefix.j2")
    _, room = generator.room("qa_prompt.j2", variables, cell, answer_prefix)
    gold_tokens = sum(int(qa.tokens[g]) for g in asked.gold)
    drawn = distractors(qa, asked, paragraphs, room - gold_tokens - budget_adjust, rng)
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
        labeler=Labeler(generator.tokenizer, DOCUMENT_LABEL, separator="", joiner=LABEL_BREAK),
        whole_units_only=True,
        separator=SEPARATOR,
    )
    metadata = {
        "params": {"hops": len(asked.gold), "data": options.qa_data or "built-in"},
        "documents": fitted.filler_units + len(inserts),
    }
    if asked.fact:
        context = fitted.text[fitted.context_start : fitted.context_end]
        metadata |= {"fact": asked.fact, "subject": asked.subject, "placed": placed_values(qa, asked, context)}
    return Sample(fitted, asked.text, list(asked.answers), answer_prefix, metadata, item_key="gold")
