"""RULER's variable tracking (`vt`): a value is assigned to a variable, then passed along chains of
assignments ("VAR QPLMZ = 40213." then "VAR TRWXA = VAR QPLMZ.") hidden in a haystack; the question
asks for every variable that ends up holding the value.

As in RULER: variables are five upper-case letters, values five-digit numbers, `num_chains` chains
of `num_hops` hops each (one by default), the question names the asked chain by its value, and one
solved example comes before the question by default. As in RULER, each chain's statements take
random positions over the whole haystack, in chain order, so several chains interleave; ours sit at
seeded depths that are measured and recorded. With one chain (RULER's default) every variable
outside the example is an answer, which the audit declares; `num_chains` closes it (the
`ruler-strict` suite uses 10).
"""

from __future__ import annotations

import functools
import random
import re
import string
from typing import TYPE_CHECKING, Any

from ...errors import SpecError
from ...fitting import Insert
from ...templating import Templates, pattern_from
from ...text import sources
from ..base import Cell, Sample

if TYPE_CHECKING:
    from .generator import RulerGenerator

NAME, VALUE = "\x00NAME\x00", "\x00VALUE\x00"
NAME_PATTERN = r"[A-Z]{5}"
REFERENCE = "VAR {}"  # how a statement names the variable it copies
REFERENCE_PREFIX = REFERENCE.format("")
VALUE_PATTERN = re.escape(REFERENCE_PREFIX) + NAME_PATTERN + r"|\d{5}"
EXAMPLE_NOISE = 2  # haystack sentences between an example's statements


def statement_pattern(generator: RulerGenerator) -> re.Pattern[str]:
    """The assignment template as a regex: what the oracle reads every statement back with."""
    return _statement_pattern(generator.templates)


@functools.lru_cache(maxsize=16)
def _statement_pattern(templates: Templates) -> re.Pattern[str]:
    rendered = templates.render("vt_statement.j2", name=NAME, value=VALUE)
    if rendered.count(NAME) != 1 or rendered.count(VALUE) != 1 or "\n" in rendered:
        raise SpecError("vt_statement.j2 must print {{ name }} and {{ value }} once each, on one line")
    templates.require_plain("vt_statement.j2", ("name", "value"), "the validator reads statements back by it")
    return pattern_from(rendered, {NAME: ("name", NAME_PATTERN), VALUE: ("value", VALUE_PATTERN)})


def _names(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        name = "".join(rng.choices(string.ascii_uppercase, k=5))
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


def _values(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        value = str(rng.randrange(10_000, 100_000))
        if value not in taken:
            taken.add(value)
            out.append(value)
    return out


def _chain_statements(generator: RulerGenerator, names: list[str], value: str) -> list[str]:
    """The statements of one chain: the value to the first name, then each name to the next."""
    sources_ = [value] + [REFERENCE.format(name) for name in names[:-1]]
    return [
        generator.templates.render("vt_statement.j2", name=n, value=s) for n, s in zip(names, sources_, strict=True)
    ]


def follow_chains(statements: list[tuple[str, str]], value: str) -> list[str]:
    """Every variable holding `value` after reading the assignments in order: the oracle's derivation
    (names in the order they receive it)."""
    holding: list[str] = []
    held: set[str] = set()
    for name, source in statements:
        copied = source.removeprefix(REFERENCE_PREFIX) if source.startswith(REFERENCE_PREFIX) else None
        if source == value or (copied is not None and copied in held):
            if name not in held:
                held.add(name)
                holding.append(name)
    return holding


def sample(generator: RulerGenerator, cell: Cell, rng: random.Random, options: Any, budget_adjust: int) -> Sample:
    taken_names: set[str] = set()
    taken_values: set[str] = set()
    chains = [_names(rng, options.num_hops + 1, taken_names) for _ in range(options.num_chains)]
    values = _values(rng, options.num_chains, taken_values)
    inserts: list[Insert] = []
    for c, (names, value) in enumerate(zip(chains, values, strict=True)):
        depths = sorted(round(rng.uniform(0.0, 100.0), 1) for _ in names)
        for hop, (text, depth) in enumerate(zip(_chain_statements(generator, names, value), depths, strict=True)):
            inserts.append(Insert(text, depth, {"name": names[hop], "chain": c}))

    examples = []
    for _ in range(generator.shots(cell.task, options)):
        names = _names(rng, options.num_hops + 1, taken_names)
        (value,) = _values(rng, 1, taken_values)
        noise = sources.NOISE_SENTENCES
        parts: list[str] = []
        for statement in _chain_statements(generator, names, value):
            parts += [noise[rng.randrange(len(noise))] for _ in range(EXAMPLE_NOISE)] + [statement]
        variables = {"value": value, "num_names": len(names)}
        examples.append(
            {
                "context": " ".join(parts),
                "question": generator.templates.render("vt_question.j2", **variables),
                "answer": generator.templates.render("vt_answer_prefix.j2", **variables) + " " + " ".join(names),
            }
        )

    variables = {"value": values[0], "num_names": options.num_hops + 1}
    question = generator.templates.render("vt_question.j2", **variables)
    answer_prefix = generator.templates.render("vt_answer_prefix.j2", **variables)
    filler_texts, filler_tokens = generator.needle.haystack_units(options, cell.target_length, rng, None, set())
    fitted = generator.fit_prompt(
        "vt_prompt.j2",
        {"question": question, "examples": examples},
        cell,
        budget_adjust,
        answer_prefix=answer_prefix,
        filler_texts=filler_texts,
        filler_tokens=filler_tokens,
        inserts=inserts,
        whole_units_only=True,
    )
    # The asked chain's statements first (in chain order: `depths[i]` is where `answers[i]` gets the value).
    order = [n for n, i in enumerate(inserts) if i.payload["chain"] == 0]
    order += [n for n, i in enumerate(inserts) if i.payload["chain"] != 0]
    metadata = {
        "params": {"num_chains": options.num_chains, "num_hops": options.num_hops, "haystack": options.haystack},
        "value": values[0],
        "chains": chains,
        "shots": len(examples),
    }
    return Sample(fitted, question, list(chains[0]), answer_prefix, metadata, item_key="statements", item_order=order)
