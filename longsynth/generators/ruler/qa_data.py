"""Question-answer sets for RULER's `qa_1` (single hop, SQuAD's shape) and `qa_2` (two hops,
HotpotQA's shape): paragraphs, each counted once per process, and questions pointing at their gold
paragraphs.

A user's set is read from .jsonl/.parquet or `hf:<dataset>`:

- SQuAD shape: `context`, `question`, `answers` (`{"text": [...]}` or a list); unanswerable
  questions (no answer) are skipped;
- HotpotQA shape: `question`, `answer`, `context` (`{"title": [...], "sentences": [[...]]}` or
  `[[title, [sentences]]]`) and `supporting_facts` (`{"title": [...]}` or `[[title, k]]`); the gold
  paragraphs are the supporting ones. Yes/no questions are skipped: their answer is in no paragraph,
  so the oracle could not see it.

Every paragraph of the set is a distractor for the other questions, as in RULER.

With no set given, a built-in one is made offline from fictional facts: towns with a founder, a
founding year, a province and a trade, and the founders' own paragraphs (birthplace, craft). A
single-hop question asks one fact of a town; a two-hop question asks where its founder was born,
which needs the town's paragraph and the founder's. Facts are drawn so that no two towns share a
founder, and entity k depends only on k, so a sample that draws from the first entities never
depends on how many a longer length of the same spec made.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import numpy as np
from faker import Faker

from ...errors import CorpusError
from ...seeding import derive_seed
from ...text.sources import iter_records
from ...text.units import normalize
from ...tokenizers import get_tokenizer

TRADES = (
    "amber", "salt", "wool", "timber", "copper", "glassware", "silk", "cider", "paper", "clockwork", "pottery",
    "rope", "honey", "tin", "barley", "leather", "indigo", "slate", "lace", "pewter",
)  # fmt: skip
CRAFTS = (
    "shipwright", "cartographer", "stonemason", "brewer", "surveyor", "weaver", "printer", "glassblower",
    "apothecary", "bell founder", "miller", "bookbinder",
)  # fmt: skip


def unit_text(paragraph: str) -> str:
    """A paragraph as it is counted: after its label's space, with the blank line that follows it. A
    paragraph ending in punctuation merges with that line break into one token (".\n\n"), so the
    break is counted with the paragraph before it, and the next label with nothing before it."""
    return " " + paragraph + "\n\n"


@dataclass(frozen=True)
class Question:
    text: str
    answers: tuple[str, ...]
    gold: tuple[int, ...]  # paragraph indices, in the order the hops use them


@dataclass
class QASet:
    paragraphs: list[str]
    tokens: np.ndarray  # each paragraph's tokens, counted as `unit_text` says
    questions: list[Question]
    skipped: int = 0  # questions of a user's set that could not be asked (no answer, yes/no)

    def reach(self, target: int) -> tuple[int, int]:
        """How many paragraphs and questions a sample of `target` tokens draws from: all of a user's
        set; for the built-in set, the first entities holding about twice the target."""
        return len(self.paragraphs), len(self.questions)


def builtin_entities_for(target: int) -> int:
    """Towns enough for a `target`-token sample to draw twice its length (paragraphs hold about 40
    tokens, two per town): a function of the target alone."""
    return target // 40 + 64


@dataclass
class BuiltinSet(QASet):
    def reach(self, target: int) -> tuple[int, int]:
        entities = min(len(self.questions), builtin_entities_for(target))
        return 2 * entities, entities


def _town(fake: Faker, taken: set[str]) -> tuple[str, str]:
    while True:
        name = fake.city()
        if name not in taken:
            taken.add(name)
            return name, f"{fake.last_name()}shire"


@functools.lru_cache(maxsize=4)
def builtin_set(tokenizer_name: str, entities: int, hops: int) -> BuiltinSet:
    """The built-in set with `entities` towns: entity k is drawn from its own seed (prefix-stable)."""
    paragraphs: list[str] = []
    questions: list[Question] = []
    towns: set[str] = set()
    people: set[str] = set()
    fake = Faker("en_US")
    for k in range(entities):
        rng = random.Random(derive_seed("builtin-qa", k))
        fake.seed_instance(derive_seed("builtin-qa-names", k))
        town, province = _town(fake, towns)
        while (founder := fake.name()) in people:
            pass
        people.add(founder)
        birthplace = _town(fake, towns)[0]
        year, trade, craft = rng.randrange(1450, 1900), rng.choice(TRADES), rng.choice(CRAFTS)
        town_paragraph = (
            f"{town} is a town in the province of {province}. It was founded in {year} by {founder}, "
            f"and for most of its history it has lived from the {trade} trade."
        )
        born = rng.randrange(year - 60, year - 20)
        person_paragraph = (
            f"{founder} was {'an' if craft[0] in 'aeiou' else 'a'} {craft} who was born in {birthplace} in {born}. "
            f"Later in life {founder} left {birthplace} and is remembered for founding a town."
        )
        t = len(paragraphs)
        paragraphs += [town_paragraph, person_paragraph]
        if hops == 2:
            questions.append(Question(f"In which town was the founder of {town} born?", (birthplace,), (t, t + 1)))
        else:
            asked = rng.randrange(3)
            text, answer = [
                (f"Who founded the town of {town}?", founder),
                (f"In which province is the town of {town}?", province),
                (f"Which trade has the town of {town} lived from?", trade),
            ][asked]
            questions.append(Question(text, (answer,), (t,)))
    counts = get_tokenizer(tokenizer_name).count_many([unit_text(p) for p in paragraphs])
    return BuiltinSet(paragraphs, np.asarray(counts, dtype=np.int64), questions)


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
    paragraphs = [
        (str(t), normalize(f"{t}: {''.join(map(str, s)) if not isinstance(s, str) else s}")) for t, s in pairs
    ]
    return paragraphs, titles


@functools.lru_cache(maxsize=4)
def user_set(tokenizer_name: str, data: str, hops: int, config: str | None, split: str, identity: str) -> QASet:
    """A user's SQuAD-shaped (hops 1) or HotpotQA-shaped (hops 2) set; `identity` keys the cache."""
    index: dict[str, int] = {}
    paragraphs: list[str] = []
    questions: list[Question] = []
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
        else:
            pairs, titles = _hotpot_paragraphs(record, where)
            answers = tuple(a for a in [normalize(str(record.get("answer", "")))] if a)
            gold = tuple(paragraph(text) for title, text in pairs if title in titles)
            for _, text in pairs:
                paragraph(text)
        if not answers or not gold or not any(a in paragraphs[g] for a in answers for g in gold):
            skipped += 1
            continue
        questions.append(Question(question, answers, gold))
    if not questions:
        raise CorpusError(f"QA data {data!r} holds no question whose answer is in its gold paragraph(s)")
    counts = get_tokenizer(tokenizer_name).count_many([unit_text(p) for p in paragraphs])
    return QASet(paragraphs, np.asarray(counts, dtype=np.int64), questions, skipped)
