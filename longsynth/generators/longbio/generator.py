"""The longbio family: LongBioBench, questions over a haystack of artificial biographies.

Every bio in the context is a coherent text about a fictional person, so
the haystack and the relevant information look alike; the people asked
about are placed at controlled depths among distractor bios. Ten tasks cover
retrieval (standard, multi, paraphrase, pronoun), reasoning (calculation,
rank, multihop, twodiff) and trustworthiness (citation, idk); `tasks.py`
holds what differs between them.

Distractor bios come from a pool rendered and tokenized once per process
(per style); each sample takes a contiguous run from a seeded offset, so the
only full encode of a sample is its measurement.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...cache import cached_json
from ...errors import BudgetError, SpecError
from ...fitting import LABEL_REGEX, FittedPrompt, Insert, Labeler
from ...metadata_json import decode_metadata
from ...seeding import derive_seed, rng_for
from ...templating import Templates
from ...text.units import count_units
from ...tokenizers import get_tokenizer
from ..base import EDGE_BASELINES, Cell, Generator, Sample, Task, Wrapped
from .bios import TEMPLATE_FOLDER, BioStyle, Person, bio_texts, load_style, stated_ages
from .metrics import (
    VALUE_TASKS,
    answers_metric,
    attribute_values,
    citation_metric,
    integer_metric,
    longbio_answer_hit,
    longbio_citation_hit,
    longbio_hit,
    longbio_two_diff,
    rank_metric,
    refusal_metric,
    two_diff_metric,
)
from .options import LongBioOptions
from .oracle import VALIDATORS
from .people import ARITHMETIC_ATTRIBUTES, ATTRIBUTE_WORDS, ATTRIBUTES, random_person
from .tasks import BIO_TASKS, BioTask

REPLY_TOKENS = 128  # tokens kept for the answer (a value, a few names, a citation)
IDK_BY_DESIGN = (
    "by design of LongBioBench: every idk row's answer is the refusal its prompt quotes; idk is read beside its "
    "twin bio_standard rows (metadata.twin_id), where refusing scores 0"
)
# The asked bio at depth 0 (100) is the first (last) bio, so its values are the first (last) of their kind.
HIT = {"anchor": longbio_hit, "anchor_name": "LongBioBench hit", "declared": dict(EDGE_BASELINES)}
TASKS = {
    "bio_standard": Task("one attribute of one person", metric=answers_metric, reserve=REPLY_TOKENS, **HIT),
    "bio_multi_standard": Task(
        "the same attribute of n people, in order",
        metric=answers_metric,
        reserve=REPLY_TOKENS,
        ordered=True,
        **HIT,
    ),
    "bio_paraphrase": Task("as standard, with paraphrased bios", metric=answers_metric, reserve=REPLY_TOKENS, **HIT),
    "bio_pronoun": Task("as standard, with first-person bios", metric=answers_metric, reserve=REPLY_TOKENS, **HIT),
    # Ages are 20 to 80, so a difference is 1 to 60; the likeliest (1 year) comes up 3.3% of the time.
    "bio_calculation": Task(
        "age difference of two people", metric=integer_metric, reserve=REPLY_TOKENS, chance=0.033, **HIT
    ),
    # Two people by default: one order in two is right by chance. Scored as the exact sequence.
    "bio_rank": Task(
        "order n people from youngest to oldest", metric=rank_metric, reserve=REPLY_TOKENS, chance=0.5, **HIT
    ),
    "bio_multihop": Task(
        "follow 'the same X as' links to the first person's value", metric=answers_metric, reserve=REPLY_TOKENS, **HIT
    ),
    "bio_twodiff": Task(
        "name two people whose ages differ by d",
        metric=two_diff_metric,
        reserve=REPLY_TOKENS,
        anchor=longbio_two_diff,
        anchor_name="LongBioBench twodiff hit",
        declared=dict(EDGE_BASELINES),
    ),
    "bio_citation": Task(
        "the answer plus the number of the bio it came from",
        metric=citation_metric,
        reserve=REPLY_TOKENS,
        anchor=longbio_answer_hit,
        anchor_name="LongBioBench answer accuracy",
        declared=dict(EDGE_BASELINES),
        anchor_extra=("LongBioBench citation accuracy", longbio_citation_hit),
    ),
    "bio_idk": Task(
        "the asked attribute is missing: the right answer is a refusal",
        metric=refusal_metric,
        reserve=REPLY_TOKENS,
        anchor=longbio_hit,
        anchor_name="LongBioBench idk hit (the reference also requires the twin standard row's hit)",
        declared=dict.fromkeys(
            ("refusal", "majority gold", "every candidate", "first candidate", "last candidate", "random candidate"),
            IDK_BY_DESIGN,
        ),
    ),
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


POOL_VERSION = 2  # bump when the pool's construction changes (2: values stated with their article)


def bio_reach(target: int) -> int:
    """Tokens of the bio stream a sample of `target` tokens draws from (its own length's function)."""
    return 2 * target + 8192


@functools.lru_cache(maxsize=8)
def bio_pool(tokenizer_name: str, style_name: str, ages: bool, templates: Templates, min_tokens: int) -> BioPool:
    """Distractor bios for a style, rendered and counted once per machine (cached by every input)."""
    style = load_style(style_name, templates)
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


class LongBioGenerator(Generator):
    name = "longbio"
    split = "test"
    uses_depth = True
    Options = LongBioOptions
    tasks = TASKS
    default_tasks = ["bio_standard"]
    paper = "Yang et al., A Controllable Examination for Long-Context Language Models (LongBioBench, arXiv:2506.02921)"
    template_folder = TEMPLATE_FOLDER
    validators = VALIDATORS
    example = {"tasks": "bio_standard,bio_citation,bio_twodiff,bio_idk", "lengths": "2k", "depths": "0,100"}

    @classmethod
    def placed_items(cls, row: dict[str, Any]) -> list[str]:
        """The asked attribute's values the bios state, on the tasks answered with such a value."""
        return attribute_values(row, decode_metadata(row["metadata"])) if row["task"] in VALUE_TASKS else []

    def __init__(self, spec, tokenizer):
        super().__init__(spec, tokenizer)
        options = self.options
        if options.depth_min > options.depth_max:
            raise SpecError("depth_min and depth_max must satisfy 0 <= depth_min <= depth_max <= 100")
        for task in spec.tasks:
            rules = BIO_TASKS[task]
            if options.num_people and options.num_people not in rules.allowed:
                allowed = ", ".join(map(str, rules.allowed))
                raise SpecError(f"{task}: num_people must be one of {allowed}, got {options.num_people}")
            if options.shots > 0 and not rules.takes_shots:
                raise SpecError(f"{task} does not support shots; drop --set shots")
            self.style(rules.style)  # a user's sentence templates that cannot be filled and read back fail here
        if any(self._shots(BIO_TASKS[task]) for task in spec.tasks):
            self._check_prompt_shows_demonstrations()
        self._max_length = max(spec.lengths)
        self._labeler = Labeler(tokenizer)  # caches label sizes across samples

    # ------------------------------------------------------------------ helpers

    def style(self, name: str) -> BioStyle:
        return load_style(name, self.templates)

    def _pool(self, rules: BioTask) -> BioPool:
        return bio_pool(self.tokenizer.name, rules.style, rules.ages, self.templates, bio_reach(self._max_length))

    def _demonstration_people(
        self,
        rules: BioTask,
        rng: random.Random,
        taken: set[str],
        attribute: str,
        asked: dict[str, Any],
        answers: list[str],
    ) -> tuple[list[Person], dict[str, Any], list[str]]:
        """People for one solved demonstration, with its answer. A demonstration never shares the
        question's answer, nor (twodiff) its asked difference, so copying it never scores. A clash is
        redrawn: at most about 1 draw in 30 clashes, so 50 tries do not run out."""
        for _ in range(50):
            people, extra = self._people(rules, rng, taken, [], attribute)
            shown = rules.answer(people, attribute, extra)
            if shown != answers and ("difference" not in extra or extra["difference"] != asked.get("difference")):
                return people, extra, shown
        raise BudgetError("could not draw a demonstration whose answer differs from the question's")

    def _cite_demonstrations(
        self,
        fitted: FittedPrompt,
        wrapped: Wrapped,
        variables: dict[str, Any],
        shot_values: list[list[str]],
        asked: int,
        answer_prefix: str,
    ) -> FittedPrompt:
        """Citation demonstrations answer with the numbers their bios got when the context was fitted:
        the prompt's tail is rendered again with them (the pipeline re-measures the text, and re-fits if
        a label changed its length)."""
        labels = iter(LABEL_REGEX.match(fitted.text, p.char_start).group(0) for p in fitted.placed[asked:])
        for shot, values in zip(variables["shots"], shot_values, strict=True):
            shot["answer"] = ", ".join(f"{value} {next(labels)}" for value in values)
        labelled = self.wrap(*self.prompt_halves("prompt.j2", variables), answer_prefix)
        if labelled.head != wrapped.head or not fitted.text.endswith(wrapped.tail):
            raise SpecError("longbio/prompt.j2 must render the demonstrations after {{ context }}")
        text = fitted.text[: len(fitted.text) - len(wrapped.tail)] + labelled.tail
        return dataclasses.replace(fitted, text=text, input_span=(labelled.before, len(text) - labelled.after))

    def _check_prompt_shows_demonstrations(self) -> None:
        """A prompt.j2 (a user's own) that drops `shots` would fail every sample's check; say so once."""
        probe = {"question": "\x00q", "answer": "\x00a", "people": []}
        head, tail = self.prompt_halves("prompt.j2", {"shots": [probe], "question": "?"})
        if probe["question"] not in head + tail or probe["answer"] not in head + tail:
            raise SpecError(
                "longbio/prompt.j2 does not show the solved demonstrations (each shot's question and answer); "
                "render `shots` or add --set shots=0"
            )

    def _shots(self, rules: BioTask) -> int:
        """Demonstrations for this task: the option if set, else the paper's headline setting for the task."""
        return rules.shots if self.options.shots < 0 else self.options.shots

    def _ask_attribute(self, rules: BioTask, rng: random.Random) -> str:
        if self.options.attribute:
            return self.options.attribute
        return rng.choice(ARITHMETIC_ATTRIBUTES[1:] if rules.ages else ATTRIBUTES)

    def _people(
        self, rules: BioTask, rng: random.Random, taken: set[str], run: list[Person], attribute: str
    ) -> tuple[list[Person], dict[str, Any]]:
        """The people a question is about, with the task's constraints met by construction."""
        people = []
        for _ in range(self.options.num_people or rules.people):
            share = rng.random()
            model = rng.choice(run) if run else None
            first = model.first if model and share < 0.45 else None
            last = model.last if model and 0.45 <= share < 0.9 else None
            people.append(random_person(rng, rules.ages, taken, first=first, last=last))
        return people, rules.constrain(people, attribute, rng)

    def _question(self, task: str, people: list[Person], attribute: str, extra: dict[str, Any]) -> str:
        words = ATTRIBUTE_WORDS[attribute]
        names = [p.name for p in people]
        return self.templates.render(
            "question.j2", task=task, names=names, attribute=words[0], attribute_plural=words[1], **extra
        )

    def _bio_inserts(
        self, rules: BioTask, style: BioStyle, people: list[Person], attribute: str, rng: random.Random, depths
    ) -> list[Insert]:
        """One insert per person: their bio (chained or missing the asked sentence as the task says)."""
        attributes = ARITHMETIC_ATTRIBUTES if rules.ages else ATTRIBUTES
        inserts = []
        for k, person in enumerate(people):
            same_as = {attribute: people[k - 1].name} if rules.chain and k > 0 else None
            sentences = style.sentences(person, rng, attributes, same_as, shuffle=rules.style == "paraphrase")
            if rules.drop_asked:
                sentences = [(a, s) for a, s in sentences if a != attribute]
            depth, role = depths(k)
            inserts.append(
                Insert(" ".join(bio_texts(style, person, sentences)), depth, {"name": person.name, "role": role})
            )
        return inserts

    # ------------------------------------------------------------------ sampling

    def sample(self, cell: Cell, rng: random.Random, budget_adjust: int = 0) -> Sample:
        task = cell.task
        rules = BIO_TASKS[task]
        options = self.options
        if rules.twin:  # the answerable twin's sample, minus one sentence
            twin = Cell(rules.twin, cell.target_length, cell.depth, cell.index)
            rng = rng_for(
                derive_seed(
                    self.spec.seed, self.spec.generator, twin.task, twin.target_length, twin.depth, twin.index, 0
                )
            )
        style = self.style(rules.style)
        pool = self._pool(rules)
        attribute = self._ask_attribute(rules, rng)
        target = cell.target_length
        # The bios this sample may use are those of the pool's first bio_reach(target) tokens: a prefix
        # that depends on its own length alone (the pool is one stream, grown for the longest length).
        reach = int(np.searchsorted(pool.cumulative, bio_reach(target), side="right"))
        start = rng.randrange(int(np.searchsorted(pool.cumulative, pool.cumulative[reach - 1] - target, side="right")))
        # Bios past the target's reach are spares for the fitter's last whole bios (never a cut one),
        # within this length's own prefix of the pool.
        end = min(reach, int(np.searchsorted(pool.cumulative, pool.cumulative[start] + target)) + 65)
        taken = {person.name for person in pool.people[:reach]}
        # Name sharing draws on the people surely inside the context (the run's first 80 %).
        sharing = pool.people[start : start + max(1, (end - start) * 4 // 5)]
        people, extra = self._people(rules, rng, taken, sharing, attribute)
        question = self._question(task, people, attribute, extra)
        answers = rules.answer(people, attribute, extra)

        def asked_depth(k: int) -> tuple[float, str]:
            return (
                float(cell.depth) if k == 0 else round(rng.uniform(options.depth_min, options.depth_max), 1)
            ), "asked"

        inserts = self._bio_inserts(rules, style, people, attribute, rng, asked_depth)
        shots, shot_values = [], []
        for _ in range(self._shots(rules)):
            shot_people, shot_extra, shot_answers = self._demonstration_people(
                rules, rng, taken, attribute, extra, answers
            )
            shot_question = self._question(task, shot_people, attribute, shot_extra)
            inserts += self._bio_inserts(
                rules, style, shot_people, attribute, rng, lambda k: (round(rng.uniform(0, 100), 1), "shot")
            )
            if rules.cites:  # labelled once the bios are numbered; "[0]" holds a label's place while fitting
                shot_values.append(shot_answers)
                shot_answers = [f"{value} [0]" for value in shot_answers]
            shots.append(
                {
                    "question": shot_question,
                    "answer": ", ".join(shot_answers),
                    "people": [p.name for p in shot_people],
                    **shot_extra,
                }
            )

        texts, tokens = self._distractors(pool, style, start, end, attribute, rng)
        answer_prefix = self.templates.render("answer_prefix.j2")
        variables = {"shots": shots, "question": question}
        wrapped = self.wrap(*self.prompt_halves("prompt.j2", variables), answer_prefix)
        fitted = self.fit_wrapped(
            wrapped,
            task,
            target,
            budget_adjust,
            filler_texts=texts,
            filler_tokens=tokens,
            inserts=inserts,
            labeler=self._labeler if rules.cites else None,
            whole_units_only=True,
        )
        if shot_values:
            fitted = self._cite_demonstrations(fitted, wrapped, variables, shot_values, len(people), answer_prefix)
        if rules.cites:  # each asked value, then the number of the bio it is stated in
            answers = []
            for person, placed in zip(people, fitted.placed, strict=False):
                answers += [person.attributes[attribute], LABEL_REGEX.match(fitted.text, placed.char_start).group(0)]
        metadata = {
            "params": {
                "style": rules.style,
                "ages": rules.ages,
                "people": options.num_people or rules.people,
                "density": options.density,
                "shots": self._shots(rules),
            },
            "attribute": attribute,
            "asked": [p.name for p in people],
            **extra,
        }
        if shots:  # what each demonstration asks and answers (the oracle re-derives the answers)
            metadata["demonstrations"] = shots
        if rules.ages_map:  # every stated age, for scoring any valid pair (the oracle checks the map)
            metadata["ages"] = stated_ages(fitted.text, style)
        if rules.twin:
            metadata["twin_id"] = Cell(rules.twin, cell.target_length, cell.depth, cell.index).id
        return Sample(fitted, question, answers, answer_prefix, metadata, item_key="bios")

    def _distractors(self, pool: BioPool, style: BioStyle, start: int, end: int, attribute: str, rng: random.Random):
        """The pool's run of bios; with density below 1, each loses the asked attribute with that probability."""
        texts, tokens = pool.texts[start:end], pool.tokens[start:end]
        if self.options.density < 1.0:
            texts, tokens = list(texts), tokens.copy()
            for j in range(len(texts)):
                if rng.random() >= self.options.density:
                    unit = start + j
                    kept = [s for a, s in pool.sentences[unit] if a != attribute]
                    texts[j] = " ".join([style.header.render(pool.people[unit].name), *kept])
                    tokens[j] -= pool.sentence_tokens[unit].get(attribute, 0)
        return texts, tokens
