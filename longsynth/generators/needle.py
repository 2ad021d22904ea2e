"""The needle family: RULER's needle-in-a-haystack suite on a length x depth grid.

A needle is a sentence tying a key to a value. Variants differ in haystack
(repeated noise, distractor needles, prose, a user corpus), in key and value
types (words, numbers, UUIDs) and in how many keys, values per key and
queried keys a sample holds. The eight RULER NIAH tasks are presets over
these parameters; every parameter can be overridden with `--set`.
"""

from __future__ import annotations

import random
import re
import uuid
from typing import Any

import numpy as np

from ..errors import SpecError
from ..fitting import Insert
from ..templating import pattern_from, render, split_around
from ..text import sources
from ..text.units import count_units
from ..text.words import ADJECTIVES, NOUNS
from .base import Cell, Generator, Option, Sample, register

_KEY, _VALUE, _CONTEXT = "\x00KEY\x00", "\x00VALUE\x00", "\x00CONTEXT\x00"
_PATTERNS = {
    "words": r"[a-z]+-[a-z]+",
    "numbers": r"\d{7}",
    "uuids": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
}
_KIND = {"words": ("word", "words"), "numbers": ("number", "numbers"), "uuids": ("UUID", "UUIDs")}

_PRESETS: dict[str, dict[str, Any]] = {
    "niah_single_1": dict(haystack="noise", key_type="words", value_type="numbers"),
    "niah_single_2": dict(haystack="prose", key_type="words", value_type="numbers"),
    "niah_single_3": dict(haystack="prose", key_type="words", value_type="uuids"),
    "niah_multikey_1": dict(haystack="prose", key_type="words", value_type="numbers", num_keys=4),
    "niah_multikey_2": dict(haystack="needle", key_type="words", value_type="numbers"),
    "niah_multikey_3": dict(haystack="needle", key_type="uuids", value_type="uuids"),
    "niah_multivalue": dict(haystack="prose", key_type="words", value_type="numbers", num_values=4),
    "niah_multiquery": dict(haystack="prose", key_type="words", value_type="numbers", num_keys=4, num_queries=4),
}


def draw_tokens(kind: str, rng: random.Random, count: int, exclude: set[str]) -> list[str]:
    """`count` distinct keys or values of a type, none of them in `exclude`."""
    if kind == "words":
        space = len(ADJECTIVES) * len(NOUNS)
        if count + len(exclude) > space:
            raise SpecError(f"{count} distinct word keys/values asked for, but only {space} exist; use uuids")
    out: list[str] = []
    seen = set(exclude)
    while len(out) < count:
        if kind == "words":
            token = f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}"
        elif kind == "numbers":
            token = str(rng.randrange(1_000_000, 10_000_000))
        else:
            token = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if token not in seen:
            seen.add(token)
            out.append(token)
    return out


@register
class NeedleGenerator(Generator):
    name = "needle"
    split = "test"
    uses_depth = True
    tasks = _PRESETS
    default_tasks = ["niah_single_1"]
    paper = "Hsieh et al., RULER: What's the Real Context Size of Your Long-Context Language Models? (arXiv:2404.06654)"
    options = {
        "haystack": Option(str, "noise", "haystack kind", ("noise", "needle", "prose", "corpus")),
        "key_type": Option(str, "words", "type of needle keys", tuple(_PATTERNS)),
        "value_type": Option(str, "numbers", "type of needle values", tuple(_PATTERNS)),
        "num_keys": Option(int, 1, "distinct keys with needles in a sample", minimum=1),
        "num_values": Option(int, 1, "values (needles) per key", minimum=1),
        "num_queries": Option(int, 1, "keys asked about (<= num_keys)", minimum=1),
        "corpus": Option(str, "", "haystack=corpus: .txt/.jsonl/.parquet path, folder, or hf:<dataset>"),
        "corpus_text_field": Option(str, "text", "text column of the corpus"),
        "corpus_config": Option(str, "", "Hugging Face dataset config"),
        "corpus_split": Option(str, "train", "Hugging Face dataset split"),
    }
    task_help = {
        "niah_single_1": "one needle in repeated noise; word key, number value",
        "niah_single_2": "one needle in prose; word key, number value",
        "niah_single_3": "one needle in prose; word key, UUID value",
        "niah_multikey_1": "4 keys in prose, 1 asked",
        "niah_multikey_2": "haystack made of distractor needles; word keys",
        "niah_multikey_3": "haystack made of distractor needles; UUID keys and values",
        "niah_multivalue": "4 values for the asked key",
        "niah_multiquery": "4 keys asked at once",
    }

    def __init__(self, spec, tokenizer):
        super().__init__(spec, tokenizer)
        for task in spec.tasks:
            params = self.task_params(task)
            if params["num_queries"] > params["num_keys"]:
                raise SpecError(
                    f"{task}: num_queries ({params['num_queries']}) exceeds num_keys ({params['num_keys']})"
                )
            if params["haystack"] == "corpus" and not params["corpus"]:
                raise SpecError(f"{task}: haystack=corpus needs --set corpus=PATH (a file, folder or hf:<dataset>)")
        needle = render("needle/needle.j2", spec.template_dir, kind="number", key=_KEY, value=_VALUE)
        if needle.count(_KEY) != 1 or needle.count(_VALUE) != 1 or "\n" in needle:
            raise SpecError("needle template must print {{ key }} and {{ value }} once each, unchanged, on one line")
        self._max_length = max(spec.lengths)

    # ------------------------------------------------------------------ helpers

    def _needle_maker(self, kind: str):
        rendered = render("needle/needle.j2", self.spec.template_dir, kind=kind, key=_KEY, value=_VALUE)
        return lambda key, value: rendered.replace(_KEY, key).replace(_VALUE, value)

    def _filler(self, params: dict[str, Any], target: int, rng: random.Random, make, taken: set[str]):
        """Filler units (texts, space-led token counts) enough for `target` tokens."""
        haystack = params["haystack"]
        if haystack == "needle":
            return self._distractor_needles(params, target, rng, make, taken)
        if haystack == "noise":
            pool = sources.noise_pool(self.tokenizer.name, self._max_length + 64)
            start = rng.randrange(len(sources.NOISE_SENTENCES))
        elif haystack == "prose":
            pool = sources.prose_pool(self.tokenizer.name, 2 * self._max_length + 4096)
            start = rng.randrange(pool.latest_start(target) + 1)
        else:
            pool = sources.corpus_pool(
                self.tokenizer.name,
                self._max_length + 256,
                params["corpus"],
                params["corpus_text_field"],
                params["corpus_config"] or None,
                params["corpus_split"],
            )
            start = rng.randrange(pool.latest_start(target) + 1)
        return pool.run(start, target)

    def _distractor_needles(self, params, target, rng, make, taken):
        """A haystack made only of needles whose keys are never asked about."""
        texts: list[str] = []
        counts: list[int] = []
        held = 0
        batch = max(16, target // 12)
        while held < target:
            keys = draw_tokens(params["key_type"], rng, batch, taken)
            taken.update(keys)
            values = draw_tokens(params["value_type"], rng, batch, taken)
            taken.update(values)
            new = [make(k, v) for k, v in zip(keys, values, strict=True)]
            new_counts = count_units(new, self.tokenizer)
            texts.extend(new)
            counts.extend(new_counts)
            held += sum(new_counts)
            batch = max(16, (target - held) // 12)
        return texts, np.asarray(counts, dtype=np.int64)

    # ------------------------------------------------------------------ sampling

    def sample(self, cell: Cell, rng: random.Random, budget_adjust: int = 0) -> Sample:
        params = self.task_params(cell.task)
        kind, kind_plural = _KIND[params["value_type"]]
        make = self._needle_maker(kind)
        keys = draw_tokens(params["key_type"], rng, params["num_keys"], set())
        values = draw_tokens(params["value_type"], rng, params["num_keys"] * params["num_values"], set(keys))
        queried = keys[: params["num_queries"]]

        inserts: list[Insert] = []
        for k, key in enumerate(keys):
            for v in range(params["num_values"]):
                primary = k == 0 and v == 0
                depth = float(cell.depth) if primary else round(rng.uniform(0.0, 100.0), 1)
                value = values[k * params["num_values"] + v]
                inserts.append(Insert(make(key, value), depth, {"key": key, "value": value}))

        variables = dict(kind=kind, kind_plural=kind_plural, keys=queried, values_per_key=params["num_values"])
        question = render("needle/question.j2", self.spec.template_dir, **variables)
        answer_prefix = render("needle/answer_prefix.j2", self.spec.template_dir, **variables)
        prompt = render("needle/prompt.j2", self.spec.template_dir, context=_CONTEXT, question=question, **variables)
        head, tail = split_around(prompt, _CONTEXT, "needle/prompt.j2")

        taken = set(keys) | set(values)
        filler_texts, filler_tokens = self._filler(params, cell.target_length, rng, make, taken)
        fitted = self.fit(
            cell.target_length,
            budget_adjust,
            head=head,
            tail=tail,
            filler_texts=filler_texts,
            filler_tokens=filler_tokens,
            inserts=inserts,
        )
        by_position = sorted(fitted.placed, key=lambda p: p.char_start)
        answers = [p.insert.payload["value"] for q in queried for p in by_position if p.insert.payload["key"] == q]
        metadata = {
            "params": {
                k: params[k] for k in ("haystack", "key_type", "value_type", "num_keys", "num_values", "num_queries")
            },
            "queries": queried,
        }
        return Sample(fitted, question, answers, answer_prefix, metadata, item_key="needles")

    # ------------------------------------------------------------------ oracle

    def needle_pattern(self, params: dict[str, Any]) -> re.Pattern[str]:
        kind = _KIND[params["value_type"]][0]
        rendered = render("needle/needle.j2", self.spec.template_dir, kind=kind, key=_KEY, value=_VALUE)
        return pattern_from(
            rendered, {_KEY: ("key", _PATTERNS[params["key_type"]]), _VALUE: ("value", _PATTERNS[params["value_type"]])}
        )

    def oracle(self, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:
        params = metadata["params"]
        text = row["input"]
        found = [(m.group("key"), m.group("value"), m.start()) for m in self.needle_pattern(params).finditer(text)]
        problems: list[str] = []

        values = [v for _, v, _ in found]
        if len(set(values)) != len(values):
            problems.append("a value is stated by more than one needle")
        starts = {(k, v, s) for k, v, s in found}
        for needle in metadata.get("needles", []):
            if (needle["key"], needle["value"], needle["char_offset"]) not in starts:
                problems.append(
                    f"needle {needle['key']}={needle['value']} is not at its recorded offset {needle['char_offset']}"
                )

        derived: list[str] = []
        question = row["question"]
        if question not in text:
            problems.append("the question is not in the input")
        for key in metadata["queries"]:
            if key not in question:
                problems.append(f"queried key {key} does not appear in the question")
            key_values = [v for k, v, _ in found if k == key]
            if len(key_values) != params["num_values"]:
                problems.append(f"key {key} has {len(key_values)} needles in the text, expected {params['num_values']}")
            derived.extend(key_values)
        if derived != list(row["answers"]):
            problems.append(f"answers {list(row['answers'])} differ from those read in the text {derived}")
        for value in row["answers"]:
            occurrences = text.count(value)  # substrings count too: "12345678" would hide "1234567"
            if occurrences != 1:
                problems.append(f"answer {value} occurs {occurrences} times in the input, expected once")
        prefix = row["answer_prefix"].strip()
        if prefix and prefix in text:
            problems.append("the answer prefix appears in the input")
        return problems
