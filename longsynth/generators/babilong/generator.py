"""The babilong family: bAbI's reasoning tasks qa1 to qa5 hidden in a long haystack, as BABILong
(Kuratov et al., 2024) hides them in PG-19 books.

A story comes from a small world simulator of our own (`world`, `stories`): people walk between
rooms, pick things up, put them down and hand them over; for qa4, rooms lie next to each other. Its
facts, in story order, are the needles; the question is bAbI's for the task. The cell's depth places
the first and the last supporting fact (`spread` points apart); the other facts sit at seeded depths
that keep story order. Every fact's depth is measured and recorded, in story order.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from ...errors import SpecError
from ...fitting import Insert
from ...metadata_json import decode_metadata
from ...text import sources
from ..base import Cell, Generator, Sample, Task
from . import stories, wording
from .metrics import babilong_compare, names_answer
from .options import BabilongOptions
from .oracle import VALIDATORS

REPLY_TOKENS = 32  # BABILong generates at most 20 new tokens; the answer is one word


def _task(help: str) -> Task:
    return Task(
        help,
        {},
        names_answer,
        REPLY_TOKENS,
        anchor=babilong_compare,
        anchor_name="BABILong compare_answers (first sentence holds the answer and no other label)",
    )


TASKS = {
    "qa1": _task("single supporting fact: where is a person, after people walk between rooms"),
    "qa2": _task("two supporting facts: where is a thing, carried, put down and picked up by people"),
    "qa3": _task("three supporting facts: where was a thing before the room it is in now"),
    "qa4": _task("two-argument relations: which room lies north, south, east or west of another"),
    "qa5": _task("three-argument relations: who gave what to whom, most recently"),
}


class BabilongGenerator(Generator):
    name = "babilong"
    split = "test"
    uses_depth = True
    Options = BabilongOptions
    tasks = TASKS
    default_tasks = ["qa1"]
    paper = (
        "Kuratov et al., BABILong: Testing the Limits of LLMs with Long Context Reasoning-in-a-Haystack "
        "(arXiv:2406.10149); Weston et al., Towards AI-Complete Question Answering (arXiv:1502.05698)"
    )
    template_folder = Path(__file__).parent / "templates"
    validators = VALIDATORS
    per_task_options = True
    example = {"tasks": "qa1,qa2,qa3,qa4,qa5", "lengths": "1k", "depths": "0,100"}

    def __init__(self, spec, tokenizer):
        super().__init__(spec, tokenizer)
        self._corpora: dict[str, str] = {}
        for task in spec.tasks:
            options = self.task_options(task)
            if task == "qa4" and options.facts > stories.MAX_RELATIONS:
                raise SpecError(f"qa4: facts must be at most {stories.MAX_RELATIONS} (one per room of the layout)")
            if task == "qa3" and options.facts > stories.MAX_QA3_FACTS:
                raise SpecError(
                    f"qa3: facts must be at most {stories.MAX_QA3_FACTS}: in a longer story every thing has been in "
                    "its room before, and 'where was it before that room' has no single answer"
                )
            identity = sources.checked_corpus(task, options)
            if identity is not None:
                self._corpora[options.corpus] = identity
        self._max_length = max(spec.lengths)
        # A user's wordings (--template-dir) must read back: each keeps its placeholders and its full stop,
        # and prints the names as they are.
        wording.fact_patterns(self.templates)
        wording.question_patterns(self.templates)
        wording.fact_wordings(self.templates)

    @classmethod
    def placed_items(cls, row: dict[str, Any]) -> list[str]:
        """The story's words of the answer's kind (rooms, people or things), less the question's."""
        return list(decode_metadata(row["metadata"]).get("labels", []))

    def sample(self, cell: Cell, rng: random.Random, budget_adjust: int = 0) -> Sample:
        options = self.task_options(cell.task)
        story = stories.draw(cell.task, rng, options.facts or stories.DEFAULT_FACTS[cell.task])
        depths = story_depths(len(story.facts), story.supporting, float(cell.depth), options.spread, rng)
        supporting = set(story.supporting)
        inserts = [
            Insert(
                wording.render_fact(self.templates, fact, rng),
                depth,
                {**fact.as_dict(), "supporting": n in supporting},
            )
            for n, (fact, depth) in enumerate(zip(story.facts, depths, strict=True))
        ]
        question = wording.render_question(self.templates, story.question)
        answer_prefix = self.templates.render("answer_prefix.j2")
        texts, tokens = sources.haystack_run(
            sources.haystack_of(options, self._corpora), self.tokenizer.name, cell.target_length, self._max_length, rng
        )
        fitted = self.fit_prompt(
            "prompt.j2",
            {"question": question, "task": cell.task},
            cell,
            budget_adjust,
            answer_prefix=answer_prefix,
            filler_texts=texts,
            filler_tokens=tokens,
            inserts=inserts,
            whole_units_only=True,
        )
        metadata = {
            "params": {"haystack": options.haystack, "facts": len(story.facts), "spread": options.spread},
            "story_question": story.question.as_dict(),
            "supporting": story.supporting,
            "labels": story.labels,
        }
        return Sample(fitted, question, [story.answer], answer_prefix, metadata, item_key="facts")


def story_depths(count: int, supporting: list[int], depth: float, spread: float, rng: random.Random) -> list[float]:
    """Requested depths for a story's facts, non-decreasing in story order (so the text tells the
    story in order). The first supporting fact goes to `depth * (100 - spread) / 100` and the last
    `spread` points later (one supporting fact: at `depth`); supporting facts between them, and the
    other facts before, between and after, at sorted seeded depths within their stretch."""
    first, last = supporting[0], supporting[-1]
    if first == last:
        low = high = depth
    else:
        low = depth * (100.0 - spread) / 100.0
        high = low + spread
    anchors = {first: low, last: high}
    depths: list[float] = []
    bounds = [(0, first, 0.0, low), (first + 1, last, low, high), (last + 1, count, high, 100.0)]
    for start, stop, lo, hi in bounds:
        if start > stop:
            continue
        drawn = sorted(min(max(round(rng.uniform(lo, hi), 1), lo), hi) for _ in range(start, stop))
        depths += drawn
        if stop in anchors and stop < count:
            depths.append(anchors[stop])
    assert len(depths) == count and depths == sorted(depths), (depths, supporting)
    return depths
