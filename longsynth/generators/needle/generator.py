"""The needle family: RULER's needle-in-a-haystack suite on a length x depth grid.

A needle is a sentence tying a key to a value. Variants differ in haystack
(repeated noise, distractor needles, prose, a user corpus), in key and value
types (words, numbers, UUIDs) and in how many keys, values per key and
queried keys a sample holds. The eight RULER NIAH tasks are presets over
these parameters; every parameter can be overridden with `--set`.
"""

from __future__ import annotations

import math
import random
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import SpecError
from ...fitting import Insert
from ...metadata_json import decode_metadata
from ...scoring import ruler_string_match_all, share_of_answers
from ...seeding import random_below
from ...text import sources
from ...text.language import LANGUAGES
from ...text.units import count_filled, count_units, hyphenated_counts
from ..base import EDGE_BASELINES, Cell, Generator, Sample, Task, localized
from .keys import key_words
from .options import KIND, REPORTED, NeedleOptions
from .oracle import KEY, VALIDATORS, VALUE, needle_values

LINE_END = "\n"


MIN_NEEDLE_TOKENS = 8  # no needle sentence is shorter: the cap on needles per sample follows from it


REPLY_TOKENS = 128  # tokens kept for the answer, as RULER's needle tasks generate


# Where every needle of the text is asked, its values are the only strings of their shape in the
# haystack, so listing those strings is the answer: RULER's design (its noise and essays hold no other
# 7-digit numbers or UUIDs), declared for `longsynth audit`.
ONLY_VALUES = "by design of RULER: the asked needles are the only values of their shape in the haystack"
_DECLARED = {name: ONLY_VALUES for name in ("every candidate", "first candidate", "last candidate", "random candidate")}
# Where the haystack is made of needles, the asked one at depth 0 is the first of them and at depth 100
# the last: what depth means (`EDGE_BASELINES`).
_EDGES = EDGE_BASELINES


def _task(help: str, declared: bool | dict = False, chance: float = 0.0, **preset) -> Task:
    return Task(
        help,
        preset,
        share_of_answers,
        REPLY_TOKENS,
        declared=dict(declared) if isinstance(declared, dict) else dict(_DECLARED) if declared else {},
        chance=chance,
        anchor=ruler_string_match_all,
        anchor_name="RULER string_match_all",
    )


TASKS = {
    "niah_single_1": _task(
        "one needle in repeated noise; word key, number value",
        True,
        haystack="noise",
        key_type="words",
        value_type="numbers",
    ),
    "niah_single_2": _task(
        "one needle in prose; word key, number value", True, haystack="prose", key_type="words", value_type="numbers"
    ),
    "niah_single_3": _task(
        "one needle in prose; word key, UUID value", True, haystack="prose", key_type="words", value_type="uuids"
    ),
    "niah_multikey_1": _task(
        "4 keys in prose, 1 asked", chance=0.25, haystack="prose", key_type="words", value_type="numbers", num_keys=4
    ),
    "niah_multikey_2": _task(
        "haystack made of distractor needles; word keys",
        _EDGES,
        haystack="needle",
        key_type="words",
        value_type="numbers",
    ),
    "niah_multikey_3": _task(
        "haystack made of distractor needles; UUID keys and values",
        _EDGES,
        haystack="needle",
        key_type="uuids",
        value_type="uuids",
    ),
    "niah_multivalue": _task(
        "4 values for the asked key", True, haystack="prose", key_type="words", value_type="numbers", num_values=4
    ),
    "niah_multiquery": _task(
        "4 keys asked at once",
        True,
        haystack="prose",
        key_type="words",
        value_type="numbers",
        num_keys=4,
        num_queries=4,
    ),
}


FIRST_NEEDLES = 64  # distractor needles drawn first, to learn how many tokens one takes


def draw_tokens(kind: str, rng: random.Random, count: int, exclude: set[str], language: str = "en") -> list[str]:
    """`count` distinct keys or values of a type, none of them in `exclude`. Chinese words join an
    adjective and a noun with nothing between ("古老灯塔"), English ones with a hyphen."""
    adjectives, nouns = key_words(language)
    joiner = "" if language == "zh" else "-"
    if kind == "words":
        space = len(adjectives) * len(nouns)
        if count + len(exclude) > space:
            raise SpecError(f"{count} distinct word keys/values asked for, but only {space} exist; use uuids")
    out: list[str] = []
    seen = set(exclude)
    # `rng.choice(seq)` is `seq[rng._randbelow(len(seq))]` and `rng.randrange(a, b)` is
    # `a + rng._randbelow(b - a)`: the same numbers, drawn here without the per-call checks (a 32K
    # haystack of distractor needles draws 6,000 keys and values a sample).
    below = rng._randbelow
    while len(out) < count:
        if kind == "words":
            token = f"{adjectives[below(len(adjectives))]}{joiner}{nouns[below(len(nouns))]}"
        elif kind == "numbers":
            token = str(1_000_000 + below(9_000_000))
        else:
            token = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if token not in seen:
            seen.add(token)
            out.append(token)
    return out


def draw_many_tokens(kind: str, rng: random.Random, count: int, exclude: set[str], language: str = "en") -> list[str]:
    """What `draw_tokens` draws, for a haystack's thousands of distractor keys and values: the word or
    number indices are drawn in bulk (`seeding.random_below`), not one `randrange` at a time (a 32K
    haystack of distractor needles draws 5,400 of them a sample, and one at a time that was a third
    of the build). UUIDs are drawn one at a time either way."""
    if kind not in ("words", "numbers"):
        return draw_tokens(kind, rng, count, exclude, language)
    if kind == "words":
        return draw_word_pairs(rng, count, exclude, language)[0]
    out: list[str] = []
    drawn: set[str] = set()  # what this call drew so far (`exclude` is not copied: it holds thousands)
    while len(out) < count:
        fresh = [str(1_000_000 + v) for v in random_below(rng, count - len(out) + 16, 9_000_000).tolist()]
        out += _new_tokens(dict.fromkeys(fresh), exclude, drawn, count - len(out))
    return out


def draw_word_pairs(
    rng: random.Random, count: int, exclude: set[str], language: str = "en"
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """`draw_many_tokens("words", ...)` (the same words, from the same draws), with each word's
    adjective and noun by index: a haystack of distractor needles counts its keys from these
    (`text.units.hyphenated_counts`) instead of splitting 1,800 fresh words a sample."""
    adjectives, nouns = key_words(language)
    if count + len(exclude) > len(adjectives) * len(nouns):  # more words than exist: its error says what to do
        return draw_tokens("words", rng, count, exclude, language), np.zeros(0, np.int64), np.zeros(0, np.int64)
    joiner = "" if language == "zh" else "-"
    out: list[str] = []
    pairs: dict[str, tuple[int, int]] = {}  # a word's adjective and noun (a word is made by one pair)
    drawn: set[str] = set()
    while len(out) < count:
        wanted = count - len(out) + 16
        firsts = random_below(rng, wanted, len(adjectives)).tolist()
        seconds = random_below(rng, wanted, len(nouns)).tolist()
        fresh = {f"{adjectives[a]}{joiner}{nouns[n]}": (a, n) for a, n in zip(firsts, seconds, strict=True)}
        new = _new_tokens(fresh, exclude, drawn, count - len(out))
        pairs.update((t, fresh[t]) for t in new)
        out += new
    chosen = np.array([pairs[t] for t in out], dtype=np.int64).reshape(-1, 2)
    return out, chosen[:, 0], chosen[:, 1]


def _new_tokens(fresh: dict, exclude: set[str], drawn: set[str], room: int) -> list[str]:
    """The drawn tokens (`fresh`'s keys, in draw order, each once) not excluded nor drawn before, at
    most `room` of them; they join `drawn`."""
    new = [t for t in fresh if t not in exclude and t not in drawn] if drawn else [t for t in fresh if t not in exclude]
    new = new[:room]
    drawn.update(new)
    return new


def _filled_lines(shape: str, keys: list[str], values: list[str], end: str = LINE_END) -> list[str]:
    """`shape` with each key and value, then `end`: every needle's text, the placed ones and a
    haystack's distractors alike, the text around the two marks joined with them by one format per
    needle (two replaces each were a sixth of a distractor haystack's cost)."""
    key_first = shape.index(KEY) < shape.index(VALUE)
    first, second = (KEY, VALUE) if key_first else (VALUE, KEY)
    head, rest = shape.split(first, 1)
    middle, tail = rest.split(second, 1)
    tail += end
    pairs = zip(keys, values, strict=True) if key_first else zip(values, keys, strict=True)
    return [f"{head}{a}{middle}{b}{tail}" for a, b in pairs]


class NeedleGenerator(Generator):
    name = "needle"
    split = "test"
    uses_depth = True
    Options = NeedleOptions
    tasks = TASKS
    default_tasks = ["niah_single_1"]

    @classmethod
    def placed_items(cls, row: dict[str, Any]) -> list[str]:
        return needle_values(row, decode_metadata(row["metadata"]))

    @classmethod
    def declared_for(cls, task: str, row: dict[str, Any]) -> dict[str, str]:
        """With distractor needles the asked values are no longer the only ones of their shape: RULER's
        by-design declaration goes, and only the depth grid's edges stay declared."""
        params = decode_metadata(row["metadata"]).get("params", {})
        if int(params.get("num_keys", 1)) > int(params.get("num_queries", 1)):
            return dict(EDGE_BASELINES)
        return dict(cls.tasks[task].declared)

    @classmethod
    def chance_for(cls, task: str, row: dict[str, Any]) -> float:
        """With distractor needles (more keys than are asked), the share of the placed values that are
        gold: what a value picked blind hits (`--set num_keys=N` closes the by-design shortcut)."""
        params = decode_metadata(row["metadata"]).get("params", {})
        keys, asked = int(params.get("num_keys", 1)), int(params.get("num_queries", 1))
        return max(cls.tasks[task].chance, asked / keys if keys > asked else 0.0)

    paper = "Hsieh et al., RULER: What's the Real Context Size of Your Long-Context Language Models? (arXiv:2404.06654)"
    template_folder = Path(__file__).parent / "templates"
    validators = VALIDATORS
    per_task_options = True
    example = {"tasks": "niah_single_1,niah_multikey_3", "lengths": "1k", "depths": "0,100"}

    def __init__(self, spec, tokenizer):
        super().__init__(spec, tokenizer)
        self._corpora: dict[str, str] = {}  # corpus -> its identity (the pool cache's key)
        for task in spec.tasks:
            options = self.task_options(task)
            if options.num_queries > options.num_keys:
                raise SpecError(f"{task}: num_queries ({options.num_queries}) exceeds num_keys ({options.num_keys})")
            needles, room = options.num_keys * options.num_values, max(spec.lengths) // MIN_NEEDLE_TOKENS
            if needles > room:
                raise SpecError(
                    f"{task}: num_keys x num_values = {needles} needles cannot fit in {max(spec.lengths)} tokens "
                    f"(at most {room}, a needle being at least {MIN_NEEDLE_TOKENS} tokens); ask for fewer"
                )
            identity = sources.checked_corpus(task, options)
            if identity is not None:
                self._corpora[options.corpus] = identity
        for language in {self.task_options(task).language for task in spec.tasks}:
            needle = self.templates.render(localized("needle.j2", language), kind="number", key=KEY, value=VALUE)
            if needle.count(KEY) != 1 or needle.count(VALUE) != 1 or "\n" in needle:
                raise SpecError(
                    "needle template must print {{ key }} and {{ value }} once each, unchanged, on one line"
                )
            self.templates.require_plain(
                localized("needle.j2", language),
                ("key", "value"),
                "a needle is the template rendered once and filled with each key and value",
            )
        self._max_length = max(spec.lengths)
        self._key_word_counts = None  # the key vocabulary's words and parts counted (`hyphenated_counts`)

    # ------------------------------------------------------------------ helpers

    def _needle_shape(self, kind: str, language: str = "en") -> str:
        """The needle template rendered once, with marks where its key and value go."""
        return self.templates.render(localized("needle.j2", language), kind=kind, key=KEY, value=VALUE)

    def haystack_units(
        self, options: NeedleOptions, target: int, rng: random.Random, shape: str | None, taken: set[str]
    ):
        """Filler units (texts, token counts as joined) enough for `target` tokens, and some more: the
        fitter closes the last gap with whole units that still fit, never a cut sentence."""
        if options.haystack == "needle":
            return self._distractor_needles(options, target + sources.spare_tokens(target), rng, shape, taken)
        haystack = sources.haystack_of(options, self._corpora, options.language)
        return sources.haystack_run(haystack, self.tokenizer.name, target, self._max_length, rng)

    def _distractor_needles(self, options: NeedleOptions, target, rng, shape: str, taken):
        """A haystack made only of needles whose keys are never asked about, one per line (as RULER's).

        The first batch is small; the rest are sized by the tokens a needle of this kind took in it
        (a UUID needle takes about 40, a word-and-number one about 15), so a sample draws and counts
        about the needles it uses (a fixed guess of 12 tokens drew three times too many UUID ones)."""
        texts: list[str] = []
        counts: list[int] = []
        held = 0
        # Counted from their keys and values where the template's joins allow (`count_filled`): a
        # haystack's needles need no count of their own, nor a wait for the helper process.
        words = "words" in (options.key_type, options.value_type) and options.language == "en"
        if words and self._key_word_counts is None:
            self._key_word_counts = hyphenated_counts(self.tokenizer, *key_words(options.language))
        batch = min(FIRST_NEEDLES, max(16, target // 12))
        while held < target:
            keys, key_counts = self._draw_fills(options.key_type, rng, batch, taken, options.language)
            taken.update(keys)
            values, value_counts = self._draw_fills(options.value_type, rng, batch, taken, options.language)
            taken.update(values)
            new = _filled_lines(shape, keys, values)
            new_counts = count_filled(
                self.tokenizer, shape, (KEY, VALUE), (keys, values), LINE_END, spaced=(key_counts, value_counts)
            )
            if new_counts is None:
                new_counts = count_units(new, self.tokenizer, separator="")
            texts.extend(new)
            counts.extend(new_counts)
            held += sum(new_counts)
            per_needle = held / len(texts)
            batch = max(16, math.ceil((target - held) / per_needle * 1.02))
        return texts, np.asarray(counts, dtype=np.int64)

    def _draw_fills(self, kind: str, rng: random.Random, count: int, taken: set[str], language: str):
        """Keys or values for distractor needles, and for English words the counts of " " + each
        (from their adjective's and noun's, `hyphenated_counts`), or None where those do not hold."""
        if kind != "words" or language != "en" or self._key_word_counts is None:
            return draw_many_tokens(kind, rng, count, taken, language), None
        tokens, adjectives, nouns = draw_word_pairs(rng, count, taken, language)
        word_counts, part_counts = self._key_word_counts
        words, parts = word_counts[adjectives], part_counts[nouns]
        if not len(tokens) or (words < 0).any() or (parts < 0).any():  # a piece not counted so: count_filled's
            return tokens, None
        return tokens, words + parts

    # ------------------------------------------------------------------ sampling

    def sample(self, cell: Cell, rng: random.Random, budget_adjust: int = 0) -> Sample:
        options = self.task_options(cell.task)
        kind, kind_plural = KIND[options.value_type]
        language = options.language
        shape = self._needle_shape(kind, language)
        keys = draw_tokens(options.key_type, rng, options.num_keys, set(), language)
        values = draw_tokens(options.value_type, rng, options.num_keys * options.num_values, set(keys), language)
        queried = keys[: options.num_queries]

        # Distractor needles stand one per line, and so do the needles among them; other haystacks are
        # sentences joined by spaces (English) or by nothing, each counted after the "。" before it
        # (Chinese: see `text.language`).
        joining = LANGUAGES[language]
        line_end, separator, lead = ("", joining.separator, joining.lead)
        if options.haystack == "needle":
            line_end, separator, lead = LINE_END, "", ""
        inserts: list[Insert] = []
        needle_keys = [key for key in keys for _ in range(options.num_values)]  # each key's values in turn
        texts = _filled_lines(shape, needle_keys, values, line_end)
        for n, (key, value) in enumerate(zip(needle_keys, values, strict=True)):
            depth = float(cell.depth) if n == 0 else round(rng.uniform(0.0, 100.0), 1)  # the first: the cell's
            inserts.append(Insert(texts[n], depth, {"key": key, "value": value}))

        variables = dict(kind=kind, kind_plural=kind_plural, keys=queried, values_per_key=options.num_values)
        question = self.templates.render(localized("question.j2", language), **variables)
        answer_prefix = self.templates.render(localized("answer_prefix.j2", language), **variables)
        taken = set(keys) | set(values)
        filler_texts, filler_tokens = self.haystack_units(options, cell.target_length, rng, shape, taken)
        fitted = self.fit_prompt(
            localized("prompt.j2", language),
            {"question": question, **variables},
            cell,
            budget_adjust,
            answer_prefix=answer_prefix,
            filler_texts=filler_texts,
            filler_tokens=filler_tokens,
            inserts=inserts,
            whole_units_only=True,
            separator=separator,
            lead=lead,
        )
        # Answers: each queried key's values in text order. Needles are recorded in that order (then the
        # needles of keys not asked about), so `depths[i]` is the depth of `answers[i]`.
        starts = fitted.placements.start
        by_position = sorted(range(len(inserts)), key=lambda n: int(starts[n]))
        order = [n for q in queried for n in by_position if inserts[n].payload["key"] == q]
        asked = set(order)
        order += [n for n in range(len(inserts)) if n not in asked]
        answers = [inserts[n].payload["value"] for n in order[: len(queried) * options.num_values]]
        params = {k: getattr(options, k) for k in REPORTED}
        if language != "en":
            params["language"] = language
        metadata = {"params": params, "queries": queried}
        return Sample(fitted, question, answers, answer_prefix, metadata, item_key="needles", item_order=order)
