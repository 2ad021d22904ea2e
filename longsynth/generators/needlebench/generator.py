"""The needlebench family: NeedleBench's multi-needle tasks (Li et al., NeedleBench, arXiv:2407.11963).

- `multi_retrieval` (M-RT): several independent needles, all asked;
- `multi_reasoning` (M-RS): 2 to 5 needles forming one chain of facts;
- `ancestral_trace` (ATC): a shuffled chain of kinship statements, with or without a haystack.

Needles sit at the cell's depth and at seeded depths; every needle's depth is measured and recorded.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

from ...errors import SpecError
from ...fitting import Insert
from ...metadata_json import decode_metadata
from ...seeding import derive_seed
from ...text import sources
from ...text.language import LANGUAGES
from ..base import Cell, Generator, Sample, Task, localized
from . import ancestry, reasoning, retrieval
from .metrics import final_answer, needlebench_atc, needlebench_parallel, share_of_needles
from .names import ZH, base_task
from .options import NeedleBenchOptions
from .oracle import VALIDATORS

# The eldest of a line is named in one statement only (as in NeedleBench), and so is each line's
# youngest but the asked one (whom the question names too): the name first met last in the text is
# one of these few about one time in six, against 1 in 27 for a blind pick among every name.
ONCE_NAMED = (
    "by design of NeedleBench's ATC: the eldest is named once, so the name a text mentions first "
    "last is often one of the few named once (about 0.15 at 8 needles and 2 distractor lines)"
)
ATC = {"anchor": needlebench_atc, "anchor_name": "NeedleBench v2 ATC (last boxed answer, exact name)"}
TASKS = {
    "multi_retrieval": Task(
        "M-RT: several independent needles, all asked, among needles of people not asked",
        {"num_needles": 5},
        share_of_needles,
        128,
        ordered=True,
        anchor=needlebench_parallel,
        anchor_name="NeedleBench v2 multi-needle retrieval (share of answers in the reply)",
    ),
    # NeedleBench v2 scores its multi-needle reasoning with the ATC evaluator.
    "multi_reasoning": Task(
        "M-RS: 2 to 5 needles chained into one answer, among other chains",
        {"num_needles": 2},
        final_answer,
        256,
        answer="boxed",
        **ATC,
    ),
    "ancestral_trace": Task(
        "ATC: the eldest ancestor through a shuffled chain of kinship statements (no haystack by default)",
        {"num_needles": 8, "haystack": "none"},
        final_answer,
        256,
        uses_depth=False,
        answer="boxed",
        declared={"last candidate": ONCE_NAMED},
        **ATC,
    ),
}
# NeedleBench builds every task in English and in Chinese: each task's Chinese twin presets language=zh,
# so one spec (the `needlebench` suite) can hold both.
TASKS.update(
    {
        name + ZH: dataclasses.replace(task, help=task.help + " (in Chinese)", preset={**task.preset, "language": "zh"})
        for name, task in TASKS.items()
    }
)


SAMPLERS = {
    "multi_retrieval": retrieval.sample,
    "multi_reasoning": reasoning.sample,
    "ancestral_trace": ancestry.sample,
}
NEEDLE_RANGE = {"multi_retrieval": (1, 100), "multi_reasoning": (2, reasoning.MAX_HOPS), "ancestral_trace": (2, 512)}


class NeedleBenchGenerator(Generator):
    name = "needlebench"
    split = "test"
    uses_depth = True
    Options = NeedleBenchOptions
    tasks = TASKS
    default_tasks = ["multi_retrieval"]
    paper = (
        "Li et al., NeedleBench: Can LLMs Do Retrieval and Reasoning in Information-Dense Context? (arXiv:2407.11963)"
    )
    template_folder = Path(__file__).parent / "templates"
    validators = VALIDATORS
    per_task_options = True
    example = {
        # ancestral_trace_zh is audited on more rows in tests/families/test_chinese.py: a grid of 8 ATC
        # rows meets a 1-in-27 blind pick twice about one time in thirty.
        "tasks": "multi_retrieval,multi_reasoning,ancestral_trace,multi_retrieval_zh,multi_reasoning_zh",
        "lengths": "1k",
        "depths": "0,100",
    }

    def __init__(self, spec, tokenizer):
        super().__init__(spec, tokenizer)
        self.max_length = max(spec.lengths)
        for task in spec.tasks:
            options = self.task_options(task)
            low, high = NEEDLE_RANGE[base_task(task)]
            if not low <= options.num_needles <= high:
                raise SpecError(f"{task}: num_needles must be from {low} to {high}, got {options.num_needles}")
            if options.haystack == "none" and base_task(task) != "ancestral_trace":
                raise SpecError(f"{task}: haystack=none is for ancestral_trace only; use prose or noise")
            if task.endswith(ZH) and options.language != "zh":
                raise SpecError(f"{task} is the Chinese twin of {base_task(task)}; build that task for English")
            if base_task(task) == "ancestral_trace":
                ancestry.check_wordings(self, options.language)
            if base_task(task) == "multi_reasoning":
                self.templates.require_plain(
                    localized("reasoning_needle.j2", options.language),
                    ("a", "b"),
                    "the validator reads each link back by its placeholders",
                )

    @classmethod
    def placed_items(cls, row: dict[str, Any]) -> list[str]:
        """Every box label (asked or not) for retrieval; every name for reasoning and ATC."""
        metadata = decode_metadata(row["metadata"])
        return list(metadata.get("items" if base_task(row["task"]) == "multi_retrieval" else "names", []))

    def fills_target(self, task: str) -> bool:
        return self.task_options(task).haystack != "none"

    def place(
        self,
        cell: Cell,
        rng: random.Random,
        options: Any,
        budget_adjust: int,
        inserts: list[Insert],
        question: str,
        answers: list[str],
        metadata: dict[str, Any],
    ) -> Sample:
        """Fit the needles into the haystack (or alone, with haystack=none) under the prompt."""
        language = options.language
        answer_prefix = self.templates.render(localized("answer_prefix.j2", language))
        if options.haystack == "none":
            texts, tokens = [], []
        else:
            haystack = sources.Haystack(options.haystack, language=language)
            texts, tokens = sources.haystack_run(
                haystack, self.tokenizer.name, cell.target_length, self.max_length, rng
            )
        joining = LANGUAGES[language]
        fitted = self.fit_prompt(
            localized("prompt.j2", language),
            {"question": question, "task": base_task(cell.task)},
            cell,
            budget_adjust,
            answer_prefix=answer_prefix,
            filler_texts=texts,
            filler_tokens=tokens,
            inserts=inserts,
            whole_units_only=True,
            fill=options.haystack != "none",
            separator=joining.separator,
            lead=joining.lead,
        )
        return Sample(fitted, question, answers, answer_prefix, metadata, item_key="needles")

    def sample(self, cell: Cell, rng: random.Random, budget_adjust: int = 0) -> Sample:
        options = self.task_options(cell.task)
        # Salted by the task's options: row k of two configs (2 and 3 needles, say) draws other names,
        # as NeedleBench's seed-by-row-number does not.
        salt = {k: v for k, v in dataclasses.asdict(options).items() if (k, v) != ("language", "en")}  # as before zh
        salted = random.Random(derive_seed(rng.getrandbits(63), cell.task, sorted(salt.items())))
        return SAMPLERS[base_task(cell.task)](self, cell, salted, options, budget_adjust)
