"""The longbio family: LongBioBench, questions over a haystack of artificial biographies.

Every bio in the context is a coherent text about a fictional person, so
the haystack and the relevant information look alike; the people asked
about are placed at controlled depths among distractor bios. Ten tasks cover
retrieval (standard, multi, paraphrase, pronoun), reasoning (calculation,
rank, multihop, twodiff) and trustworthiness (citation, idk).

Distractor bios come from a pool rendered and tokenized once per process
(per style); each sample takes a contiguous run from a seeded offset, so the
only full encode of a sample is its measurement.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cache import cached_json
from ..errors import SpecError
from ..fitting import Insert, Labeler
from ..seeding import derive_seed, rng_for
from ..templating import render, split_around
from ..text.bios import BioStyle, ParsedBio, Person, bio_at, bio_texts, find_bios, load_style
from ..text.people import ARITHMETIC_ATTRIBUTES, ATTRIBUTE_WORDS, ATTRIBUTES, random_person
from ..text.units import count_units
from ..tokenizers import get_tokenizer
from .base import Cell, Generator, Option, Sample, register

_CONTEXT = "\x00CONTEXT\x00"
REFUSAL = "The biographies do not provide this information."

# task -> (style, uses ages instead of birthdates, default number of people asked)
_TASKS: dict[str, dict[str, Any]] = {
    "bio_standard": dict(style="standard", ages=False, people=1),
    "bio_multi_standard": dict(style="standard", ages=False, people=2),
    "bio_paraphrase": dict(style="paraphrase", ages=False, people=1),
    "bio_pronoun": dict(style="pronoun", ages=False, people=1),
    "bio_calculation": dict(style="standard", ages=True, people=2),
    "bio_rank": dict(style="standard", ages=True, people=2),
    "bio_multihop": dict(style="standard", ages=False, people=2),
    "bio_twodiff": dict(style="standard", ages=True, people=2),
    "bio_citation": dict(style="standard", ages=False, people=1),
    "bio_idk": dict(style="standard", ages=False, people=1),
}
_ALLOWED_PEOPLE = {
    "bio_multi_standard": (2, 5, 10),
    "bio_rank": (2, 5),
    "bio_multihop": (2, 5),
    "bio_citation": (1, 2),
    "bio_calculation": (2,),
    "bio_twodiff": (2,),
}


@dataclass
class BioPool:
    """Distractor bios rendered once: texts, per-sentence token counts, names."""

    people: list[Person]
    texts: list[str]
    tokens: np.ndarray
    sentences: list[list[tuple[str, str]]]
    sentence_tokens: list[dict[str, int]]
    names: frozenset[str]
    cumulative: np.ndarray


POOL_VERSION = 1  # bump when the pool's construction changes


@functools.lru_cache(maxsize=8)
def bio_pool(tokenizer_name: str, style_name: str, ages: bool, template_dir: str | None, min_tokens: int) -> BioPool:
    """Distractor bios for a style, rendered and counted once per machine (cached by every input)."""
    style = load_style(style_name, template_dir)
    shapes = [style.header.text] + [s.text for a in sorted(style.shapes) for s in style.shapes[a]]
    key = {
        "version": POOL_VERSION,
        "shapes": shapes,
        "ages": ages,
        "tokenizer": tokenizer_name,
        "min_tokens": min_tokens,
        "style": style_name,
    }
    data = cached_json("bio-pool", key, lambda: _render_pool(tokenizer_name, style, ages, min_tokens))
    people = [Person(p["name"], p["first"], p["last"], p["attributes"]) for p in data["people"]]
    sentences = [[(a, s) for a, s in bio] for bio in data["sentences"]]
    tokens = np.asarray(data["tokens"], dtype=np.int64)
    return BioPool(
        people,
        data["texts"],
        tokens,
        sentences,
        data["sentence_tokens"],
        frozenset(p.name for p in people),
        np.concatenate([[0], np.cumsum(tokens)]),
    )


def _render_pool(tokenizer_name: str, style: BioStyle, ages: bool, min_tokens: int) -> dict[str, Any]:
    tokenizer = get_tokenizer(tokenizer_name)
    rng = random.Random(f"longbio-pool-{style.name}-{ages}")
    attributes = ARITHMETIC_ATTRIBUTES if ages else ATTRIBUTES
    out: dict[str, list] = {"people": [], "texts": [], "sentences": [], "sentence_tokens": [], "tokens": []}
    taken: set[str] = set()
    held = 0
    while held < min_tokens:
        batch_people = [random_person(rng, ages, taken) for _ in range(256)]
        batch_sentences = [
            style.sentences(p, rng, attributes, shuffle=style.name == "paraphrase") for p in batch_people
        ]
        pieces = [bio_texts(style, p, s) for p, s in zip(batch_people, batch_sentences, strict=True)]
        counts = iter(count_units([piece for bio in pieces for piece in bio], tokenizer))
        for person, sents, bio in zip(batch_people, batch_sentences, pieces, strict=True):
            piece_counts = [next(counts) for _ in bio]
            out["people"].append(person.__dict__)
            out["sentences"].append(sents)
            out["texts"].append(" ".join(bio))
            out["sentence_tokens"].append({a: c for (a, _), c in zip(sents, piece_counts[1:], strict=True)})
            out["tokens"].append(sum(piece_counts))
            held += out["tokens"][-1]
    return out


@register
class LongBioGenerator(Generator):
    name = "longbio"
    split = "test"
    uses_depth = True
    tasks = {task: {} for task in _TASKS}
    default_tasks = ["bio_standard"]
    paper = "Yang et al., A Controllable Examination for Long-Context Language Models (LongBioBench, arXiv:2506.02921)"
    options = {
        "num_people": Option(
            int,
            0,
            "people asked about (0: the task's default; multi 2/5/10, rank 2/5, multihop 2/5, citation 1/2)",
            minimum=0,
        ),
        "attribute": Option(str, "", "attribute to ask (empty: drawn per sample)", ("", *ATTRIBUTES)),
        "density": Option(float, 1.0, "probability a distractor bio keeps the asked attribute"),
        "depth_min": Option(float, 0.0, "lowest depth for asked bios after the first"),
        "depth_max": Option(float, 100.0, "highest depth for asked bios after the first"),
        "shots": Option(int, 0, "solved demonstrations in the prompt (their bios are in the haystack)", minimum=0),
    }
    task_help = {
        "bio_standard": "one attribute of one person",
        "bio_multi_standard": "the same attribute of n people, in order",
        "bio_paraphrase": "as standard, with paraphrased bios",
        "bio_pronoun": "as standard, with first-person bios",
        "bio_calculation": "age difference of two people",
        "bio_rank": "order n people from youngest to oldest",
        "bio_multihop": "follow 'the same X as' links to the first person's value",
        "bio_twodiff": "name two people whose ages differ by d",
        "bio_citation": "the answer plus the number of the bio it came from",
        "bio_idk": "the asked attribute is missing: the right answer is a refusal",
    }

    def __init__(self, spec, tokenizer):
        super().__init__(spec, tokenizer)
        options = self.settings()
        if not 0.0 <= options["density"] <= 1.0:
            raise SpecError(f"density must be between 0 and 1, got {options['density']}")
        if not 0.0 <= options["depth_min"] <= options["depth_max"] <= 100.0:
            raise SpecError("depth_min and depth_max must satisfy 0 <= depth_min <= depth_max <= 100")
        for task in spec.tasks:
            n = options["num_people"] or _TASKS[task]["people"]
            allowed = _ALLOWED_PEOPLE.get(task, (1,))
            if options["num_people"] and n not in allowed:
                raise SpecError(f"{task}: num_people must be one of {', '.join(map(str, allowed))}, got {n}")
            if options["shots"] and task in ("bio_idk", "bio_twodiff", "bio_citation"):
                raise SpecError(f"{task} does not support shots; drop --set shots")
        self._max_length = max(spec.lengths)
        self._labeler = Labeler(tokenizer)  # caches label sizes across samples

    # ------------------------------------------------------------------ helpers

    def _params(self, task: str) -> dict[str, Any]:
        params = {**self.task_params(task), **_TASKS[task]}
        params["people"] = params["num_people"] or _TASKS[task]["people"]
        return params

    def _style(self, params) -> BioStyle:
        return load_style(params["style"], self.spec.template_dir)

    def _pool(self, params) -> BioPool:
        return bio_pool(
            self.tokenizer.name, params["style"], params["ages"], self.spec.template_dir, 2 * self._max_length + 8192
        )

    def _ask_attribute(self, params, rng: random.Random) -> str:
        if params["attribute"]:
            return params["attribute"]
        return rng.choice(ARITHMETIC_ATTRIBUTES[1:] if params["ages"] else ATTRIBUTES)

    def _people(
        self, task: str, params, rng: random.Random, taken: set[str], run: list[Person], attribute: str
    ) -> tuple[list[Person], dict[str, Any]]:
        """The people a question is about, with the task's constraints met by construction."""
        n = params["people"]
        people = []
        for _ in range(n):
            share = rng.random()
            model = rng.choice(run) if run else None
            first = model.first if model and share < 0.45 else None
            last = model.last if model and 0.45 <= share < 0.9 else None
            people.append(random_person(rng, params["ages"], taken, first=first, last=last))
        extra: dict[str, Any] = {}
        if task == "bio_rank":
            ages = rng.sample(range(20, 81), n)
            for p, a in zip(people, ages, strict=True):
                p.attributes["age"] = str(a)
        elif task == "bio_twodiff":
            difference = rng.randint(1, 30)
            base = rng.randint(20, 80 - difference)
            people[0].attributes["age"], people[1].attributes["age"] = str(base), str(base + difference)
            extra["difference"] = difference
        elif task == "bio_multihop":
            for p in people[1:]:
                p.attributes[attribute] = people[0].attributes[attribute]
        return people, extra

    def _question(
        self, task: str, people: list[Person], attribute: str, extra: dict[str, Any]
    ) -> tuple[str, list[str]]:
        words = ATTRIBUTE_WORDS[attribute]
        question = render(
            "longbio/question.j2",
            self.spec.template_dir,
            task=task,
            names=[p.name for p in people],
            attribute=words[0],
            attribute_plural=words[1],
            **extra,
        )
        if task == "bio_calculation":
            answers = [str(abs(people[0].age - people[1].age))]
        elif task == "bio_rank":
            answers = [p.name for p in sorted(people, key=lambda p: p.age)]
        elif task == "bio_multihop":
            answers = [people[0].attributes[attribute]]
        elif task == "bio_twodiff":
            answers = [f"{people[0].name} and {people[1].name}"]
        elif task == "bio_idk":
            answers = [REFUSAL]
        else:
            answers = [p.attributes[attribute] for p in people]
        return question, answers

    # ------------------------------------------------------------------ sampling

    def sample(self, cell: Cell, rng: random.Random, budget_adjust: int = 0) -> Sample:
        task = cell.task
        params = self._params(task)
        if task == "bio_idk":
            # The answerable twin: the bio_standard sample of the same cell, minus one sentence.
            twin = Cell("bio_standard", cell.target_length, cell.depth, cell.index)
            twin_seed = derive_seed(
                self.spec.seed, self.spec.generator, twin.task, twin.target_length, twin.depth, twin.index, 0
            )
            rng = rng_for(twin_seed)
        style = self._style(params)
        pool = self._pool(params)
        attributes = ARITHMETIC_ATTRIBUTES if params["ages"] else ATTRIBUTES
        attribute = self._ask_attribute(params, rng)
        target = cell.target_length
        start = rng.randrange(int(np.searchsorted(pool.cumulative, pool.cumulative[-1] - target, side="right")))
        end = min(len(pool.texts), int(np.searchsorted(pool.cumulative, pool.cumulative[start] + target)) + 1)
        taken = set(pool.names)
        # Name sharing draws on the people surely inside the context (the run's first 80 %).
        sharing = pool.people[start : start + max(1, (end - start) * 4 // 5)]
        people, extra = self._people(task, params, rng, taken, sharing, attribute)
        question, answers = self._question(task, people, attribute, extra)

        inserts: list[Insert] = []
        for k, person in enumerate(people):
            same_as = {attribute: people[k - 1].name} if task == "bio_multihop" and k > 0 else None
            sentences = style.sentences(person, rng, attributes, same_as, shuffle=params["style"] == "paraphrase")
            if task == "bio_idk":
                sentences = [(a, s) for a, s in sentences if a != attribute]
            lo, hi = params["depth_min"], params["depth_max"]
            depth = float(cell.depth) if k == 0 else round(rng.uniform(lo, hi), 1)
            payload = {"name": person.name, "role": "asked"}
            inserts.append(Insert(" ".join(bio_texts(style, person, sentences)), depth, payload))
        shots = []
        for _ in range(params["shots"]):
            shot_people, shot_extra = self._people(task, params, rng, taken, [], attribute)
            shot_question, shot_answers = self._question(task, shot_people, attribute, shot_extra)
            for k, person in enumerate(shot_people):
                same_as = {attribute: shot_people[k - 1].name} if task == "bio_multihop" and k > 0 else None
                sentences = style.sentences(person, rng, attributes, same_as, shuffle=params["style"] == "paraphrase")
                inserts.append(
                    Insert(
                        " ".join(bio_texts(style, person, sentences)),
                        round(rng.uniform(0, 100), 1),
                        {"name": person.name, "role": "shot"},
                    )
                )
            shots.append({"question": shot_question, "answer": ", ".join(shot_answers)})

        texts, tokens = pool.texts[start:end], pool.tokens[start:end]
        if params["density"] < 1.0:
            texts, tokens = list(texts), tokens.copy()
            for j in range(len(texts)):
                if rng.random() >= params["density"]:
                    unit = start + j
                    kept = [s for a, s in pool.sentences[unit] if a != attribute]
                    texts[j] = " ".join([style.header.render(pool.people[unit].name), *kept])
                    tokens[j] -= pool.sentence_tokens[unit].get(attribute, 0)

        prompt = render("longbio/prompt.j2", self.spec.template_dir, context=_CONTEXT, shots=shots, question=question)
        head, tail = split_around(prompt, _CONTEXT, "longbio/prompt.j2")
        fitted = self.fit(
            target,
            budget_adjust,
            head=head,
            tail=tail,
            filler_texts=texts,
            filler_tokens=tokens,
            inserts=inserts,
            labeler=self._labeler if task == "bio_citation" else None,
        )
        if task == "bio_citation":
            cited = []
            for person, placed in zip(people, fitted.placed, strict=False):
                label = re.match(r"\[(\d+)\]", fitted.text[placed.char_start :]).group(0)
                cited += [person.attributes[attribute], label]
            answers = cited
        answer_prefix = render("longbio/answer_prefix.j2", self.spec.template_dir)
        metadata = {
            "params": {k: params[k] for k in ("style", "ages", "people", "density", "shots")},
            "attribute": attribute,
            "asked": [p.name for p in people],
            **extra,
        }
        if task == "bio_idk":
            metadata["twin_id"] = Cell("bio_standard", cell.target_length, cell.depth, cell.index).id
        return Sample(fitted, question, answers, answer_prefix, metadata, item_key="bios")

    # ------------------------------------------------------------------ oracle

    def oracle(self, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
        return longbio_problems(row, metadata, self._style(metadata["params"]))


def _mentions(text: str, name: str) -> list[int]:
    """Offsets where `name` occurs as a whole name (not inside a longer name like "Mary Ann Lee")."""
    found, at = [], text.find(name)
    while at >= 0:
        before = text[max(0, at - 2) : at]
        after = text[at + len(name) : at + len(name) + 2]
        inside_longer = (before[-1:].isalpha()) or (len(before) == 2 and before[1] == " " and before[0].isalpha())
        inside_longer |= after[:1].isalpha() or (len(after) == 2 and after[0] == " " and after[1].isupper())
        if not inside_longer:
            found.append(at)
        at = text.find(name, at + 1)
    return found


def longbio_problems(row: dict[str, Any], metadata: dict[str, Any], style: BioStyle) -> list[str]:
    """Re-derive a longbio answer from the text alone; every problem found."""
    task, text = row["task"], row["input"]
    problems: list[str] = []
    headers = find_bios(text, style)
    positions: dict[str, list[int]] = {}
    for n, (_, _, name) in enumerate(headers):
        positions.setdefault(name, []).append(n)
    duplicated = sorted(n for n, where in positions.items() if len(where) > 1)
    if duplicated:
        problems.append(f"people with more than one bio: {', '.join(duplicated[:3])}")
    asked = metadata["asked"]
    attribute = metadata["attribute"]
    named = asked[-1:] if task == "bio_multihop" else [] if task == "bio_twodiff" else asked
    for name in asked:
        if name in named and name not in row["question"]:
            problems.append(f"{name} is asked about but not named in the question")
        if len(positions.get(name, [])) != 1:
            problems.append(f"{name} has {len(positions.get(name, []))} bios, expected 1")
    if problems:
        return problems
    read: dict[str, ParsedBio] = {}

    def bio_of(name: str) -> ParsedBio | None:
        if name not in read and name in positions:
            read[name] = bio_at(text, headers, positions[name][0], style)
        return read.get(name)

    starts = [h[0] for h in headers]
    context_end = bio_at(text, headers, len(headers) - 1, style, read=False).end
    for name in asked:
        own = bio_of(name)
        if own.conflicts:
            problems.append(f"the bio of {name} states {', '.join(own.conflicts)} twice")
        for offset in _mentions(text, name):
            if own.start <= offset < own.end or offset < starts[0] or offset >= context_end:
                continue
            other = bio_at(text, headers, int(np.searchsorted(starts, offset, side="right")) - 1, style)
            if name not in other.same_as.values():
                problems.append(f"{name} is mentioned in the bio of {other.name}, which may conflict")
    bio = {name: bio_of(name) for name in asked}

    def value(name: str, attr: str) -> str | None:
        return bio[name].values.get(attr)

    if task == "bio_idk":
        if attribute in bio[asked[0]].values or attribute in bio[asked[0]].same_as:
            problems.append(f"the {attribute} of {asked[0]} is still stated")
        derived = [REFUSAL]
    elif task == "bio_calculation":
        a, b = (value(n, "age") for n in asked)
        derived = [str(abs(int(a) - int(b)))] if a and b else []
    elif task == "bio_rank":
        ages = [value(n, "age") for n in asked]
        if None in ages or len(set(ages)) != len(ages):
            problems.append(f"ranked people need distinct stated ages, found {ages}")
            derived = []
        else:
            derived = [n for _, n in sorted((int(a), n) for a, n in zip(ages, asked, strict=True))]
    elif task == "bio_multihop":
        current, seen = asked[-1], set()
        while bio_of(current) is not None and attribute in bio_of(current).same_as and current not in seen:
            seen.add(current)
            current = bio_of(current).same_as[attribute]
        found = bio_of(current).values.get(attribute) if bio_of(current) is not None else None
        derived = [found] if found else []
    elif task == "bio_twodiff":
        difference = int(metadata["difference"])
        a, b = (value(n, "age") for n in asked)
        if not (a and b and abs(int(a) - int(b)) == difference):
            problems.append(f"the named pair's ages {a}, {b} do not differ by {difference}")
        derived = [f"{asked[0]} and {asked[1]}"]
    elif task == "bio_citation":
        labels = [int(m.group(1)) for m in style.label_regex.finditer(text)]
        if labels != list(range(1, len(headers) + 1)):
            problems.append("biographies are not numbered 1..N in reading order")
        derived = []
        for name in asked:
            derived += [value(name, attribute), f"[{bio[name].label}]"]
    else:
        derived = [value(name, attribute) for name in asked]
    if derived != list(row["answers"]):
        problems.append(f"answers {list(row['answers'])} differ from those read in the text {derived}")
    return problems


__all__ = ["LongBioGenerator", "REFUSAL", "bio_pool", "longbio_problems"]
