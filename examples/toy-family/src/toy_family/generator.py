"""The toy family: a few labelled boxes stated in prose, and a question about one box's colour.

It shows what a family declares and what longsynth does for it. The family declares its tasks (with
a metric each), an options dataclass, its templates folder and its validators; longsynth plans the
grid, seeds every sample, fits the context to the exact token budget, measures depths, runs the
generic length and depth checks and the family's validators, and writes the Parquet shards.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longsynth.errors import SpecError
from longsynth.fitting import Insert
from longsynth.generators import Cell, Generator, Sample, Task, option
from longsynth.metadata_json import decode_metadata, encode_metadata
from longsynth.templating import Templates, pattern_from
from longsynth.text import sources
from longsynth.validators import Validator
from longsynth.validators.plants import state_first_item_twice

COLOURS = ("amber", "azure", "crimson", "ivory", "jade", "lilac", "ochre", "plum", "scarlet", "teal", "umber")
LABEL, COLOUR = "\x00LABEL\x00", "\x00COLOUR\x00"


def box_pattern(templates: Templates) -> re.Pattern[str]:
    """The box template turned into a regex: the oracle reads boxes with the template that wrote them."""
    rendered = templates.render("box.j2", label=LABEL, colour=COLOUR)
    return pattern_from(rendered, {LABEL: ("label", r"[A-Z]-\d{3}"), COLOUR: ("colour", "|".join(COLOURS))})


def colour_named(row: dict[str, Any], prediction: str) -> float:
    """1 when the prediction names the asked box's colour and no other colour (echoing scores 0)."""
    named = {c for c in COLOURS if re.search(rf"\b{c}\b", prediction, re.IGNORECASE)}
    return float(named == {row["answers"][0]})


@dataclass(frozen=True)
class ToyOptions:
    boxes: int = option(4, "labelled boxes in a sample (one is asked about)", minimum=1, maximum=len(COLOURS))


def boxes_stated_once(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """Every box is stated exactly once, at its recorded offset."""
    found = [(m.group("label"), m.start()) for m in box_pattern(generator.templates).finditer(row["input"])]
    labels = [label for label, _ in found]
    problems = [
        f"box {label} is stated {labels.count(label)} times" for label in sorted(set(labels)) if labels.count(label) > 1
    ]
    for box in metadata["boxes"]:
        if (box["label"], box["char_offset"]) not in found:
            problems.append(f"box {box['label']} is not at its recorded offset {box['char_offset']}")
    return problems


def colour_from_text(generator, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
    """The answer is the colour the text gives the asked box."""
    stated = {m.group("label"): m.group("colour") for m in box_pattern(generator.templates).finditer(row["input"])}
    asked = metadata["asked"]
    if asked not in row["question"]:
        return [f"the question does not name box {asked}"]
    if [stated.get(asked)] != list(row["answers"]):
        return [f"answers {list(row['answers'])} differ from the colour in the text, {stated.get(asked)}"]
    return []


def _move_asked_box(row: dict[str, Any]) -> dict[str, Any]:
    metadata = decode_metadata(row["metadata"])
    metadata["boxes"][0]["char_offset"] += 1
    return {**row, "metadata": encode_metadata(metadata), "answers": ["not a colour"]}


class ToyGenerator(Generator):
    name = "toy"
    split = "test"
    uses_depth = True
    Options = ToyOptions
    tasks = {"toy_colour": Task("the colour of one labelled box among a few", metric=colour_named, reserve=16)}
    default_tasks = ["toy_colour"]
    paper = "none: an example family for developers"
    template_folder = Path(__file__).parent / "templates"
    validators = (
        Validator("boxes stated once", boxes_stated_once, state_first_item_twice("boxes")),
        Validator("colour from the text", colour_from_text, _move_asked_box),
    )
    example = {"lengths": "1k", "depths": "0,100"}

    def __init__(self, spec, tokenizer):
        super().__init__(spec, tokenizer)
        if "\n" in self.templates.render("box.j2", label=LABEL, colour=COLOUR):
            raise SpecError("the toy box template must be one line")
        self._haystack = max(spec.lengths) * 2 + 4096

    def sample(self, cell: Cell, rng: random.Random, budget_adjust: int = 0) -> Sample:
        labels: list[str] = []
        while len(labels) < self.options.boxes:
            label = f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}-{rng.randrange(100, 1000)}"
            if label not in labels:
                labels.append(label)
        colours = rng.sample(COLOURS, len(labels))
        depths = [float(cell.depth)] + [round(rng.uniform(0, 100), 1) for _ in labels[1:]]
        inserts = [
            Insert(self.templates.render("box.j2", label=label, colour=colour), depth, {"label": label})
            for label, colour, depth in zip(labels, colours, depths, strict=True)
        ]
        pool = sources.prose_pool(self.tokenizer.name, self._haystack)
        # Start within a reach that depends on this sample's length only, never on its spec's other lengths.
        reach = 2 * cell.target_length + 4096
        start = rng.randrange(pool.latest_start(cell.target_length, within=reach) + 1)
        texts, tokens = pool.run(start, cell.target_length)
        question = self.templates.render("question.j2", label=labels[0])
        prefix = self.templates.render("answer_prefix.j2", label=labels[0])
        fitted = self.fit_prompt(
            "prompt.j2",
            {"question": question},
            cell,
            budget_adjust,
            answer_prefix=prefix,
            filler_texts=texts,
            filler_tokens=tokens,
            inserts=inserts,
        )
        return Sample(fitted, question, [colours[0]], prefix, {"asked": labels[0]}, item_key="boxes")
