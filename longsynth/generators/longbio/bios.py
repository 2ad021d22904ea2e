"""Biographies: render people through sentence templates, and parse them back.

A biography is a header sentence naming the person followed by one sentence
per attribute. Sentence templates live in the family's `templates/<style>/` (one
shape per line) for three styles: `standard` (one shape per attribute),
`paraphrase` (ten or more shapes per attribute) and `pronoun` (first-person
self-introductions). Rendering uses the templates once, with placeholders,
and then plain string replacement, so a 128K haystack of a thousand bios
renders in milliseconds. The parser inverts the same shapes; it is what the
longbio oracle uses to read answers from the text alone.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import SpecError
from ...fitting import LABEL_REGEX
from ...templating import Templates
from ...text.units import SEPARATOR
from .people import ARITHMETIC_ATTRIBUTES, ATTRIBUTES, Person, stated, unstated, value_pools

TEMPLATE_FOLDER = Path(__file__).parent / "templates"
NAME, VALUE, OTHER = "\x00NAME\x00", "\x00VALUE\x00", "\x00OTHER\x00"
_NAME_PATTERN = r"[A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*){1,2}"


_LABEL_BEFORE = re.compile(LABEL_REGEX.pattern + SEPARATOR + r"\Z")
DATE_SHAPE = re.compile(r"[A-Z][a-z]+ \d{1,2}, \d{4}")  # a birth date as a bio states it


@functools.lru_cache(maxsize=1)
def _pools() -> dict[str, frozenset[str]]:
    return {k: frozenset(v) for k, v in value_pools().items()}


def valid_value(attribute: str, value: str) -> bool:
    """Whether `value` can be a value of `attribute` (parsing never reads one shape as another)."""
    if attribute == "birthdate":
        return bool(DATE_SHAPE.fullmatch(value))
    if attribute == "age":
        return value.isdigit() and len(value) <= 3
    return value in _pools().get(attribute, frozenset())


@dataclass(frozen=True)
class Shape:
    """One sentence template with placeholders, and its parsing regex."""

    attribute: str
    text: str
    regex: re.Pattern[str]
    same_as: bool = False

    def render(self, name: str, value: str = "", other: str = "") -> str:
        return self.text.replace(NAME, name).replace(VALUE, value).replace(OTHER, other)


def _shape(attribute: str, text: str, same_as: bool = False) -> Shape:
    if not text.endswith(".") or ". " in text:
        raise SpecError(f"longbio template line {text!r} must be one sentence ending with a period")
    regex = re.escape(text)
    # Names and dates have known shapes: matched as such, a date's comma ("On June 3, 1990, Ann Lee
    # was born.") cannot end the value and start the name. Other values are any text.
    value = DATE_SHAPE.pattern if attribute == "birthdate" else ".+?"
    for sentinel, group, pattern in ((NAME, "name", _NAME_PATTERN), (VALUE, "value", value), (OTHER, "other", ".+?")):
        regex = regex.replace(re.escape(sentinel), f"(?P<{group}>{pattern})", 1)
    return Shape(attribute, text, re.compile(regex + r"\Z"), same_as)


def _literal_key(text: str, bio_name: str | None) -> tuple[str, ...]:
    """The words a sentence starts with, up to the first placeholder (at most two)."""
    lead = "NAME" if bio_name and text.startswith(bio_name) else None
    rest = text[len(bio_name) :].lstrip() if lead else text
    words: list[str] = []
    for word in rest.split(" "):
        if len(words) == 2 or "\x00" in word or not word:
            break
        words.append(word)
    return (lead or "", *words)


@dataclass
class BioStyle:
    """The sentence shapes of one style, indexed for fast parsing."""

    name: str
    header: Shape
    shapes: dict[str, list[Shape]]
    same_as: dict[str, Shape]
    _index: dict[tuple[str, ...], list[Shape]] = field(default_factory=dict)
    _fallback: list[Shape] = field(default_factory=list)
    header_regex: re.Pattern[str] = field(init=False)
    label_regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        pattern = re.escape(self.header.text).replace(re.escape(NAME), f"(?P<name>{_NAME_PATTERN})")
        self.header_regex = re.compile(pattern)  # starts with literal text: a fast scan
        self.label_regex = re.compile(LABEL_REGEX.pattern + SEPARATOR + pattern)
        for shape in [s for shapes in self.shapes.values() for s in shapes] + list(self.same_as.values()):
            key = _literal_key(shape.text, NAME)
            if shape.text.startswith(VALUE):
                self._fallback.append(shape)
            else:
                self._index.setdefault(key, []).append(shape)
        # Most literal text first: "works in the same city as X" before "works in X".
        for shapes in [*self._index.values(), self._fallback]:
            shapes.sort(key=lambda sh: -len(re.sub("\x00[A-Z]+\x00", "", sh.text)))

    @property
    def first_person(self) -> bool:
        return self.name == "pronoun"

    def sentences(
        self,
        person: Person,
        rng: random.Random,
        attributes: tuple[str, ...],
        same_as: dict[str, str] | None = None,
        shuffle: bool = False,
    ) -> list[tuple[str, str]]:
        """(attribute, sentence) pairs for a person; `same_as` maps attribute -> other person's name."""
        same_as = same_as or {}
        order = list(attributes)
        if shuffle:
            rng.shuffle(order)
        out = []
        for attribute in order:
            if attribute in same_as:
                out.append((attribute, self.same_as[attribute].render(person.name, other=same_as[attribute])))
            else:
                shape = rng.choice(self.shapes[attribute])
                value = person.attributes[attribute]
                text = stated(attribute, value)
                sentence = shape.render(person.name, text)
                if text != value and sentence.startswith(text):  # an added article opens the sentence
                    sentence = sentence[:1].upper() + sentence[1:]
                out.append((attribute, sentence))
        return out

    def parse_sentence(self, sentence: str, bio_name: str) -> tuple[str, str, bool] | None:
        """(attribute, value or other name, is_same_as) if the sentence is one of our shapes about `bio_name`."""
        key = _literal_key(sentence, bio_name)
        candidates = []
        for n in range(len(key), 0, -1):
            candidates.extend(self._index.get(key[:n], []))
        for shape in candidates + self._fallback:
            match = shape.regex.match(sentence)
            if not match:
                continue
            groups = match.groupdict()
            if "name" in groups and groups["name"] != bio_name:
                continue
            if shape.same_as:
                if re.fullmatch(_NAME_PATTERN, groups["other"]):
                    return shape.attribute, groups["other"], True
                continue
            value = unstated(shape.attribute, groups["value"])
            if valid_value(shape.attribute, value):
                return shape.attribute, value, False
        return None


def package_templates() -> Templates:
    """The family's own templates, without a user's folder (scoring reads bios written with them)."""
    return Templates.for_family("longbio", TEMPLATE_FOLDER)


@functools.lru_cache(maxsize=16)
def load_style(style: str, templates: Templates) -> BioStyle:
    """Read a style's shapes from its templates (user folder first, then ours)."""
    variables = {"name": NAME, "value": VALUE, "other": OTHER}

    def rendered(name: str) -> str:
        """The template with placeholders (a mistake in it reported by the render), once it is known to
        print them as they are: a sentence is its shape filled with a person's name and value, and
        read back by it."""
        text = templates.render(name, **variables)
        templates.require_plain(name, tuple(variables), "its sentences are filled per person and read back by them")
        return text

    header = _shape("header", rendered(f"{style}/header.j2").strip())
    shapes = {}
    for attribute in sorted(set(ATTRIBUTES) | set(ARITHMETIC_ATTRIBUTES)):
        lines = rendered(f"{style}/{attribute}.j2").splitlines()
        shapes[attribute] = [_shape(attribute, line.strip()) for line in lines if line.strip()]
        for s in shapes[attribute]:
            if style != "pronoun" and NAME not in s.text or VALUE not in s.text:
                raise SpecError(f"longbio template {style}/{attribute}.j2 line {s.text!r} needs name and value")
    same_as = {}
    for attribute in ATTRIBUTES:
        line = rendered(f"same_as/{attribute}.j2").strip()
        same_as[attribute] = _shape(attribute, line, same_as=True)
    return BioStyle(style, header, shapes, same_as)


@dataclass
class ParsedBio:
    name: str
    start: int
    end: int
    label: int | None
    body_start: int = 0
    read: bool = False
    values: dict[str, str] = field(default_factory=dict)
    same_as: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)


def read_bio(text: str, bio: ParsedBio, style: BioStyle) -> ParsedBio:
    """Parse one bio's sentences into `values` / `same_as` (once; later calls return it as is)."""
    if bio.read:
        return bio
    bio.read = True
    body = text[bio.body_start : bio.end].strip()
    parts = body.split(". ") if body else []
    for k, part in enumerate(parts):
        sentence = part if k == len(parts) - 1 else part + "."
        parsed = style.parse_sentence(sentence, bio.name if not style.first_person else "")
        if parsed is None:
            continue
        attribute, value, is_same = parsed
        if attribute in bio.values or attribute in bio.same_as:
            bio.conflicts.append(attribute)
        (bio.same_as if is_same else bio.values)[attribute] = value
    return bio


def find_bios(text: str, style: BioStyle) -> list[tuple[int, int, str]]:
    """(header start, body start, name) of every bio: one regex pass, nothing else."""
    return [(m.start(), m.end(), m.group("name")) for m in style.header_regex.finditer(text)]


def bio_at(text: str, headers: list[tuple[int, int, str]], n: int, style: BioStyle, read: bool = True) -> ParsedBio:
    """The n-th bio found by `find_bios`, with its label and (if `read`) its stated values."""
    start, body_start, name = headers[n]
    if n + 1 < len(headers):
        end = headers[n + 1][0]
    else:  # the last bio ends where the context's line ends: bios never span lines
        newline = text.find("\n", body_start)
        end = newline if newline >= 0 else len(text)
    label = None
    match = _LABEL_BEFORE.search(text, max(0, start - 12), start)  # "[12] " numbering (citation tasks)
    if match:
        start, label = match.start(), int(match.group(1))
    bio = ParsedBio(name, start, end, label, body_start=body_start)
    return read_bio(text, bio, style) if read else bio


def parse_bios(text: str, style: BioStyle, read: bool = True) -> list[ParsedBio]:
    """Every biography in `text`, in order; with `read`, also the values its sentences state."""
    headers = find_bios(text, style)
    return [bio_at(text, headers, n, style, read) for n in range(len(headers))]


def stated_ages(text: str, style: BioStyle) -> dict[str, int]:
    """The age every bio in `text` states, by name (bios that state none are left out)."""
    return {bio.name: int(bio.values["age"]) for bio in parse_bios(text, style) if "age" in bio.values}


def bio_texts(style: BioStyle, person: Person, sentences: list[tuple[str, str]]) -> list[str]:
    """The pieces of a bio in order: header, then its sentences (joined by spaces in the context)."""
    return [style.header.render(person.name)] + [s for _, s in sentences]
