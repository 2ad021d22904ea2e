"""Question-answer sets for RULER's `qa_1` (single hop, SQuAD's shape) and `qa_2` (two hops,
HotpotQA's shape): paragraphs, each counted once per process, and questions pointing at their gold
paragraphs and at the paragraphs RULER puts first among the distractors.

A user's set is read from .jsonl/.parquet or `hf:<dataset>`:

- SQuAD shape: `context`, `question`, `answers` (`{"text": [...]}` or a list), and optionally
  `title`; unanswerable questions (no answer) are skipped. As in RULER, the other paragraphs of the
  same article (same `title`) are the first distractors;
- HotpotQA shape: `question`, `answer`, `context` (`{"title": [...], "sentences": [[...]]}` or
  `[[title, [sentences]]]`) and `supporting_facts` (`{"title": [...]}` or `[[title, k]]`); the gold
  paragraphs are the supporting ones, and, as in RULER, the question's other paragraphs (HotpotQA's
  hard distractors) come first among the distractors. Each paragraph is written as RULER writes it,
  its title on a line of its own. Yes/no questions are skipped: their answer is in no paragraph, so
  the oracle could not see it.

Every paragraph of the set is a distractor for the other questions, as in RULER.

With no set given, a built-in one is made offline from fictional facts: towns (each with a founder,
a founding year, a province, a river and a trade) and their founders (a craft, a birthplace, a birth
year), each paragraph in one of several frames. A single-hop question asks one of the town's five
facts; a two-hop question asks one of its founder's three, which needs the town's paragraph (who
founded it) and the founder's (which never names the town). Each fact is asked in one of two forms.
Entity k depends only on k (names are drawn without reuse in order), so a sample that draws from
the first entities never depends on how many a longer length of the same spec made. Thousands of
entities (at least 4,096) give tens of thousands of questions; a build draws them without
replacement within a cell (`question_for`).
"""

from __future__ import annotations

import functools
import random
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ... import seeding
from ...cache import cached_counts, cached_json, code_key
from ...errors import CorpusError
from ...seeding import derive_seed, permuted
from ...text import vocabulary
from ...text.sources import iter_records
from ...text.units import normalize
from ...text.vocabulary import name_pools
from ...tokenizers import get_tokenizer

TRADES = (
    "amber", "salt", "wool", "timber", "copper", "glassware", "silk", "cider", "paper", "clockwork", "pottery",
    "rope", "honey", "tin", "barley", "leather", "indigo", "slate", "lace", "pewter",
)  # fmt: skip
CRAFTS = (
    "shipwright", "cartographer", "stonemason", "brewer", "surveyor", "weaver", "printer", "glassblower",
    "apothecary", "bell founder", "miller", "bookbinder",
)  # fmt: skip
TOWN_SUFFIXES = (
    "ton", "ford", "bury", "wick", "field", "haven", "mouth", "port", "stead", "ley", "moor", "dale", "borough",
    "ham", "by", "thorpe", "combe", "minster", "bridge", "wood", "well", "croft", "gate", "hurst",
)  # fmt: skip
TOWN_PREFIXES = ("", "", "", "North ", "South ", "East ", "West ", "Upper ", "Lower ", "New ", "Old ", "Great ")
PROVINCE_FORMS = ("{}shire", "{} Vale", "{}land", "{} March")
# Frames of a town's paragraph and of its founder's; each states every fact once.
TOWN_FRAMES = (
    "{town} is a town in the province of {province}, on the banks of the {river} River. It was founded in {year} "
    "by {founder}, and for most of its history it has lived from the {trade} trade.",
    "Founded by {founder} in {year}, {town} grew up along the {river} River in the province of {province}. "
    "Its people have long made their living from the {trade} trade.",
    "The {trade} trade has shaped {town} ever since {founder} founded it in {year}. The town lies in the province "
    "of {province}, where the {river} River leaves the hills.",
    "In {year}, {founder} laid out the first streets of {town}, a town of the province of {province} on the "
    "{river} River, known across the region for its {trade} trade.",
)
FOUNDER_FRAMES = (
    "{founder} was {article} {craft} who was born in {birthplace} in {born}. Later in life {founder} left "
    "{birthplace} and is remembered for founding a town.",
    "Born in {birthplace} in {born}, {founder} trained as {article} {craft} before setting out to found a new town.",
    "{founder}, {article} {craft} by training, came into the world in {birthplace} in {born} and is remembered as "
    "the founder of a town.",
)
# (fact, the two forms of its question). Single hop: the town's facts; two hops: its founder's.
TOWN_QUESTIONS = (
    ("founder", ("Who founded the town of {town}?", "Which person founded {town}?")),
    ("province", ("In which province is the town of {town}?", "{town} lies in which province?")),
    ("trade", ("Which trade has the town of {town} lived from?", "What trade is {town} known for?")),
    ("year", ("In what year was the town of {town} founded?", "When was {town} founded? Give the year.")),
    ("river", ("On which river does the town of {town} lie?", "Which river runs by {town}?")),
)
FOUNDER_QUESTIONS = (
    ("birthplace", ("In which town was the founder of {town} born?", "Where was the person who founded {town} born?")),
    ("craft", ("What was the founder of {town} trained as?", "What craft did the person who founded {town} practise?")),
    ("born", ("In what year was the founder of {town} born?", "When was the person who founded {town} born?")),
)
MIN_ENTITIES = 4096
MAX_ENTITIES = 12_000  # towns and birthplaces (two place names each) stay inside the 28,000 cores


def unit_text(paragraph: str) -> str:
    """A paragraph as it is counted: from its first word (the line break after its label merges with
    the label's colon, ":\n", and is counted with the label), with the blank line that follows it. A
    paragraph ending in punctuation merges with that line break into one token (".\n\n"), so the
    break is counted with the paragraph before it, and the next label with nothing before it."""
    return paragraph + "\n\n"


@dataclass(frozen=True)
class Question:
    text: str
    answers: tuple[str, ...]
    gold: tuple[int, ...]  # paragraph indices, in the order the hops use them
    related: tuple[int, ...] = ()  # paragraphs RULER puts first among the distractors (same article, own set)
    fact: str = ""  # built-in set: the asked fact ("founder", "year", ...), for the distractors of its kind
    subject: str = ""  # built-in set: the town asked about, stated in no distractor


@dataclass
class QASet:
    paragraphs: list[str]
    tokens: np.ndarray  # each paragraph's tokens, counted as `unit_text` says
    questions: list[Question]
    skipped: int = 0  # questions of a user's set that could not be asked (no answer, yes/no)
    # Built-in set: each paragraph's facts by name (a town's or a founder's), so a row can record the
    # values of the asked fact that its other documents state (the distractors of the answer's kind).
    facts: dict[str, dict[str, str]] = field(default_factory=dict)

    def reach(self, target: int) -> tuple[int, int]:
        """How many paragraphs and questions a sample of `target` tokens draws from: all of a user's
        set; for the built-in set, the first entities (a function of the target alone)."""
        return len(self.paragraphs), len(self.questions)


def builtin_entities_for(target: int) -> int:
    """Towns for a `target`-token sample: enough to draw twice its length as distractors (paragraphs
    hold about 45 tokens, two per town), and never fewer than MIN_ENTITIES, so that questions are
    many: a function of the target alone."""
    return min(MAX_ENTITIES, max(MIN_ENTITIES, target // 40 + 64))


@dataclass
class BuiltinSet(QASet):
    questions_per_entity: int = 1

    def reach(self, target: int) -> tuple[int, int]:
        entities = min(len(self.paragraphs) // 2, builtin_entities_for(target))
        return 2 * entities, entities * self.questions_per_entity


def question_for(qa: QASet, questions: int, seed: int, task: str, length: int, depth: float, index: int) -> Question:
    """An entry of a seeded permutation of the first `questions`, one per (build seed, task, length):
    sample `index` at `depth` takes entry `index * 101 + round(depth)`, so the rows of one length draw
    without replacement while samples x 101 stay within the pool (a 100-sample grid of whole-number
    depths on the 20,480 questions of qa_1), and each length draws independently of the others."""
    position = (index * 101 + round(depth)) % questions
    return qa.questions[permuted(position, questions, derive_seed("qa-order", seed, task, length))]


def _unique(rng: random.Random, make, taken: set[str], key=lambda name: name) -> str:
    for _ in range(10_000):
        name = make(rng)
        if key(name) not in taken:
            taken.add(key(name))
            return name
    raise CorpusError("the built-in QA set ran out of distinct names")  # unreachable within MAX_ENTITIES


def _place(rng: random.Random, roots: list[str]) -> str:
    return f"{rng.choice(TOWN_PREFIXES)}{rng.choice(roots)}{rng.choice(TOWN_SUFFIXES)}"


def _core(place: str) -> str:
    """A place name without its prefix: "Lemoor" and "Old Lemoor" share one, so only one of them exists
    (a town asked about is never inside another place's name)."""
    return place.rsplit(" ", 1)[-1]


@functools.lru_cache(maxsize=4)
def builtin_set(tokenizer_name: str, entities: int, hops: int) -> BuiltinSet:
    """The built-in set with `entities` towns: entity k is drawn from its own seed (prefix-stable).

    Made once per machine and read from the cache after that: drawing 4,096 towns and their founders
    took 0.11 s of every qa build (a sixth of one encode of 100 samples at 32K). The key holds the
    sha256 of the code that draws them (this module, the seeding and the name lists), Faker's version
    (the names) and Python's (`random`'s draws), so changed code never reads an old set."""
    from importlib.metadata import version

    code = code_key(sys.modules[__name__], seeding, vocabulary, extra=f"faker {version('faker')}")
    key = {"entities": entities, "hops": hops, "tokenizer": tokenizer_name, "code": code}
    return cached_json("qa-builtin", key, lambda: _builtin_data(tokenizer_name, entities, hops), _from_data)


def _builtin_data(tokenizer_name: str, entities: int, hops: int) -> dict[str, Any]:
    made = _make_builtin_set(tokenizer_name, entities, hops)
    return {
        "paragraphs": made.paragraphs,
        "tokens": made.tokens.tolist(),
        "questions": [[q.text, list(q.answers), list(q.gold), q.fact, q.subject] for q in made.questions],
        "facts": [made.facts[p] for p in made.paragraphs],
        "per_entity": made.questions_per_entity,
    }


def _from_data(data: dict[str, Any]) -> BuiltinSet:
    paragraphs, facts = data["paragraphs"], data["facts"]
    if len(facts) != len(paragraphs) or len(data["tokens"]) != len(paragraphs):
        raise ValueError("a damaged built-in QA set")
    questions = [Question(t, tuple(a), tuple(g), fact=f, subject=s) for t, a, g, f, s in data["questions"]]
    return BuiltinSet(
        list(paragraphs),
        np.asarray(data["tokens"], dtype=np.int64),
        questions,
        facts=dict(zip(paragraphs, facts, strict=True)),
        questions_per_entity=int(data["per_entity"]),
    )


def _make_builtin_set(tokenizer_name: str, entities: int, hops: int) -> BuiltinSet:
    firsts, lasts = name_pools(100_000, 100_000)
    # Places, provinces and rivers from one half of the surnames (and the first names, for places), founders
    # from the other half: a river asked about is never a founder's surname in the same context.
    roots, surnames = sorted(lasts)[0::2], sorted(lasts)[1::2]
    place_roots = sorted({*roots, *firsts})
    paragraphs: list[str] = []
    questions: list[Question] = []
    facts: dict[str, dict[str, str]] = {}
    places: set[str] = set()
    people: set[str] = set()
    asked = TOWN_QUESTIONS if hops == 1 else FOUNDER_QUESTIONS
    for k in range(entities):
        rng = random.Random(derive_seed("builtin-qa-2", k))
        town = _unique(rng, lambda r: _place(r, place_roots), places, _core)
        birthplace = _unique(rng, lambda r: _place(r, place_roots), places, _core)
        founder = _unique(rng, lambda r: f"{r.choice(firsts)} {r.choice(surnames)}", people)
        year = rng.randrange(1450, 1900)
        craft = rng.choice(CRAFTS)
        town_facts = {
            "town": town,
            "founder": founder,
            "province": rng.choice(PROVINCE_FORMS).format(rng.choice(roots)),
            "trade": rng.choice(TRADES),
            "year": str(year),
            "river": rng.choice(roots),
        }
        founder_facts = {
            "founder": founder,
            "birthplace": birthplace,
            "craft": craft,
            "born": str(rng.randrange(year - 60, year - 20)),
            "article": "an" if craft[0] in "aeiou" else "a",
        }
        town_paragraph = rng.choice(TOWN_FRAMES).format(**town_facts)
        founder_paragraph = rng.choice(FOUNDER_FRAMES).format(**founder_facts)
        t = len(paragraphs)
        paragraphs += [town_paragraph, founder_paragraph]
        facts[town_paragraph] = town_facts
        facts[founder_paragraph] = founder_facts
        gold = (t,) if hops == 1 else (t, t + 1)
        for fact, forms in asked:
            text = rng.choice(forms).format(town=town)
            answer = town_facts[fact] if hops == 1 else founder_facts[fact]
            questions.append(Question(text, (answer,), gold, fact=fact, subject=town))
    counts = get_tokenizer(tokenizer_name).count_many([unit_text(p) for p in paragraphs])  # (the set is cached whole)
    return BuiltinSet(
        paragraphs, np.asarray(counts, dtype=np.int64), questions, facts=facts, questions_per_entity=len(asked)
    )


def _texts(value) -> list[str]:
    if isinstance(value, dict):
        value = value.get("text", [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in value or []]


def _hotpot_paragraphs(record: dict, where: str) -> tuple[list[tuple[str, str]], set[str]]:
    context, facts = record.get("context"), record.get("supporting_facts")
    if isinstance(context, dict):
        pairs = list(zip(context.get("title", []), context.get("sentences", []), strict=False))
    elif isinstance(context, list):
        pairs = [(c[0], c[1]) for c in context if isinstance(c, (list, tuple)) and len(c) == 2]
    else:
        raise CorpusError(f"{where}: 'context' must hold titles and sentences (HotpotQA's shape)")
    if isinstance(facts, dict):
        titles = set(facts.get("title", []))
    else:
        titles = {f[0] for f in facts or [] if isinstance(f, (list, tuple)) and f}
    # RULER writes a HotpotQA paragraph as its title, a line break, then its sentences.
    paragraphs = [
        (str(t), f"{normalize(str(t))}\n{normalize(''.join(map(str, s)) if not isinstance(s, str) else s)}")
        for t, s in pairs
    ]
    return paragraphs, titles


@functools.lru_cache(maxsize=4)
def user_set(tokenizer_name: str, data: str, hops: int, config: str | None, split: str, identity: str) -> QASet:
    """A user's SQuAD-shaped (hops 1) or HotpotQA-shaped (hops 2) set; `identity` keys the cache."""
    index: dict[str, int] = {}
    paragraphs: list[str] = []
    questions: list[Question] = []
    articles: dict[str, list[int]] = {}  # SQuAD: an article's paragraphs, by title
    skipped = 0

    def paragraph(text: str) -> int:
        if text not in index:
            index[text] = len(paragraphs)
            paragraphs.append(text)
        return index[text]

    for _, where, record in iter_records(data, config, split):
        if not isinstance(record, dict) or not isinstance(record.get("question"), str):
            raise CorpusError(f"{where}: a QA record needs a 'question' string")
        question = normalize(record["question"])
        if hops == 1:
            if not isinstance(record.get("context"), str):
                raise CorpusError(f"{where}: a SQuAD-shaped record needs a 'context' string")
            answers = tuple(dict.fromkeys(normalize(a) for a in _texts(record.get("answers")) if a.strip()))
            gold = (paragraph(normalize(record["context"])),)
            title = record.get("title")
            article = articles.setdefault(str(title), []) if isinstance(title, str) else []
            if gold[0] not in article:
                article.append(gold[0])
            related = article  # filled as the article's paragraphs are read; frozen below
        else:
            pairs, titles = _hotpot_paragraphs(record, where)
            answers = tuple(a for a in [normalize(str(record.get("answer", "")))] if a)
            gold = tuple(paragraph(text) for title, text in pairs if title in titles)
            related = [paragraph(text) for _, text in pairs]
        if not answers or not gold or not any(a in paragraphs[g] for a in answers for g in gold):
            skipped += 1
            continue
        questions.append(Question(question, answers, gold, related=related))  # type: ignore[arg-type]
    if not questions:
        raise CorpusError(f"QA data {data!r} holds no question whose answer is in its gold paragraph(s)")
    # The paragraphs RULER puts first among a question's distractors: the rest of its SQuAD article, or
    # the rest of its own HotpotQA paragraphs.
    questions = [
        Question(q.text, q.answers, q.gold, tuple(p for p in dict.fromkeys(q.related) if p not in q.gold))
        for q in questions
    ]
    counts = cached_counts(
        "qa-tokens", tokenizer_name, [unit_text(p) for p in paragraphs], get_tokenizer(tokenizer_name).count_many
    )
    return QASet(paragraphs, np.asarray(counts, dtype=np.int64), questions, skipped)
