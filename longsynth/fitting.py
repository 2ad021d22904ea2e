"""The fitter: pack filler units and inserted items into an exact token budget.

Every family uses this one module. It works on prefix sums of unit token
counts (each unit tokenized once per process), so fitting a 128K context
costs a binary search, not a tokenization. Items (needles, relevant bios,
rows) go at the unit boundary nearest their requested depth. The final gap
is closed with whole units first, then words of one more unit; text is
never cut inside a word.

The prediction is exact for space-led units under tiktoken; the two places
where the context meets the prompt template are measured with small window
encodes. Where units are numbered (labels sized by reading order) or whole
units meet with merges, the assembled prediction can exceed the fill's count
by a few tokens; the fitter re-aims by that excess (a few fits at most), and
the sample's one full encode (the length validator's) has the last word:
`budget_adjust` lets the caller re-fit in the rare case it disagrees, and a
draw that still does not fit is retried with the next seed, never an abort.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import BudgetError, CorpusError
from .text.units import SEPARATOR, count_units
from .tokenizers import Tokenizer

_WINDOW = 48  # characters each side of a junction whose merge we measure
MAX_FITS = 6  # fits of one draw, each aiming lower by what the last one missed by


@dataclass
class Insert:
    """An item to place at a depth (percent of context tokens before it)."""

    text: str
    depth: float
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class Placed:
    """Where an insert ended up: char span in the prompt, its filler neighbours' spans and the
    spans of other inserts sharing its boundary (they push it off its depth by their size)."""

    insert: Insert
    char_start: int
    char_end: int
    neighbours: list[tuple[int, int]]
    cluster: list[tuple[int, int]] = field(default_factory=list)  # the whole run of items at its boundary


LABEL_FORMAT = "[{n}]"  # a unit's number in reading order, written before it (citation tasks)
LABEL_REGEX = re.compile(r"\[(\d+)\]")  # reads LABEL_FORMAT back; group 1 is the number


class Labeler:
    """Numbers every unit of the context in reading order ("[3] ..."), for citation tasks.

    Labels depend on where items land, so the fitter budgets them from the
    label sizes (cached per number) and applies them once the order is known.
    """

    def __init__(
        self, tokenizer: Tokenizer, template: str = LABEL_FORMAT, separator: str = SEPARATOR, joiner: str = SEPARATOR
    ):
        """`separator` is the text between units in the context ("\n\n" between RULER's documents):
        a label is counted with it. `joiner` is the text between a label and its unit: a space (the
        default) is counted with the unit, since it merges with the unit's first word (" The"); a line
        break (after RULER's "Document k:") is counted with the label, since it merges with the colon
        (":\n" is one token), and the unit is counted from its first word."""
        self.tokenizer = tokenizer
        self.template = template
        self.separator = separator
        self.joiner = joiner
        self._counted_joiner = joiner if joiner.strip(" ") else ""
        self._key = (tokenizer.name, template, separator, self._counted_joiner)

    def label(self, n: int) -> str:
        return self.template.format(n=n)

    def text(self, n: int, piece: str) -> str:
        return f"{self.label(n)}{self.joiner}{piece}"

    def prefixes(self, upto: int) -> list[str]:
        """Each number's label with the joiner after it, indexed by number (entry 0 unused)."""
        return label_texts(self.template, upto, self.joiner)

    def tokens(self, n: int) -> int:
        return int(self.token_array(n)[n])

    def token_array(self, upto: int) -> np.ndarray:
        """Label sizes indexed by number (entry 0 unused), computed once per number and process (a
        RULER word list numbers tens of thousands of entries in every sample)."""
        sizes = _LABEL_SIZES.get(self._key, _NO_LABELS)
        have = len(sizes)
        if upto >= have:
            labels = [self.separator + self.label(n) + self._counted_joiner for n in range(have, _grown(upto))]
            sizes = np.concatenate([sizes, np.asarray(self.tokenizer.count_many(labels), dtype=np.int64)])
            _LABEL_SIZES[self._key] = sizes
        return sizes


_NO_LABELS = np.zeros(1, dtype=np.int64)
_LABEL_SIZES: dict[tuple[str, str, str, str], np.ndarray] = {}  # (tokenizer, template, separator, joiner) -> sizes


def _grown(upto: int) -> int:
    """How far a label cache grows to hold number `upto`: a quarter beyond it (doubling made a 32K cwe
    list count and keep 32,000 labels where it numbers 12,000)."""
    return upto + upto // 4 + 16


_LABEL_TEXTS: dict[tuple[str, str], list[str]] = {}  # (template, text after) -> labels by number
_LABEL_LINES: dict[tuple[str, str], tuple[str, np.ndarray]] = {}  # (template, joiner) -> (line, prefix ends)


def label_line(template: str, count: int, joiner: str = " ") -> str:
    """Labels 1..count of a template joined by `joiner` ("1. 2. 3."): a slice of one cached line per
    template, for checking a numbered list read back (a list of label strings held 0.6 MB a process;
    making the labels per row cost 3 ms)."""
    line, ends = _LABEL_LINES.get((template, joiner), ("", np.zeros(1, dtype=np.int64)))
    if count >= len(ends):
        labels = [template.format(n=n) for n in range(1, _grown(count) + 1)]
        line = joiner.join(labels)
        ends = np.concatenate([[0], np.cumsum([len(label) + len(joiner) for label in labels]) - len(joiner)])
        _LABEL_LINES[(template, joiner)] = (line, ends)
    return line[: int(ends[count])]


def label_texts(template: str, upto: int, after: str = "") -> list[str]:
    """Labels 0..upto (at least) of a template, each followed by `after`, indexed by number (entry 0
    empty); made once per process and number, since a RULER word list numbers tens of thousands of
    entries in every sample."""
    made = _LABEL_TEXTS.setdefault((template, after), [""])
    if upto >= len(made):
        made.extend(template.format(n=n) + after for n in range(len(made), _grown(upto)))
    return made


@dataclass
class Placements:
    """Where every insert ended up, one array entry per insert (in the order they were given).

    Spans are character offsets in the prompt. `before` and `after` are the filler units next to
    the insert's boundary (-1 where there is none); `run` is the span of all inserts sharing that
    boundary when there are several (-1 otherwise): they push each other off their depths by their
    size. Arrays, because a holobench context places hundreds of rows.
    """

    start: np.ndarray
    end: np.ndarray
    before: np.ndarray  # shape (n, 2)
    after: np.ndarray  # shape (n, 2)
    run: np.ndarray  # shape (n, 2)

    def neighbours(self, n: int) -> list[tuple[int, int]]:
        return [tuple(int(x) for x in span) for span in (self.before[n], self.after[n]) if span[0] >= 0]

    def cluster(self, n: int) -> list[tuple[int, int]]:
        return [(int(self.run[n, 0]), int(self.run[n, 1]))] if self.run[n, 0] >= 0 else []


@dataclass
class FittedPrompt:
    text: str
    context_start: int
    context_end: int
    inserts: list[Insert]
    placements: Placements
    predicted_length: int
    filler_units: int
    partial_unit: bool
    # Where the input sits in `text` when `text` is a whole prompt (chat template and answer prefix
    # around it); None: `text` is the input.
    input_span: tuple[int, int] | None = None

    @property
    def placed(self) -> list[Placed]:
        """The placements as one object per insert (convenient where there are few)."""
        p = self.placements
        return [
            Placed(insert, int(p.start[n]), int(p.end[n]), p.neighbours(n), p.cluster(n))
            for n, insert in enumerate(self.inserts)
        ]


def length_tolerance(target: int, override: int | None = None) -> int:
    """How far below the target a sample may fall (the length contract: max(16, 0.2 %))."""
    if override is not None:
        return int(override)
    return max(16, int(0.002 * target))


def _junction(tokenizer: Tokenizer, left: str, right: str) -> int:
    """Tokens gained (negative: lost) by joining `left` and `right` with no space."""
    if not left or not right:
        return 0
    a, b = left[-_WINDOW:], right[:_WINDOW]
    return tokenizer.count(a + b) - tokenizer.count(a) - tokenizer.count(b)


def _word_prefix(tokenizer: Tokenizer, text: str, max_tokens: int, separator: str = SEPARATOR) -> tuple[str, int]:
    """The longest prefix of `text` ending at a word boundary whose space-led count fits `max_tokens`.

    Word boundaries are spaces and hyphens, so a long hyphenated token (a UUID,
    a compound) can still be cut between its parts, never inside a character.
    """
    cuts = [m.start() for m in re.finditer(r" |(?<=-)", text) if m.start() > 0]
    return _longest_fitting(tokenizer, cuts, lambda end: text[:end].rstrip(), max_tokens, separator)


def _character_prefix(tokenizer: Tokenizer, text: str, max_tokens: int, separator: str = SEPARATOR) -> tuple[str, int]:
    """The longest prefix of `text` (cut between any two characters) whose space-led count fits
    `max_tokens`: for a unit with no word boundary where one is needed (a base64 blob, a line of
    digits), which `_word_prefix` cannot cut at all. Only its first (max_tokens + 1) x 128 characters
    are searched (a cl100k or o200k token is at most 128 bytes, so they hold more tokens than fit; with
    another tokenizer the prefix found fits, if perhaps not the longest), so a blob of megabytes costs
    what a short text does."""
    window = text[: (max_tokens + 1) * 128]
    return _longest_fitting(tokenizer, range(1, len(window) + 1), lambda end: window[:end], max_tokens, separator)


def _longest_fitting(
    tokenizer: Tokenizer, cuts: Sequence[int], prefix: Callable[[int], str], max_tokens: int, separator: str
) -> tuple[str, int]:
    """(the prefix, its space-led count) at the last of the ascending `cuts` whose count fits
    `max_tokens`, by binary search (counts grow with the cut); ("", 0) when none fits."""
    lo, hi, best = 0, len(cuts) - 1, ("", 0)
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = prefix(cuts[mid])
        tokens = tokenizer.count(separator + candidate)
        if tokens <= max_tokens:
            best, lo = (candidate, tokens), mid + 1
        else:
            hi = mid - 1
    return best


def _fill_whole_units(filler_texts, filler_tokens, whole, texts, tokens, gap, tolerance):
    """Close the gap with whole units: add later units that still fit (skipping the rest), and if the
    gap is still wider than the tolerance, swap one of the last units for a later one of a better size."""
    window = range(whole, min(len(filler_texts), whole + 4096))
    used = []
    # The gap only shrinks, so only units that fit the first gap can ever fit: visit those alone.
    sizes_in_window = np.asarray(filler_tokens[window.start : window.stop], dtype=np.int64)
    for j in (window.start + np.flatnonzero(sizes_in_window <= gap)).tolist() if gap > 0 else ():
        if gap <= 0:
            break
        if filler_tokens[j] <= gap:
            used.append(j)
            gap -= int(filler_tokens[j])
    if gap > tolerance:
        sizes = sizes_in_window
        free = np.ones(len(sizes), dtype=bool)
        free[[j - window.start for j in used]] = False
        # Swap one of the last units for one later unit, or failing that for two (units of a
        # similar size, such as table rows, can leave a gap no single unit closes).
        for take in (1, 2):
            swapped = False
            for r in range(len(tokens) - 1, max(-1, len(tokens) - 17), -1):
                room = gap + int(tokens[r])
                picks = _units_within(sizes, free, room - tolerance, room, take)
                if picks:
                    texts = texts[:r] + texts[r + 1 :]
                    tokens = np.delete(tokens, r)
                    used += [window.start + k for k in picks]
                    gap = room - sum(int(sizes[k]) for k in picks)
                    swapped = True
                    break
            if swapped:
                break
    if gap > tolerance:
        texts, tokens, used, gap = _exchange_units(texts, tokens, used, sizes_in_window, window.start, gap, tolerance)
    used.sort()
    texts = texts + [filler_texts[j] for j in used]
    tokens = np.concatenate([tokens, np.asarray([filler_tokens[j] for j in used], dtype=np.int64)])
    return texts, tokens, gap


def _exchange_units(texts, tokens, used, sizes, offset, gap, tolerance, last=32, most=6):
    """Close a gap that no one- or two-unit swap closes: units of nearly one size (table rows,
    distractor needles) can only reach some totals. Remove k of the last units and add k to k + 2
    later ones, with k up to `most`, so the net gain lands in [gap - tolerance, gap]. Sizes are sorted
    once, so each k is a binary search over sums of consecutive sorted units."""
    free = np.ones(len(sizes), dtype=bool)
    free[[j - offset for j in used]] = False
    adds = np.flatnonzero(free)
    add_order = adds[np.argsort(sizes[adds], kind="stable")]
    add_sums = np.concatenate([[0], np.cumsum(sizes[add_order])])
    first = max(0, len(tokens) - last)
    removable = np.arange(first, len(tokens))
    remove_order = removable[np.argsort(-np.asarray(tokens)[removable], kind="stable")]
    remove_sums = np.concatenate([[0], np.cumsum(np.asarray(tokens)[remove_order])])
    for k in range(1, most + 1):
        for extra in (0, 1, 2):
            n = k + extra
            if k > len(remove_order) or n > len(add_order):
                continue
            windows = add_sums[n:] - add_sums[:-n]  # sums of n consecutive sorted additions, ascending
            for t in range(len(remove_order) - k + 1):
                removed = int(remove_sums[t + k] - remove_sums[t])
                s = int(np.searchsorted(windows, gap - tolerance + removed, side="left"))
                if s < len(windows) and windows[s] <= gap + removed:
                    gone = set(remove_order[t : t + k].tolist())
                    keep = [i for i in range(len(tokens)) if i not in gone]
                    picks = add_order[s : s + n]
                    gap = gap + removed - int(sizes[picks].sum())
                    return take(texts, keep), np.asarray(tokens)[keep], used + (offset + picks).tolist(), gap
    return texts, tokens, used, gap


def take(items: list, indices: list[int]) -> list:
    """items[i] for each index, gathered in C (operator.itemgetter) rather than a Python loop."""
    if len(indices) > 1:
        return list(operator.itemgetter(*indices)(items))
    return [items[i] for i in indices]


def _units_within(sizes: np.ndarray, free: np.ndarray, low: int, high: int, count: int) -> list[int]:
    """Indices of `count` (1 or 2) free units whose sizes sum to within [low, high]; [] if none."""
    candidates = np.flatnonzero(free & (sizes <= high))
    if count == 1:
        fits = candidates[sizes[candidates] >= low]
        return [int(fits[0])] if len(fits) else []
    if len(candidates) < 2:
        return []
    order = candidates[np.argsort(sizes[candidates], kind="stable")]
    ranked = sizes[order]
    # For each first unit, the range of partners whose size completes the sum.
    first = np.searchsorted(ranked, low - ranked, side="left")
    last = np.searchsorted(ranked, high - ranked, side="right")
    for a in np.flatnonzero(last > first).tolist():
        b = int(first[a]) if int(first[a]) != a else int(first[a]) + 1
        if b < int(last[a]) and b != a:
            return sorted([int(order[a]), int(order[b])])
    return []


def fit_prompt(
    *,
    head: str,
    tail: str,
    filler_texts: Sequence[str],
    filler_tokens: np.ndarray,
    inserts: list[Insert],
    target: int,
    tolerance: int,
    tokenizer: Tokenizer,
    budget_adjust: int = 0,
    insert_tokens: list[int] | None = None,
    labeler: Labeler | None = None,
    whole_units_only: bool = False,
    separator: str = SEPARATOR,
    fill: bool = True,
    lead: str = "",
) -> FittedPrompt:
    """Build `head + context + tail` whose token count lands in [target - tolerance, target].

    `lead` is what units are counted after (the end of the unit before them: "。" in Chinese, see
    `text.language`); inserts are counted the same way.

    With `fill` False the inserts alone are the context (NeedleBench's needles-only ATC): there is no
    filler, and the target is only an upper bound.

    The last gap is closed with words of one more unit, or, with
    `whole_units_only` (records that must not be cut, like table rows), with
    later units that still fit, skipping those that do not.

    `filler_texts` must hold enough units for the target (a sequence: the fill reads the units it uses,
    so a lazy one reads nothing past the length); inserts keep their
    relative order when depths tie. Raises BudgetError when the fixed parts
    alone exceed the target, CorpusError when the filler runs out. When no fit
    lands under the target's prediction after `MAX_FITS` fits, the closest one is
    returned: its measured length decides (see `pipeline.generate_row`).
    """
    fixed = tokenizer.count(head) + tokenizer.count(tail)
    goal = target - budget_adjust  # the caller lowers (or raises) the goal when a measurement missed
    if insert_tokens is None:
        insert_tokens = count_units([i.text for i in inserts], tokenizer, separator, lead) if inserts else []
    if labeler is not None:  # budget each unit's label by its position if no item came before it
        labels = labeler.token_array(len(filler_texts) + 1)[1 : len(filler_texts) + 1]
        label_cumulative = np.concatenate([[0], np.cumsum(labels)])
        filler_tokens = np.asarray(filler_tokens, dtype=np.int64) + labels
        middle = labeler.tokens(max(1, len(filler_texts) // 2))
        insert_tokens = [t + middle for t in insert_tokens]
    need = int(sum(insert_tokens))
    if fixed + need > min(goal, target):
        raise BudgetError(
            f"the prompt and inserted items need {fixed + need} tokens but the target is {target}; "
            "ask for a longer length or fewer items"
        )
    cumulative = np.concatenate([[0], np.cumsum(filler_tokens, dtype=np.int64)])
    # The fill counts units one by one; the assembled prompt can come out a few tokens off that count
    # (labels numbered in reading order, merges where whole units meet). `low` and `high` bound the
    # excess (prediction minus count) seen so far: the fill aims at a count that keeps the contract for
    # any excess in that range. A fit that misses widens the range past its own excess, so no fit is
    # repeated and this converges in a few fits; a draw that still misses returns its closest fit, for
    # the sample's one encode (the measurement, not this prediction) to decide: the pipeline re-fits or
    # retries the draw.
    low = high = 0
    closest, distance = None, None
    for _ in range(MAX_FITS):
        most = goal - high - fixed - need  # what the fill may count, at most ...
        room = tolerance - (high - low)  # ... and how far under that it may land
        if room < 0:
            break
        whole = int(np.searchsorted(cumulative, most, side="right")) - 1
        gap = most - int(cumulative[whole])
        if fill and whole == len(filler_texts) and gap > room:
            raise CorpusError(
                f"the haystack holds {int(cumulative[-1])} tokens but {most} are needed; "
                "use a larger corpus or a shorter length"
            )
        texts = list(filler_texts[:whole])
        tokens = np.asarray(filler_tokens[:whole], dtype=np.int64)
        partial = False
        if whole_units_only:
            texts, tokens, gap = _fill_whole_units(filler_texts, filler_tokens, whole, texts, tokens, gap, room)
        elif gap > 0 and whole < len(filler_texts):
            label_room = labeler.tokens(whole + 1) if labeler is not None else 0
            words, count = _word_prefix(tokenizer, filler_texts[whole], gap - label_room, separator)
            if not words and gap > room:  # no word boundary where the fill needs one: between characters
                words, count = _character_prefix(tokenizer, filler_texts[whole], gap - label_room, separator)
            if words:
                texts.append(words)
                tokens = np.append(tokens, count)
                partial = True
        estimate = 0
        if labeler is not None:
            estimate = int(label_cumulative[whole]) + len(inserts) * middle
        fitted = _assemble(
            head, tail, texts, tokens, inserts, insert_tokens, fixed, tokenizer, labeler, estimate, separator
        )
        fitted.partial_unit = partial
        over = fitted.predicted_length - goal
        short = goal - tolerance - fitted.predicted_length if fill else 0
        if over <= 0 and short <= 0:
            return fitted
        if distance is None or max(over, short) < distance:
            closest, distance = fitted, max(over, short)
        excess = fitted.predicted_length - (fixed + need + int(tokens.sum()))
        if over > 0:
            high = max(high + 1, excess)
        elif excess < low:
            low = excess
        else:  # the fill itself fell short (whole units no swap could close the gap with)
            break
    return closest


def _choose_boundaries(
    inserts: list[Insert], insert_tokens: list[int], boundaries: np.ndarray, total: int
) -> tuple[np.ndarray, np.ndarray]:
    """(boundary of each insert in text order, which insert that is). Items go in depth order (ties
    keep their order), each to the boundary nearest the share of filler tokens its depth asks for,
    never before the previous item (vectorised: thousands of rows)."""
    if not inserts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    depth = np.array([i.depth for i in inserts], dtype=np.float64)
    own = np.asarray(insert_tokens, dtype=np.int64)
    order = np.lexsort((np.arange(len(inserts)), depth))
    earlier = np.concatenate([[0], np.cumsum(own[order])[:-1]])
    want = depth[order] / 100.0 * (total - own[order]) - earlier
    above = np.clip(np.searchsorted(boundaries, want), 0, len(boundaries) - 1)
    below = np.clip(above - 1, 0, len(boundaries) - 1)
    nearest = np.where(np.abs(boundaries[below] - want) <= np.abs(boundaries[above] - want), below, above)
    return np.maximum.accumulate(nearest).astype(np.int64), order.astype(np.int64)


def _apply_labels(
    labeler: Labeler, texts: list[str], insert_texts: list[str], at: np.ndarray, which: np.ndarray
) -> tuple[list[str], int]:
    """Number every unit in reading order (items in `insert_texts` in place); the labelled filler
    texts and the labels' exact token count."""
    chosen = list(zip(at.tolist(), which.tolist(), strict=True))
    # Reading-order numbers: filler unit j follows j units and the items placed at or before it.
    placed_before = np.searchsorted(np.sort([b for b, _ in chosen]), np.arange(len(texts)), side="right")
    numbers = np.arange(1, len(texts) + 1) + placed_before
    prefixes = labeler.prefixes(len(texts) + len(chosen) + 1)
    labelled = [prefixes[n] + t for n, t in zip(numbers.tolist(), texts, strict=True)]
    label_tokens = int(labeler.token_array(len(texts) + len(chosen) + 1)[numbers].sum())
    for rank, (b, i) in enumerate(chosen):
        n = b + 1 + rank  # b filler units and `rank` earlier items precede it
        insert_texts[i] = labeler.text(n, insert_texts[i])
        label_tokens += labeler.tokens(n)
    return labelled, label_tokens


def _interleave(
    offset: int, texts: list[str], insert_texts: list[str], at: np.ndarray, which: np.ndarray, separator: str
) -> tuple[list[str], Placements]:
    """The context's pieces in text order, and where each insert and its neighbours sit.

    Inserts are sorted by boundary (ties in depth order); filler unit j is preceded by the j units
    before it and by the inserts at boundaries <= j, so every offset comes from prefix sums.
    """
    sep = len(separator)
    count = len(insert_texts)
    if not count:  # a word list (cwe, fwe): the units in order, nothing placed (16,000 words a 32K list)
        spans = [np.zeros(0, dtype=np.int64) for _ in range(2)] + [np.zeros((0, 2), dtype=np.int64) for _ in range(3)]
        return list(texts), Placements(*spans)
    unit_chars = np.fromiter(map(len, texts), np.int64, len(texts))
    unit_cumulative = np.concatenate([[0], np.cumsum(unit_chars + sep)])
    insert_chars = np.fromiter(map(len, insert_texts), np.int64, count)[which]
    insert_cumulative = np.concatenate([[0], np.cumsum(insert_chars + sep)])[:count]
    start_sorted = offset + unit_cumulative[at] + insert_cumulative
    end_sorted = start_sorted + insert_chars
    sequence = np.empty(len(texts) + count, dtype=np.int64)
    units = np.arange(len(texts))
    sequence[units + np.searchsorted(at, units, side="right")] = units
    sequence[at + np.arange(count)] = len(texts) + np.arange(count)
    pieces = take(texts + take(insert_texts, which.tolist()), sequence.tolist())
    # Every insert at boundary b shares the run's filler neighbours (the unit before the run and
    # the unit after it); the other inserts at b form its run.
    first = np.searchsorted(at, at, side="left")
    last = np.searchsorted(at, at, side="right") - 1
    before = np.full((count, 2), -1, dtype=np.int64)
    has = at > 0
    before[has, 1] = start_sorted[first[has]] - sep
    before[has, 0] = before[has, 1] - unit_chars[at[has] - 1]
    after = np.full((count, 2), -1, dtype=np.int64)
    has = at < len(texts)
    after[has, 0] = end_sorted[last[has]] + sep
    after[has, 1] = after[has, 0] + unit_chars[np.minimum(at[has], len(texts) - 1)]
    run = np.full((count, 2), -1, dtype=np.int64)
    shared = last > first
    run[shared, 0] = start_sorted[first[shared]]
    run[shared, 1] = end_sorted[last[shared]]
    back = np.empty(count, dtype=np.int64)  # text order -> the order inserts were given
    back[which] = np.arange(count)
    return pieces, Placements(start_sorted[back], end_sorted[back], before[back], after[back], run[back])


def _assemble(
    head: str,
    tail: str,
    texts: list[str],
    tokens: np.ndarray,
    inserts: list[Insert],
    insert_tokens: list[int],
    fixed: int,
    tokenizer: Tokenizer,
    labeler: Labeler | None = None,
    label_estimate: int = 0,
    separator: str = SEPARATOR,
) -> FittedPrompt:
    """Choose each insert's boundary, then join slices of filler around the inserts.

    With a labeler, `tokens` and `insert_tokens` include budgeted label sizes
    summing to `label_estimate`; the exact sizes replace them here.
    """
    boundaries = np.concatenate([[0], np.cumsum(tokens, dtype=np.int64)])
    total = int(boundaries[-1]) + int(sum(insert_tokens))
    at, which = _choose_boundaries(inserts, insert_tokens, boundaries, total)
    insert_texts = [i.text for i in inserts]
    if labeler is not None:
        texts, label_tokens = _apply_labels(labeler, texts, insert_texts, at, which)
        total += label_tokens - label_estimate  # exact label sizes replace the budgeted ones
    pieces, placements = _interleave(len(head), texts, insert_texts, at, which, separator)
    context = separator.join(pieces)
    predicted = fixed + total
    if pieces:
        first_is_filler = not inserts or int(at[0]) > 0
        first_tokens = int(tokens[0]) if first_is_filler else insert_tokens[int(which[0])]
        predicted += tokenizer.count(pieces[0]) - first_tokens
        predicted += _junction(tokenizer, head, pieces[0]) + _junction(tokenizer, pieces[-1], tail)
    return FittedPrompt(
        text=head + context + tail,
        context_start=len(head),
        context_end=len(head) + len(context),
        inserts=inserts,
        placements=placements,
        predicted_length=predicted,
        filler_units=len(texts),
        partial_unit=False,
    )
