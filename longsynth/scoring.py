"""Scoring a model's prediction for a row: the task's own metric, declared by its family.

The metrics here are the ones two or more families share; a family's own (HoloBench's row match,
LongBioBench's refusal and citation checks) live in its folder. Each metric maps (row, prediction)
to a score in [0, 1].
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from typing import Any

from .errors import DamagedOutput, SpecError
from .generators.registry import get_generator_class
from .row_memo import per_row
from .text.language import IDEOGRAPHS
from .tokenizers import certain_cuts, get_tokenizer


def contains(prediction: str, answer: str) -> float:
    """Case-insensitive containment of the answer (LongBioBench's and RULER's string match)."""
    return float(answer.strip().lower() in prediction.lower())


def all_in_order(prediction: str, answers: list[str]) -> float:
    """Every answer appears, in the given order (multi-retrieval and ranking)."""
    position = 0
    lowered = prediction.lower()
    for answer in answers:
        found = lowered.find(answer.strip().lower(), position)
        if found < 0:
            return 0.0
        position = found + len(answer.strip())
    return 1.0


def fraction(prediction: str, answers: list[str]) -> float:
    """RULER's multi-answer score: the share of answers that appear."""
    return sum(contains(prediction, a) for a in answers) / len(answers)


def last_integer(prediction: str, answer: str | int) -> float:
    """The last integer in the output equals the answer (arithmetic tasks)."""
    numbers = re.findall(r"-?\d+", prediction)
    return float(bool(numbers) and int(numbers[-1]) == int(answer))


def within_reply(row: dict[str, Any], prediction: str) -> str:
    """The prediction cut to the tokens the row reserves for the reply: what a model could have
    generated under the length contract. Containment metrics read only this, so an output that
    echoes the context cannot contain every answer."""
    reserve = int(row.get("reserve") or 0)
    if reserve <= 0 or len(prediction) <= reserve:  # a token holds at least one character
        return prediction
    tokenizer = get_tokenizer(row["tokenizer"])
    cut = _certain_cut(tokenizer, prediction, CHARS_A_TOKEN * reserve)
    if cut is not None:  # a long reply (an echo of the input): its first tokens, from a prefix alone
        ids = tokenizer.encode(prediction[:cut])
        if len(ids) > reserve:
            return tokenizer.decode(ids[:reserve])
    ids = tokenizer.encode(prediction)
    return prediction if len(ids) <= reserve else tokenizer.decode(ids[:reserve])


CHARS_A_TOKEN = 32  # a prefix this many characters a token long holds the tokens asked for, but rarely


def _certain_cut(tokenizer: Any, text: str, start: int) -> int | None:
    """The first offset from `start` (within 256 characters) where the encoding's pre-tokenizer
    certainly cuts (`certain_cuts`), so the text before it encodes to the whole text's first tokens;
    None if there is none, the text is no longer, or the tokenizer has no such rule."""
    found = certain_cuts(tokenizer, text, start, start + 256)
    return int(found[0]) if found is not None and len(found) else None


@functools.lru_cache(maxsize=4)
def _spaced_words(text: str) -> str:
    """The text's words, one space apart, with a space at each end (what `copies_input` searches)."""
    return " " + " ".join(text.split()) + " "


@functools.lru_cache(maxsize=4)
def _spaced_units(text: str) -> str:
    """The text's units (`_UNITS`) between NUL separators, as `copies_input` searches a Chinese reply."""
    return "\x00" + "\x00".join(_UNITS.findall(text)) + "\x00"


COPIED_WORDS = 20  # a reply repeating this many consecutive words of the input is an echo
# Chinese has no spaces: there each character is a unit, and an echo repeats this many. A needle
# sentence is about 25 characters, so a reply quoting one is not an echo; a question is 60 or more.
COPIED_CHARACTERS = 48
_UNITS = re.compile(rf"[{IDEOGRAPHS}]|[^\s{IDEOGRAPHS}]+")
_IDEOGRAPH = re.compile(rf"[{IDEOGRAPHS}]")


def copies_input(row: dict[str, Any], reply: str, words: int = COPIED_WORDS) -> bool:
    """Whether the reply repeats `words` consecutive words of the input (whitespace aside), or, in a
    reply with Chinese in it, `COPIED_CHARACTERS` consecutive units (a character, or a run of other
    text). A right answer quoting a needle or naming ten words never does; an echo of the prompt does."""
    if _IDEOGRAPH.search(reply):
        said, size, joiner, spaced = _UNITS.findall(reply), COPIED_CHARACTERS, "\x00", _spaced_units
    else:
        said, size, joiner, spaced = reply.split(), words, " ", _spaced_words
    if len(said) < size:  # (a short reply: the input is not read at all)
        return False
    text = spaced(row["input"])
    return any(f"{joiner}{joiner.join(said[k : k + size])}{joiner}" in text for k in range(len(said) - size + 1))


def reply_text(row: dict[str, Any], prediction: str) -> str:
    """What containment metrics read: the reply within its reserve (`within_reply`), or nothing if
    it echoes the input (`copies_input`): an echo of the context must not score."""
    reply = within_reply(row, prediction)
    return "" if copies_input(row, reply) else reply


_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_ANSWER_MARK = re.compile(r"answer\s*:", re.IGNORECASE)


def last_line(reply: str) -> str:
    lines = [line for line in reply.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def after_answer(reply: str) -> str:
    """The text after the last "Answer:" (any case), else the whole reply."""
    marks = list(_ANSWER_MARK.finditer(reply))
    return reply[marks[-1].end() :].strip() if marks else reply


def boxed(reply: str) -> str:
    """The last `\\boxed{...}`, else the last non-empty line."""
    found = _BOXED.findall(reply)
    return found[-1] if found else last_line(reply)


# How a task's final answer is taken out of a reply (`Task.answer`), before its metric compares.
ANSWER_RULES = {"whole": lambda reply: reply, "last_line": last_line, "after_answer": after_answer, "boxed": boxed}


_CONTROL = re.compile(r"[\x00-\x1f]")


def ruler_postprocess(prediction: str) -> str:
    """RULER's `postprocess_pred`: control characters become line breaks, the ends are stripped."""
    return _CONTROL.sub("\n", prediction.strip()).strip()


def ruler_string_match_all(row: dict[str, Any], prediction: str) -> float:
    """RULER's `string_match_all` for one row, on the raw reply: the share of references in it."""
    reply = ruler_postprocess(prediction).lower()
    references = list(row["answers"])
    return sum(1.0 if r.lower() in reply else 0.0 for r in references) / len(references)


def ruler_string_match_part(row: dict[str, Any], prediction: str) -> float:
    """RULER's `string_match_part` for one row, on the raw reply: 1 if any reference is in it."""
    reply = ruler_postprocess(prediction).lower()
    return max(1.0 if r.lower() in reply else 0.0 for r in row["answers"])


def anchor_score(row: dict[str, Any], prediction: str) -> float | None:
    """The row's score as its anchor computes it (RULER's metrics on the raw reply, with none of our
    policy), or None for a task with no anchor metric."""
    task = get_generator_class(row["generator"]).tasks.get(row["task"])
    return None if task is None or task.anchor is None else float(task.anchor(row, prediction))


def anchor_extra(row: dict[str, Any], prediction: str) -> float | None:
    """The second number the row's anchor reports apart (LongBioBench's citation accuracy), or None."""
    task = get_generator_class(row["generator"]).tasks.get(row["task"])
    return None if task is None or task.anchor_extra is None else float(task.anchor_extra[1](row, prediction))


def answers_in_order(row: dict[str, Any], prediction: str) -> float:
    """Task metric: every gold answer appears, in order."""
    return all_in_order(prediction, list(row["answers"]))


def share_of_answers(row: dict[str, Any], prediction: str) -> float:
    """Task metric: the share of gold answers that appear (RULER's `string_match_all`)."""
    return fraction(prediction, list(row["answers"]))


def integer_answer(row: dict[str, Any], prediction: str) -> float:
    """Task metric: the last integer of the prediction is the gold number."""
    return last_integer(prediction, row["answers"][0])


_WORD_CHAR = r"[0-9A-Za-z_\u00c0-\u024f-]"  # letters and digits of words written with spaces between


def whole_token(value: str) -> str:
    """A regex for `value` as a whole token: not inside a longer word or number at an end that is a
    letter or digit of a spaced script. Chinese has no spaces, so an end that is a Chinese character
    needs no boundary ("答案是古老灯塔。" names 古老灯塔), and a number after one is whole ("是7654321")."""
    left = rf"(?<!{_WORD_CHAR})" if re.match(_WORD_CHAR, value[0]) else ""
    right = rf"(?!{_WORD_CHAR})" if re.match(_WORD_CHAR, value[-1]) else ""
    return left + re.escape(value) + right


_IS_WORD_CHAR = re.compile(_WORD_CHAR).match
_WORD_RUN = re.compile(_WORD_CHAR + "+")
_ALL_WORD_CHARS = _WORD_RUN.fullmatch


def whole_token_spans(text: str, value: str) -> list[tuple[int, int]]:
    """Where `value` occurs in `text` as a whole token (`whole_token`'s matches, left to right, none
    overlapping), found by plain search: a regex per value cost a compile per value (a row places up
    to thousands of values, and `longsynth audit` scores every one of them in every baseline)."""
    check_left = _IS_WORD_CHAR(value[0]) is not None
    check_right = _IS_WORD_CHAR(value[-1]) is not None
    spans, size, at = [], len(value), text.find(value)
    while at >= 0:
        end = at + size
        if (not check_left or at == 0 or _IS_WORD_CHAR(text[at - 1]) is None) and (
            not check_right or end == len(text) or _IS_WORD_CHAR(text[end]) is None
        ):
            spans.append((at, end))
            at = text.find(value, end)
        else:
            at = text.find(value, at + 1)
    return spans


def _value_spans(reply: str, values: list[str]) -> dict[str, list[tuple[int, int]]]:
    """Each value's whole-token spans in the reply (lower case): 7654321 is not inside 17654321, and a
    value only inside a longer named value ("History" inside "Art History") is not named."""
    text = reply.lower()
    spans: dict[str, list[tuple[int, int]]] = {}
    runs: dict[str, list[tuple[int, int]]] | None = None
    for value in dict.fromkeys(v.lower() for v in values if v.strip()):
        if _ALL_WORD_CHARS(value):
            # A value of word characters only (a number, a UUID, a hyphened word) stands alone exactly
            # where it is a whole run of them: the reply's runs are found once, and each such value
            # is looked up, where a search per value read a reply that lists thousands of them (an
            # audit baseline's) once per value.
            if runs is None:
                runs = {}
                for match in _WORD_RUN.finditer(text):
                    runs.setdefault(match.group(), []).append(match.span())
            found = runs.get(value, [])
        else:
            found = whole_token_spans(text, value)
        if found:
            spans[value] = found
    # A span inside a longer one: by start, the longest first, a span is inside another exactly when an
    # earlier one ends at or after its end (two values never share a span: equal text is one value, and
    # one value's spans never overlap). One sort, where comparing every pair took seconds for a reply
    # that echoes a context of 2,000 needles.
    every = sorted((start, -end, value) for value, found in spans.items() for start, end in found)
    kept: dict[str, list[tuple[int, int]]] = {}
    reach = -1
    for start, minus_end, value in every:
        if reach < -minus_end:
            kept.setdefault(value, []).append((start, -minus_end))
        reach = max(reach, -minus_end)
    return {value: kept[value] for value in spans if value in kept}


def named_values(reply: str, values: list[str]) -> list[str]:
    """The values (lower case) a reply names, in the order it first names them (see `_value_spans`)."""
    kept = _value_spans(reply, values)
    return sorted(kept, key=lambda v: kept[v][0][0])


def final_order(reply: str, values: list[str]) -> list[str]:
    """The values a reply names, in the order it names them last: the order of its final answer, after
    any reasoning that named them in another order."""
    kept = _value_spans(reply, values)
    return sorted(kept, key=lambda v: kept[v][-1][0])


def items_score(answers: list[str], placed: list[str], reply: str, ordered: bool = False) -> float | None:
    """Over-generation costs (part of the one policy): against the values of the answers' kind the row
    placed, a single-answer reply that also names a distractor scores 0, and a multi-answer reply
    scores the F1 of the gold values against the placed values it names. Where the task asks for an
    order, a gold value counts only in its place: the k-th value of the reply's final order (each
    value where it is named last) must be the k-th answer, so a list of every value in any other order
    scores little (the longest common subsequence it once used gave a shuffled list of all ten of
    NeedleBench's box labels 0.3). None when the row placed nothing of the kind, or a single answer
    named no distractor: the task's metric decides."""
    if not placed or not answers:
        return None
    gold = list(dict.fromkeys(a.lower() for a in answers))
    values = [*placed, *answers]
    named = named_values(reply, values)
    if len(gold) == 1:
        return 0.0 if set(named) - set(gold) else None
    if ordered:
        order = final_order(reply, values)
        hits = sum(1 for k, value in enumerate(order[: len(gold)]) if value == gold[k])
    else:
        hits = len(set(named) & set(gold))
    if hits == 0:
        return 0.0
    precision, recall = hits / len(named), hits / len(gold)
    return 2 * precision * recall / (precision + recall)


@contextlib.contextmanager
def reading_row(row: dict[str, Any]) -> Iterator[None]:
    """A family's reading of a row's metadata (its needles, facts, labels, query) failing on a value
    it never writes (a shard edited by someone else and rehashed) is one line naming the row, not a
    traceback from deep inside the family: score and audit stop there, and validate lists the row."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise DamagedOutput(
            f"row {row.get('id')!r}: its metadata holds what its family does not read "
            f"({type(exc).__name__}: {exc}); longsynth validate lists such rows"
        ) from None


def score(row: dict[str, Any], prediction: str) -> float:
    """Score one prediction for a row of any evaluation family. One policy runs first, for every
    family: the reply is cut to the row's reserve and an echo of the input is nothing (`reply_text`),
    then the final answer is taken out as the task declares (`Task.answer`); the task's metric only
    compares. No family can skip it: the needle and longbio metrics once read the raw prediction, so
    echoing the input scored 1.0 there."""
    task = get_generator_class(row["generator"]).tasks.get(row["task"])
    if task is None:
        raise SpecError(f"row {row.get('id')!r} has task {row['task']!r}, which its family does not know")
    if task.metric is None:
        raise SpecError(f"task {row['task']!r} builds training data; it has no metric")
    rule = ANSWER_RULES.get(task.answer)
    if rule is None:
        raise SpecError(f"task {row['task']!r} declares answer={task.answer!r}; use one of {', '.join(ANSWER_RULES)}")
    with reading_row(row):
        reply = rule(reply_text(row, prediction))
        family = get_generator_class(row["generator"])
        placed = per_row(row, "placed_items", family.placed_items) if reply else []
        over = items_score(list(row["answers"]), placed, reply, task.ordered)
        return over if over is not None else task.metric(row, reply)
