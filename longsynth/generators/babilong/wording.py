"""Facts and questions as text, and back: the one place that knows the family's wordings.

Facts are rendered from `fact.j2` (several wordings per kind, picked per fact) and read back with
patterns made from the same template rendered with placeholders (`templating.pattern_from`), so a
user's own wordings (`--template-dir`) are read back as well as ours.
"""

from __future__ import annotations

import functools
import random
import re

from ...errors import SpecError
from ...templating import Templates, pattern_from
from .world import DIRECTIONS, QUESTIONS, Fact, Question

FORMS = {"move": 4, "take": 4, "drop": 4, "give": 4, "relation": 3}
_SLOTS = {
    "person": r"[A-Z][a-z]+",
    "other": r"[A-Z][a-z]+",
    "thing": r"[a-z]+",
    "room": r"[a-z]+",
    "near": r"[a-z]+",
    "direction": "|".join(DIRECTIONS),
}
_FIELDS = {
    "move": ("person", "room"),
    "take": ("person", "thing"),
    "drop": ("person", "thing"),
    "give": ("person", "thing", "other"),
    "relation": ("room", "direction", "near"),
}
_QUESTION_FIELDS = {
    "where_person": ("person",),
    "where_thing": ("thing",),
    "where_before": ("thing", "room"),
    "room_in_direction": ("direction", "room"),
    "direction_of_room": ("room", "direction"),
    "giver": ("thing", "other"),
    "gift": ("person", "other"),
    "receiver": ("person", "thing"),
    "last_receiver": ("thing",),
    "last_giver": ("thing",),
}


def _slot(name: str) -> str:
    return f"\x00{name.upper()}\x00"


NAMES = ("person", "other", "thing", "room", "direction", "near")  # what a fact names


def render_fact(templates: Templates, fact: Fact, rng: random.Random) -> str:
    form = rng.randrange(FORMS[fact.kind])
    names = [getattr(fact, field) for field in NAMES]
    if any("\n" in name or "\x00" in name for name in names):  # (ours never; a placeholder must not be faked)
        return templates.render("fact.j2", form=form, **fact.__dict__)
    text = fact_wordings(templates)[fact.kind, form]
    for field, name in zip(NAMES, names, strict=True):
        text = text.replace(_slot(field), name)
    return text


@functools.lru_cache(maxsize=16)
def fact_wordings(templates: Templates) -> dict[tuple[str, int], str]:
    """Every wording of fact.j2 rendered once with placeholders for the names: a fact is its wording
    with its names put in, the text a render with them gives (a render per fact was a tenth of making
    a 32K sample), since the template must only print the names (`Templates.require_plain`; the
    validator reads facts back by the same placeholders)."""
    templates.require_plain("fact.j2", NAMES, "the validator reads each fact back by its wording")
    slots = {field: _slot(field) for field in NAMES}
    return {
        (kind, form): templates.render("fact.j2", kind=kind, form=form, **slots)
        for kind, forms in FORMS.items()
        for form in range(forms)
    }


def render_question(templates: Templates, question: Question) -> str:
    return templates.render("question.j2", **question.__dict__)


def _groups(fields) -> dict[str, tuple[str, str]]:
    # A word slot is whole: "Ann" must not be read inside "Joann", nor "den" inside "garden".
    return {_slot(f): (f, rf"(?<![A-Za-z])(?:{_SLOTS[f]})(?![A-Za-z])") for f in fields}


@functools.lru_cache(maxsize=16)
def fact_patterns(templates: Templates) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(kind, pattern) for every wording of every fact kind."""
    return tuple((kind, pattern) for kind, pattern, _, _ in _fact_readers(templates))


@functools.lru_cache(maxsize=16)
def _fact_readers(templates: Templates) -> tuple[tuple[str, re.Pattern[str], str, int], ...]:
    """(kind, pattern, mark, reach): each wording's pattern, its longest piece of fixed text (" went to
    the "), which `read_facts` finds first by plain substring search, and how far around it to look."""
    found = []
    for kind, fields in _FIELDS.items():
        for form in range(FORMS[kind]):
            rendered = templates.render("fact.j2", kind=kind, form=form, **{f: _slot(f) for f in fields})
            if not rendered.endswith("."):
                raise SpecError(f"fact.j2: the {kind} wording {form} must end with a full stop")
            fixed = re.split("|".join(re.escape(_slot(f)) for f in fields), rendered)
            found.append((kind, pattern_from(rendered, _groups(fields)), max(fixed, key=len), _reach(rendered)))
    return tuple(found)


NAME_REACH = 40  # characters a name, room or thing may take (ours take at most 12)


def _reach(rendered: str) -> int:
    """How far a wording's text can extend on either side of its mark: its own fixed text, and
    `NAME_REACH` for each name in it (a user's long wording is read whole too)."""
    return len(rendered) + NAME_REACH * rendered.count("\x00") // 2


@functools.lru_cache(maxsize=16)
def question_patterns(templates: Templates) -> tuple[tuple[str, re.Pattern[str], str, int], ...]:
    """(kind, pattern, mark, reach) for every question wording (see `_fact_readers`)."""
    found = []
    for kind, fields in _QUESTION_FIELDS.items():
        rendered = templates.render("question.j2", kind=kind, **{f: _slot(f) for f in fields})
        fixed = re.split("|".join(re.escape(_slot(f)) for f in fields), rendered)
        found.append((kind, pattern_from(rendered, _groups(fields)), max(fixed, key=len), _reach(rendered)))
    return tuple(found)


def _read(templates: Templates, readers, text: str) -> list[tuple[int, int, str, dict[str, str]]]:
    """(start, end, kind, fields) of every match of the readers' patterns, in reading order. Each
    wording's mark (its longest piece of fixed text) is found first and its pattern matched around
    each hit only: every pattern over a 32K-token text took 54 ms a row."""
    found = {}
    for at, mark in _mark_hits(text, _all_marks(templates)):
        for kind, pattern, reader_mark, reach in readers:
            if reader_mark != mark:
                continue
            for match in pattern.finditer(text, max(0, at - reach), at + len(mark) + reach):
                if match.start() <= at < match.end():
                    found[(match.start(), match.end())] = (kind, match.groupdict())
    return [(start, end, kind, fields) for (start, end), (kind, fields) in sorted(found.items())]


@functools.lru_cache(maxsize=16)
def _all_marks(templates: Templates) -> tuple[str, ...]:
    """The marks of every fact and question wording, longest first (where one mark starts another at
    the same offset, both are hits)."""
    marks = {mark for _, _, mark, _ in _fact_readers(templates)} | {m for _, _, m, _ in question_patterns(templates)}
    return tuple(sorted(marks, key=lambda m: (-len(m), m)))


@functools.lru_cache(maxsize=4)
def _mark_hits(text: str, marks: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """(offset, mark) of every occurrence of every mark, overlapping ones included, in order (cached:
    a row's fact and question readers share one search). An ASCII text is searched for all marks in
    one pass of polars' Aho-Corasick (a 32K-token text in under a millisecond, where one `str.find`
    scan per mark took 3.7 ms); another mark by mark, since polars counts offsets in bytes."""
    if not text.isascii():
        hits = []
        for mark in marks:
            at = text.find(mark)
            while at >= 0:
                hits.append((at, mark))
                at = text.find(mark, at + 1)
        return tuple(sorted(hits))
    import polars as pl

    width, heads = _marks_by_head(marks)
    hits = []
    for at in pl.Series([text]).str.find_many(list(marks), overlapping=True).item().to_list():
        hits += [(at, mark) for mark in heads.get(text[at : at + width], ()) if text.startswith(mark, at)]
    return tuple(sorted(set(hits)))


@functools.lru_cache(maxsize=16)
def _marks_by_head(marks: tuple[str, ...]) -> tuple[int, dict[str, tuple[str, ...]]]:
    """The marks by their first characters (as many as the shortest mark has): the marks that start
    at a hit are among those its text begins with (a hit checked against 29 marks cost 0.3 ms a row)."""
    width = min(map(len, marks))
    heads: dict[str, list[str]] = {}
    for mark in marks:
        heads.setdefault(mark[:width], []).append(mark)
    return width, {head: tuple(found) for head, found in heads.items()}


@functools.lru_cache(maxsize=4)
def read_facts(templates: Templates, text: str) -> list[tuple[int, int, Fact]]:
    """Every fact the text states, as (start, end, fact), in reading order (cached: a row's
    validators read the same text)."""
    return [
        (start, end, Fact(kind, **fields))
        for start, end, kind, fields in _read(templates, _fact_readers(templates), text)
    ]


@functools.lru_cache(maxsize=4)
def read_question(templates: Templates, text: str) -> list[Question]:
    """Every question the text asks (a row asks one)."""
    return [Question(kind, **fields) for _, _, kind, fields in _read(templates, question_patterns(templates), text)]


assert set(_QUESTION_FIELDS) == set(QUESTIONS)
