"""The ruler family: RULER's 13 synthetic tasks.

The eight needle-in-a-haystack tasks are the needle family's (built by it, with its templates and
oracle); this family adds variable tracking (`vt`), common and frequent words extraction (`cwe`,
`fwe`) and single- and multi-hop QA (`qa_1`, `qa_2`), each in a module of its own. Each task keeps
RULER's reply budget (its `tokens_to_generate`) as its reserve and RULER's metric.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

from ...errors import SpecError
from ...metadata_json import decode_metadata
from ...scoring import ruler_string_match_all, ruler_string_match_part
from ...text import sources
from ..base import EDGE_BASELINES, Cell, Generator, Sample, Task, Wrapped
from ..needle.generator import TASKS as NEEDLE_TASKS
from ..needle.generator import NeedleGenerator
from ..needle.options import NeedleOptions
from . import common_words, frequent_words, qa, variable_tracking
from .metrics import string_match_all, string_match_part
from .options import RulerOptions
from .oracle import NIAH, VALIDATORS, list_line
from .qa_data import QASet, builtin_entities_for, builtin_set, user_set

ALL = {"anchor": ruler_string_match_all, "anchor_name": "RULER string_match_all"}
PART = {"anchor": ruler_string_match_part, "anchor_name": "RULER string_match_part"}
# RULER's tokens_to_generate per task: the reply each row keeps room for.
TASKS = {
    # The needle family's NIAH tasks, scored like the rest of this suite (RULER's string_match_all,
    # read within the reply budget, an echo scoring 0).
    **{name: dataclasses.replace(task, metric=string_match_all) for name, task in NEEDLE_TASKS.items()},
    "vt": Task(
        "variable tracking: every variable a value is passed to along chains of assignments",
        {"haystack": "noise"},
        string_match_all,
        30,
        uses_depth=False,
        declared=dict.fromkeys(
            ("every candidate", "first candidate", "last candidate", "random candidate"),
            "by design of RULER: one chain by default (num_chains=1), so every variable outside the example "
            "is an answer; --set num_chains=N closes it",
        ),
        **ALL,
    ),
    "cwe": Task(
        "common words extraction: the 10 words repeated most in a numbered list",
        {},
        string_match_all,
        120,
        uses_depth=False,
        **ALL,
    ),
    "fwe": Task(
        "frequent words extraction: the 3 most frequent coded words (Zipf, alpha 2)",
        {},
        string_match_all,
        50,
        uses_depth=False,
        **ALL,
    ),
    "qa_1": Task(
        "single-hop QA: the gold paragraph among distractor documents",
        {},
        string_match_part,
        32,
        declared=dict(EDGE_BASELINES),
        **PART,
    ),
    "qa_2": Task(
        "two-hop QA: two gold paragraphs among distractor documents",
        {},
        string_match_part,
        32,
        declared=dict(EDGE_BASELINES),
        **PART,
    ),
}
SAMPLERS = {
    "vt": variable_tracking.sample,
    "cwe": common_words.sample,
    "fwe": frequent_words.sample,
    "qa_1": qa.sample,
    "qa_2": qa.sample,
}
RULER_SHOTS = {"vt": 1, "cwe": 1}  # RULER's solved examples per task (none for the others)
NEEDLE_OPTIONS = tuple(f.name for f in dataclasses.fields(NeedleOptions))


class RulerGenerator(Generator):
    name = "ruler"
    split = "test"
    uses_depth = True
    Options = RulerOptions
    tasks = TASKS
    default_tasks = ["vt"]
    paper = "Hsieh et al., RULER: What's the Real Context Size of Your Long-Context Language Models? (arXiv:2404.06654)"
    template_folder = Path(__file__).parent / "templates"
    validators = VALIDATORS
    per_task_options = True
    builds_on = ("needle",)
    example = {"tasks": "vt,cwe,fwe,qa_1,qa_2,niah_single_1", "lengths": "1k", "depths": "0,100"}

    @classmethod
    def placed_items(cls, row: dict[str, Any]) -> list[str]:
        """The NIAH tasks' needle values (the needle family's rule); for QA on the built-in set, the
        values of the asked fact its documents state; cwe's and fwe's list words; none for vt (its
        one default chain is declared by design) and a user's QA set."""
        if row["task"] in NIAH:
            return NeedleGenerator.placed_items(row)
        if row["task"] in ("qa_1", "qa_2"):
            return list(decode_metadata(row["metadata"]).get("placed", []))
        if row["task"] in ("cwe", "fwe"):
            # Every distinct word of the list: naming words blind costs precision, as it would not under
            # RULER's string_match_all (the share of answers found).
            line = list_line(row["input"])
            words = common_words.read_list(line) if row["task"] == "cwe" else line.split()
            return [w for w in dict.fromkeys(words or []) if w.isalpha()]
        return []

    @classmethod
    def declared_for(cls, task: str, row: dict[str, Any]) -> dict[str, str]:
        """NIAH: the needle family's rule; vt: RULER's one-chain declaration only with one chain."""
        if task in NIAH:
            return NeedleGenerator.declared_for(task, row)
        if task == "vt" and int(decode_metadata(row["metadata"]).get("params", {}).get("num_chains", 1)) > 1:
            return {}
        return dict(cls.tasks[task].declared)

    @classmethod
    def chance_for(cls, task: str, row: dict[str, Any]) -> float:
        """NIAH: the needle family's rule; vt with several chains: one chain in num_chains."""
        if task in NIAH:
            return NeedleGenerator.chance_for(task, row)
        if task == "vt":
            chains = int(decode_metadata(row["metadata"]).get("params", {}).get("num_chains", 1))
            return 1.0 / chains if chains > 1 else cls.tasks[task].chance
        if task == "cwe":
            # Naming the list's words blind: the common words are num_cw of its distinct words, so a list
            # of all of them scores an F1 of 2p / (1 + p) (0.25 at 4K, where the list is short, as RULER's).
            metadata = decode_metadata(row["metadata"])
            share = metadata["params"]["num_cw"] / max(1, metadata["distinct_words"])
            return 2 * share / (1 + share)
        return super().chance_for(task, row)

    def __init__(self, spec, tokenizer):
        super().__init__(spec, tokenizer)
        self.max_length = max(spec.lengths)
        # The NIAH tasks (and vt's haystack) come from the needle family, with its options only.
        needle_spec = dataclasses.replace(
            spec,
            generator="needle",
            tasks=[t for t in spec.tasks if t in NIAH],
            options={k: v for k, v in spec.options.items() if k in NEEDLE_OPTIONS},
            task_options={
                t: {k: v for k, v in o.items() if k in NEEDLE_OPTIONS}
                for t, o in spec.task_options.items()
                if t in NIAH
            },
        )
        self.needle = NeedleGenerator(needle_spec, tokenizer)
        self._qa: dict[str, QASet] = {}
        for task in spec.tasks:
            options = self.task_options(task)
            if task == "vt" and options.haystack not in ("noise", "prose"):
                raise SpecError(f"vt: haystack must be noise or prose, got {options.haystack!r}")
            if task == "cwe" and not (
                options.freq_cw > options.freq_ucw and options.short_freq_cw > options.short_freq_ucw
            ):
                raise SpecError("cwe: common words must appear more often than the others (freq_cw > freq_ucw)")
            if task in ("qa_1", "qa_2") and options.qa_data:
                sources.check_corpus(options.qa_data)
        if "vt" in spec.tasks:
            variable_tracking.statement_pattern(self)  # a statement template that cannot be read back fails here

    def shots(self, task: str, options: Any) -> int:
        return options.shots if options.shots >= 0 else RULER_SHOTS.get(task, 0)

    def qa_set(self, task: str) -> QASet:
        """The task's QA set, read or made once per process."""
        if task not in self._qa:
            options = self.task_options(task)
            hops = 1 if task == "qa_1" else 2
            if options.qa_data:
                identity = sources.corpus_identity(options.qa_data)
                config = options.qa_config or None
                self._qa[task] = user_set(
                    self.tokenizer.name, options.qa_data, hops, config, options.qa_split, identity
                )
            else:
                self._qa[task] = builtin_set(self.tokenizer.name, builtin_entities_for(self.max_length), hops)
        return self._qa[task]

    def prepare(self, run_many=None) -> None:
        for task in self.spec.tasks:
            if task in ("qa_1", "qa_2"):
                self.qa_set(task)  # a broken QA file fails before any work

    def report(self) -> dict[str, Any]:
        skipped = {task: qa.skipped for task, qa in self._qa.items() if qa.skipped}
        return {"qa_questions_skipped": skipped} if skipped else {}

    def room(self, template: str, variables: dict[str, Any], cell: Cell, answer_prefix: str) -> tuple[Wrapped, int]:
        """The wrapped prompt around the context, and the tokens left for the context (a task that
        sizes its own list, as RULER's word tasks do, needs this before fitting)."""
        head, tail = self.prompt_halves(template, variables)
        wrapped = self.wrap(head, tail, answer_prefix)
        fixed = self.tokenizer.count(wrapped.head) + self.tokenizer.count(wrapped.tail)
        return wrapped, cell.target_length - self.reserve_for(cell.task) - fixed - 2

    def sample(self, cell: Cell, rng: random.Random, budget_adjust: int = 0) -> Sample:
        if cell.task in NIAH:
            return self.needle.sample(cell, rng, budget_adjust)
        return SAMPLERS[cell.task](self, cell, rng, self.task_options(cell.task), budget_adjust)
