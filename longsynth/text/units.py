"""Token-counted units: the pieces the fitter packs.

A unit is a sentence (or a bio, a row, a chunk) with whitespace folded to
single spaces. Units are joined with one space, and each unit's count is the
count of " " + text: for tiktoken's pre-tokenizers a space-led unit never
merges with its neighbours, so the count of a joined context is the sum of
its units. Each unit is tokenized once per process, in a batch.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..tokenizers import Tokenizer
from .language import LANGUAGES

SEPARATOR = " "
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")
# A Chinese sentence ends at 。！？ (and a closing quote right after); no space follows it.
_SENTENCE_END_ZH = re.compile(r"(?<=[。！？])(?![”」』）])|(?<=[。！？][”」』）])")


def normalize(text: str) -> str:
    """Fold all whitespace (newlines included) to single spaces and trim."""
    return _SPACES.sub(" ", text).strip()


_PARAGRAPH_END = re.compile(r"\n\s*\n")


def split_sentences(text: str, max_chars: int = 1000, language: str = "en") -> list[str]:
    """Split text into sentence units; over-long sentences are split at word boundaries (Chinese ones
    after a comma, else between characters)."""
    return list(iter_sentences(text, max_chars, language))


def iter_sentences(text: str, max_chars: int = 1000, language: str = "en") -> Iterator[str]:
    """`split_sentences`, a unit at a time: a caller that needs the first few thousand units of a
    document of hundreds of megabytes reads only as far as those. A paragraph is folded and split
    `FOLD_CHARS` at a time (a 280 MB document of one paragraph, a sentence a line, took 40 s and
    5 GB to split whole, for a 4K haystack)."""
    separator = _SENTENCE_END_ZH if language == "zh" else _SENTENCE_END
    for paragraph in _pieces(_PARAGRAPH_END, text):
        for sentence in _split_folded(separator, _folded(paragraph)):
            if language == "zh":
                yield from filter(None, _wrap_zh(sentence.strip(), max_chars))
            else:
                yield from filter(None, _wrap(sentence, max_chars))


FOLD_CHARS = 1 << 20  # a paragraph longer than this is folded and split a piece of about this size at a time


def _folded(paragraph: str) -> Iterator[str]:
    """`normalize(paragraph)` in pieces that, joined with single spaces, make it: the paragraph is cut
    at whitespace, so each cut falls in a run that folding turns into one space anyway."""
    start = 0
    while start < len(paragraph):
        space = _SPACES.search(paragraph, start + FOLD_CHARS) if len(paragraph) - start > FOLD_CHARS else None
        end = space.start() if space else len(paragraph)
        piece = normalize(paragraph[start:end])
        if piece:
            yield piece
        start = end


def _split_folded(separator: re.Pattern[str], pieces: Iterator[str]) -> Iterator[str]:
    """What `separator.split(" ".join(pieces))` returns, read a piece at a time and in time linear in
    the text: each piece is searched with the two characters before it (the separators look at
    most two characters back and one ahead, and no piece starts or ends with a space), and a
    sentence end found before the text read so far ends is the one a whole reading finds; what
    follows the last one waits for the next piece."""
    pending: list[str] | None = None  # the text since the last sentence end (None: nothing read yet)
    for piece in pieces:
        if pending is None:
            window, start = piece, 0
            pending = []
        else:
            tail = "".join(pending[-2:])[-2:]  # (pieces are never empty)
            window, start = f"{tail} {piece}", len(tail)
        cut = start
        for match in separator.finditer(window, start):
            if match.end() >= len(window):  # it could grow, or stop matching, with what comes next
                break
            yield "".join(pending) + window[cut : match.start()]
            pending, cut = [], match.end()
        pending.append(window[cut:])
    yield from _pieces(separator, "".join(pending or []))


def _pieces(separator: re.Pattern[str], text: str) -> Iterator[str]:
    """What `separator.split(text)` returns (the pattern has no groups), a piece at a time."""
    start = 0
    for match in separator.finditer(text):
        yield text[start : match.start()]
        start = match.end()
    yield text[start:]


def _wrap_zh(sentence: str, max_chars: int) -> list[str]:
    pieces = []
    while len(sentence) > max_chars:
        cut = sentence.rfind("，", 0, max_chars) + 1 or max_chars
        pieces.append(sentence[:cut])
        sentence = sentence[cut:]
    return pieces + [sentence]


def _wrap(sentence: str, max_chars: int) -> list[str]:
    sentence = sentence.strip()
    if len(sentence) <= max_chars:
        return [sentence]
    pieces, current = [], ""
    for word in sentence.split(" "):
        if current and len(current) + 1 + len(word) > max_chars:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


@dataclass
class UnitPool:
    """Units with their token counts (space-led) and prefix sums for O(log n) fitting."""

    texts: list[str]
    tokens: np.ndarray
    cumulative: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.cumulative = np.concatenate([[0], np.cumsum(self.tokens, dtype=np.int64)])

    @classmethod
    def from_texts(cls, texts: list[str], tokenizer: Tokenizer, language: str = "en") -> UnitPool:
        joining = LANGUAGES[language]
        counts = count_units(texts, tokenizer, joining.separator, joining.lead)
        return cls(texts, np.asarray(counts, dtype=np.int64))

    @property
    def total_tokens(self) -> int:
        return int(self.cumulative[-1])

    def run(self, start: int, min_tokens: int) -> tuple[list[str], np.ndarray]:
        """Contiguous units from `start` holding at least `min_tokens` (or all that remain)."""
        end = int(np.searchsorted(self.cumulative, self.cumulative[start] + min_tokens, side="left"))
        end = min(max(end, start) + 1, len(self.texts))
        return self.texts[start:end], self.tokens[start:end]

    def latest_start(self, min_tokens: int, within: int | None = None) -> int:
        """The last start index from which a run still holds `min_tokens` (0 if none does), among the
        units of the pool's first `within` tokens. Pools grow as prefixes of one stream, so a sample
        that draws its start below `latest_start(target, within=f(target))` draws the same haystack
        whatever pool size the other lengths of its spec asked for."""
        end = self.total_tokens if within is None else min(within, self.total_tokens)
        idx = int(np.searchsorted(self.cumulative, end - min_tokens, side="right")) - 1
        return max(0, idx)


def count_units(texts: list[str], tokenizer: Tokenizer, separator: str = SEPARATOR, lead: str = "") -> list[int]:
    """Token counts of units as they appear inside a context joined with `separator` (space-led by
    default; units that end in a newline are joined with nothing), each counted after `lead`, the end
    of the unit before it, where units merge with it ("。" for Chinese: see `language`)."""
    if not lead:
        return tokenizer.count_many([separator + t for t in texts])
    own = tokenizer.count(lead)
    return [n - own for n in tokenizer.count_many([lead + separator + t for t in texts])]


def count_filled(
    tokenizer: Tokenizer,
    shape: str,
    marks: tuple[str, ...],
    fills: tuple[list[str], ...],
    end: str = "",
    spaced: tuple[np.ndarray | None, ...] | None = None,
) -> list[int] | None:
    """Token counts of `shape` filled many times (mark k replaced by `fills[k][i]` in text i, then
    `end`), as `count_many` would give them, without counting a single filled text: where every
    join between the shape's fixed text and a fill is a certain pre-token cut (the tokenizer's
    `pre_token_cuts`), a text's count is its fixed pieces' counts (once) plus its fills' (each
    fill one batch, of short texts). A space right before a mark goes with the fill (" key"), as
    the pre-tokenizer takes it. None when some join is not certain, or the tokenizer makes no such
    promise, or a fill is not of a kind counted by parts (`_fill_counts`): count the texts then. A
    32K haystack of 1,900 distractor needles is counted from its keys' words and its values' digits
    (1.5 ms in a build) instead of 110,000 characters of needles (2.7 ms, most of it waiting for the
    helper process behind the samples it encodes). `spaced`, per mark, the counts of " " + each fill
    where the caller has them (`hyphenated_counts`): used where that mark's fills follow a space."""
    if len(fills) != len(marks) or len({len(fill) for fill in fills}) > 1:
        raise ValueError("count_filled needs one list of fills per mark, all of one length")
    cuts = getattr(tokenizer, "pre_token_cuts", None)
    if cuts is None or any(shape.count(mark) != 1 for mark in marks):
        return None
    order = sorted(range(len(marks)), key=lambda k: shape.index(marks[k]))
    fixed, rest = [], shape
    for k in order:
        before, rest = rest.split(marks[k], 1)
        fixed.append(before)
    fixed.append(rest + end)
    leads = []  # the space each fill takes from the text before it ("" if none)
    for n in range(len(order)):
        leads.append(" " if fixed[n].endswith(" ") else "")
        fixed[n] = fixed[n][: len(fixed[n]) - len(leads[n])]
    if not all(fixed[1:-1]):  # two fills side by side: their join is a fill's, not checked here
        return None
    size = len(fills[0]) if fills else 0
    for n, k in enumerate(order):
        fill = fills[k]
        if not all(fill):
            return None
        # Each join is checked once per distinct character the fills bring to it.
        firsts = leads[n] or "".join(set(map(operator.itemgetter(0), fill)))
        lasts = "".join(set(map(operator.itemgetter(-1), fill)))
        joins = []
        if fixed[n]:
            joins.append((fixed[n][-1] * len(firsts), firsts))
        if fixed[n + 1]:
            joins.append((lasts, fixed[n + 1][0] * len(lasts)))
        for lefts, rights in joins:
            certain = cuts(lefts, rights)
            if certain is None or not certain.all():
                return None
    counts = np.full(size, sum(_fixed_count(tokenizer, piece) for piece in fixed if piece), dtype=np.int64)
    for n, k in enumerate(order):
        known = spaced[k] if spaced is not None and leads[n] == " " else None
        fill_counts = known if known is not None else _fill_counts(tokenizer, fills[k], leads[n])
        if fill_counts is None:
            return None
        counts += fill_counts
    return counts.tolist()


_FIXED: dict[tuple[str, str], int] = {}  # (tokenizer, a template's fixed text) -> its count
_PIECES: dict[str, tuple[dict[str, int | None], dict[str, int | None]]] = {}  # per tokenizer: word part counts
_GROUPS: dict[str, tuple[np.ndarray, ...]] = {}  # per tokenizer: counts of every 1-, 2- and 3-digit string


def _fixed_count(tokenizer: Tokenizer, piece: str) -> int:
    key = (tokenizer.name, piece)
    if key not in _FIXED:
        if len(_FIXED) > 10_000:  # a build has a few templates; never grow without end
            _FIXED.clear()
        _FIXED[key] = tokenizer.count(piece)
    return _FIXED[key]


def _fill_counts(tokenizer: Tokenizer, fills: list[str], lead: str) -> np.ndarray | None:
    """Counts of `lead + fill` for a batch of short fills, from counts of their pieces, each piece
    counted once per process, for the two kinds a haystack of needles draws thousands of:
    - a number of one length (" 1234567"): its space (a pre-token of its own before a digit), then
      its digits in threes from the first (both encodings cut a digit run so: `\\p{N}{1,3}`),
      counted from tables of every 1-, 2- and 3-digit string, in numpy;
    - a space-led word of two hyphen-joined parts (" swift-fox"): " swift" and "-fox", cut where a
      letter meets a mark (`pre_token_cuts`).
    None for anything else, or a part that does not end in a letter or digit: the filled texts are
    then counted whole (one batch of whole needles costs less than two of their UUIDs)."""
    joined = "".join(fills)
    size = len(fills)
    width = len(joined) // size if size else 0
    if size and width and set(map(len, fills)) == {width} and joined.isascii():
        digits = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(size, width).astype(np.int64)
        digits -= ord("0")
        if ((digits >= 0) & (digits <= 9)).all():
            tables = _digit_tables(tokenizer)
            counts = np.full(size, tables[0][0] if lead else 0, dtype=np.int64)
            for start in range(0, width, 3):
                group = digits[:, start : start + 3]
                counts += tables[group.shape[1]][group @ (10 ** np.arange(group.shape[1] - 1, -1, -1))]
            return counts
    if size and lead == " " and " " not in joined:
        # " swift-fox lazy-dog" reads "", "swift", "-fox", "lazy", "-dog": a word and its hyphened
        # part in turn for every fill (else a part is refused below).
        pieces = (" " + " ".join(fills)).replace("-", " -").split(" ")
        if len(pieces) == 2 * size + 1:
            words, parts = pieces[1::2], pieces[2::2]
            word_counts, part_counts = _PIECES.setdefault(tokenizer.name, ({}, {}))
            for attempt in range(2):
                try:
                    counts = np.fromiter(map(word_counts.__getitem__, words), np.int64, size)
                    return counts + np.fromiter(map(part_counts.__getitem__, parts), np.int64, size)
                except KeyError:  # parts not met before: counted in one batch (their joins are certain cuts)
                    if attempt == 0:
                        _learn(tokenizer, word_counts, words, " ")
                        _learn(tokenizer, part_counts, parts, "")
                except TypeError:  # a part that is not a piece
                    break
    return None


def learn_hyphenated(tokenizer: Tokenizer, words: list[str], parts: list[str]) -> None:
    """Count a hyphenated key vocabulary's words and parts ("swift" and "fox" of "swift-fox") the way
    `count_filled` meets them, one batch each, so a build's first samples need not learn them a few
    at a time (88 small batches, 24 ms, in a 100-sample build of 32K haystacks of needles)."""
    if getattr(tokenizer, "pre_token_cuts", None) is None:
        return
    word_counts, part_counts = _PIECES.setdefault(tokenizer.name, ({}, {}))
    _learn(tokenizer, word_counts, words, " ")
    _learn(tokenizer, part_counts, ["-" + part for part in parts], "")


def hyphenated_counts(tokenizer: Tokenizer, words: list[str], parts: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """What `count_filled` adds up for a fill "word-part" after a space, per word and per part of a
    key vocabulary (`learn_hyphenated`): the count of " " + word and of "-" + part, -1 where it
    counts no such piece (a word or part with a hyphen or space in it, or one `_learn` refused).
    A batch of fills drawn as vocabulary indices is then counted by two array lookups, not by
    splitting each fill and looking its pieces up (0.8 ms for a 32K haystack's 1,800 keys). None
    when the tokenizer has no cut rule."""
    if getattr(tokenizer, "pre_token_cuts", None) is None:
        return None
    learn_hyphenated(tokenizer, words, parts)
    word_counts, part_counts = _PIECES[tokenizer.name]

    def counted(memo: dict[str, int | None], pieces: list[str], lead: str) -> np.ndarray:
        found = [None if "-" in piece or " " in piece else memo.get(lead + piece) for piece in pieces]
        return np.array([-1 if n is None else n for n in found], dtype=np.int64)

    return counted(word_counts, words, ""), counted(part_counts, parts, "-")


def _learn(tokenizer: Tokenizer, memo: dict[str, int | None], parts: list[str], lead: str) -> None:
    """Count the parts `memo` does not hold (a word as `lead + word`; a hyphened part as it is), or
    mark them None: a word that is empty or starts with a hyphen, a part that does not start with
    one, or either not ending in a letter or digit (the cut after it would not be certain)."""
    new = [part for part in dict.fromkeys(parts) if part not in memo]
    if len(memo) + len(new) > 100_000:  # a key vocabulary holds thousands of parts; never grow without end
        memo.clear()
    hyphened = not lead
    fine = [
        part
        for part in new
        if part[-1:].isalnum() and part.isascii() and (part[:1] == "-") == hyphened and len(part) > hyphened
    ]
    pieces = [lead + part for part in fine]
    counts = dict(zip(fine, tokenizer.count_many(pieces), strict=True)) if pieces else {}
    for part in new:
        memo[part] = counts.get(part)


def _digit_tables(tokenizer: Tokenizer) -> tuple[np.ndarray, ...]:
    """(the count of " ", then per width 1-3 the counts of every digit string of that width by value)."""
    if tokenizer.name not in _GROUPS:
        tables = [np.asarray([tokenizer.count(" ")], dtype=np.int64)]
        for width in (1, 2, 3):
            texts = [f"{value:0{width}d}" for value in range(10**width)]
            tables.append(np.asarray([tokenizer.count(t) for t in texts], dtype=np.int64))
        _GROUPS[tokenizer.name] = tuple(tables)
    return _GROUPS[tokenizer.name]
