"""One small protocol over tiktoken encodings and Hugging Face tokenizers.

Lengths in longsynth are counted by the real tokenizer, so the tokenizer must
load on a fresh machine with no network. tiktoken normally downloads its
vocabulary files on first use; we instead read the vocabularies that the
`quicktok-v1` wheel ships, rebuild tiktoken's file format from them and check
it against the sha256 that OpenAI publishes before building the encoding.
With the network (or a warm tiktoken cache) tiktoken's own loader is the
fallback.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import operator
import re
import struct
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from .cache import cache_dir, store_bytes
from .cores import available_cores
from .errors import BlankRunError, TokenizerError
from .hf_helper import COUNTS, DECODE, ENDS, IDS, HelperFailed, TokenizerProcess
from .network import download_hub_file, hub_unreachable
from .quick_helper import BATCH_IDS_FROM, QuickHelper

DEFAULT_TOKENIZER = "cl100k_base"

# Published facts about the two supported encodings (sha256 of the official
# `.tiktoken` files, their pre-tokenizer patterns and special tokens).
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


@dataclass(frozen=True)
class _EncodingFacts:
    sha256: str
    pattern: str
    special_tokens: dict[str, int]
    packaged_vocab: str  # file name inside quicktok/data


_ENCODINGS: dict[str, _EncodingFacts] = {
    "cl100k_base": _EncodingFacts(
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pattern=_CL100K_PATTERN,
        special_tokens={
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
        packaged_vocab="cl100k.vocab",
    ),
    "o200k_base": _EncodingFacts(
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pattern=O200K_PATTERN,
        special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
        packaged_vocab="o200k.vocab",
    ),
}


class Tokenizer(Protocol):
    """What the rest of longsynth needs from a tokenizer."""

    name: str
    version: str
    # Whether a long encode releases the GIL, so other threads run meanwhile (see `encoding`).
    encodes_outside_gil: bool

    def encode(self, text: str) -> list[int]: ...

    def count(self, text: str) -> int: ...

    def encode_array(self, text: str) -> np.ndarray: ...

    def count_many(self, texts: list[str]) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def char_ends(self, text: str, ids) -> np.ndarray:
        """Character offset in `text` where each token ends (non-decreasing)."""
        ...


@dataclass
class Measurement:
    """The one full encode of a sample, with token positions of characters."""

    length: int
    _char_ends: np.ndarray
    ids: np.ndarray | None = None

    def tokens_before(self, char_offset: int) -> int:
        """Number of tokens that end at or before `char_offset`."""
        return int(np.searchsorted(self._char_ends, char_offset, side="right"))

    def is_boundary(self, char_offset: int) -> bool:
        """Whether a token ends exactly at `char_offset` (or it is the start of the text)."""
        if char_offset == 0:
            return True
        at = int(np.searchsorted(self._char_ends, char_offset, side="left"))
        return at < len(self._char_ends) and int(self._char_ends[at]) == char_offset

    def tokens_between(self, start: int, end: int) -> int | None:
        """Tokens of the text between two token boundaries, or None if either is not one. For
        tiktoken, whose tokens never merge across a boundary that the encoding kept, this is exactly
        the count of that text encoded alone."""
        if not (self.is_boundary(start) and self.is_boundary(end)):
            return None
        return self.tokens_before(end) - self.tokens_before(start)

    def tokens_before_many(self, char_offsets) -> np.ndarray:
        """`tokens_before` for many offsets in one vectorised call."""
        return np.searchsorted(self._char_ends, np.asarray(char_offsets, dtype=np.int64), side="right")


def measure(tokenizer: Tokenizer, text: str, reference: bool = False) -> Measurement:
    """Encode `text` once and keep what is needed to place characters in tokens. A build measures its
    samples with the tokenizer's fastest exact encoder (`measure_ids`: for tiktoken encodings,
    quicktok, checked against tiktoken); `reference` (what `longsynth validate` asks for) encodes
    with the tokenizer's own library."""
    fast = None if reference else getattr(tokenizer, "measure_ids", None)
    ids = fast(text) if fast is not None else tokenizer.encode_array(text)
    return Measurement(len(ids), tokenizer.char_ends(text, ids), ids)


# --------------------------------------------------------------------------- tiktoken


def _packaged_tiktoken_file(facts: _EncodingFacts) -> bytes:
    """Rebuild the official `.tiktoken` file bytes from quicktok's packaged vocabulary.

    quicktok stores `u32 count` then `count` records of `u16 length, bytes, u32 rank`.
    The rebuilt file is accepted only if its sha256 equals the published one.
    """
    try:
        data = resources.files("quicktok").joinpath("data", facts.packaged_vocab).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise LookupError(f"packaged vocabulary not available ({exc})") from exc
    (count,) = struct.unpack_from("<I", data, 0)
    offset = 4
    records: list[tuple[int, bytes]] = []
    for _ in range(count):
        (size,) = struct.unpack_from("<H", data, offset)
        offset += 2
        token = data[offset : offset + size]
        offset += size
        (rank,) = struct.unpack_from("<I", data, offset)
        offset += 4
        records.append((rank, token))
    records.sort()
    blob = b"".join(base64.b64encode(tok) + b" " + str(rank).encode() + b"\n" for rank, tok in records)
    digest = hashlib.sha256(blob).hexdigest()
    if digest != facts.sha256:
        raise LookupError(
            f"packaged vocabulary sha256 {digest[:12]}… does not match the published {facts.sha256[:12]}…"
        )
    return blob


def _quicktok_encoding(name: str):
    """quicktok's tokenizer for the same encoding (a counting fast path), or None without it."""
    try:
        import quicktok

        return quicktok.get_encoding(name)
    except Exception:  # an older wheel or a missing encoding: tiktoken counts alone
        return None


def _cache_dir() -> Path:
    return cache_dir("tiktoken")


def _ranks(blob: bytes) -> dict[bytes, int]:
    """A .tiktoken file's merge ranks: a line `<base64 token> <rank>` each."""
    return {base64.b64decode(tok): int(rank) for tok, rank in (line.split() for line in blob.splitlines() if line)}


def _cached_ranks(path: Path, sha256: str) -> dict[bytes, int]:
    """The verified file in our cache, read and checked here: tiktoken's `load_tiktoken_bpe` would copy
    it into its own cache, `$TMPDIR/data-gym-cache` unless TIKTOKEN_CACHE_DIR is set, under a name made
    from its path, so every cache folder a user or a test pointed us at left 1.7 MB (cl100k) or 3.6
    MB (o200k) there: writing outside the output and our cache."""
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != sha256:
        raise ValueError(f"sha256 {digest[:12]}… is not the published {sha256[:12]}…")
    return _ranks(blob)


def _load_tiktoken(name: str):
    import tiktoken

    facts = _ENCODINGS[name]
    tried: list[str] = []
    cached = _cache_dir() / f"{name}.tiktoken"
    ranks = None
    if cached.exists():
        try:
            ranks = _cached_ranks(cached, facts.sha256)
        except Exception as exc:  # a corrupt cache file is rebuilt below
            tried.append(f"cache {cached} ({exc})")
    if ranks is None:
        try:
            blob = _packaged_tiktoken_file(facts)
            ranks = _ranks(blob)
            store_bytes(cached, blob)  # keep the verified file so later processes skip the rebuild
        except LookupError as exc:
            tried.append(f"packaged vocabulary from quicktok-v1 ({exc})")
    if ranks is not None:
        return _GuardedEncoding(
            tiktoken.Encoding(
                name=name, pat_str=facts.pattern, mergeable_ranks=ranks, special_tokens=facts.special_tokens
            )
        )
    try:
        return _GuardedEncoding(tiktoken.get_encoding(name))
    except Exception as exc:
        tried.append(f"tiktoken download ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
    raise TokenizerError(f"tokenizer {name!r} could not be loaded; tried: " + "; ".join(tried))


BLANK_RUN_LIMIT = 100_000  # whitespace characters in a row that tiktoken is not given (see `_GuardedEncoding`)
_BLANK_STRIDE = 1_000
_SAMPLED_RUN = re.compile(rf"\s{{{BLANK_RUN_LIMIT // _BLANK_STRIDE},}}")
_BLANKS = re.compile(r"\s+")


def holds_blank_run(text: str) -> bool:
    """Whether `text` holds BLANK_RUN_LIMIT whitespace characters (Python's `\\s`) in a row, in time
    linear in its length.

    Such a run holds at least BLANK_RUN_LIMIT // _BLANK_STRIDE of the text's every _BLANK_STRIDE-th
    character in a row, so those are looked at first (microseconds), and the runs of the text only
    between the two looked-at characters that are not whitespace around such a stretch. A regex for
    the run itself (`\\s{100000}`) took 1.5 ms over a 32K-token sample (166,000 characters) and 9.7
    ms at 128K; and it is quadratic where a run falls just short: 3.7 s for one of 99,999 spaces
    between other text, 17 s for two."""
    if len(text) < BLANK_RUN_LIMIT:
        return False
    for stretch in _SAMPLED_RUN.finditer(text[::_BLANK_STRIDE]):
        low = max(0, (stretch.start() - 1) * _BLANK_STRIDE + 1)  # (past the looked-at one before it)
        high = min(len(text), stretch.end() * _BLANK_STRIDE)  # (the looked-at one after it, or the end)
        if any(run.end() - run.start() >= BLANK_RUN_LIMIT for run in _BLANKS.finditer(text, low, high)):
            return True
    return False


class _GuardedEncoding:
    """A tiktoken Encoding that refuses a text it would crash on, with one clear error. Its
    pre-tokenizer's regex (the `\\s+(?!\\S)` look-ahead) recurses along a run of whitespace and
    overflows its stack near a million spaces or line breaks in a row (an 8 MB stack; less with a
    smaller one): tiktoken then printed a Rust panic and raised pyo3's PanicException, which is no
    Exception, and a build ended in a traceback. So a text of BLANK_RUN_LIMIT whitespace characters
    in a row is refused before tiktoken sees it (only texts that long are searched), and a panic or
    regex failure that comes anyway is the same error. Every other attribute is the Encoding's."""

    def __init__(self, encoding):
        self._encoding = encoding

    def __getattr__(self, name: str):
        return getattr(self._encoding, name)

    def encode_ordinary(self, text: str) -> list[int]:
        if holds_blank_run(text):
            raise _refusal(text)
        try:
            return self._encoding.encode_ordinary(text)
        except BaseException as exc:
            raise _refused(exc, text) from None

    def encode_to_numpy(self, text: str, **options) -> np.ndarray:
        if holds_blank_run(text):
            raise _refusal(text)
        try:
            return self._encoding.encode_to_numpy(text, **options)
        except BaseException as exc:
            raise _refused(exc, text) from None


def _refusal(text: str) -> BlankRunError:
    longest = max((run.end() - run.start() for run in _BLANKS.finditer(text)), default=0)
    return BlankRunError(
        f"a text of {len(text):,} characters holds {longest:,} whitespace characters in a row, more than "
        f"tiktoken can take ({BLANK_RUN_LIMIT:,} or more: its pre-tokenizer overflows its stack); remove such "
        "runs from the input"
    )


def _refused(exc: BaseException, text: str) -> BaseException:
    """The error to raise for `exc` from encoding `text`: `_refusal` for tiktoken's crash, else `exc`."""
    crashed = type(exc).__name__ == "PanicException" or (
        isinstance(exc, ValueError) and "Regex error while tokenizing" in str(exc)
    )
    return _refusal(text) if crashed else exc


PARALLEL_COUNT = 20_000  # texts from which count_many uses every core ...
PARALLEL_CHARS = 2_000_000  # ... or characters (an index's batch of 2,000 chunks holds about 5 MB)
CHECK_EVERY = 50  # count_many re-counts every 50th text with tiktoken itself (see `_quick_counts`)
QUICK_FROM = 1_000  # texts from which count_many counts with quicktok (loading it costs 37 MiB) ...
COUNT_MEMO, COUNT_MEMO_CHARS = 4096, 256  # short texts whose counts `count` remembers, and how short
QUICK_MEASURE_FROM = 2_000_000  # tokens a build measures, from which quicktok is loaded to measure them
HELPER_COUNT_CHARS = 32_000  # characters from which a batch goes to a build's quicktok helper (see `count_many`)
QUICK_LOADED_FROM = 64  # once loaded, quicktok counts batches from this many texts (fwe's word lists)
QUICK_FROM_CHARS = 1_000_000  # ... when they also hold this many characters: cwe's 16,000 one-word units
# (110,000 characters, 40 ms with tiktoken) loaded it, and a cwe build held 34 MiB more than a needle one
JOINED_FROM = 16  # texts from which count_many counts a batch whose joins are pre-token boundaries joined

_LETTER, _DIGIT, _SPACE, _MARK, _OTHER = 1, 2, 3, 4, 0
_CHAR_CLASS = np.zeros(256, dtype=np.int8)
for _c in range(128):
    _ch = chr(_c)
    if _ch.isalpha():
        _CHAR_CLASS[_c] = _LETTER
    elif _ch.isdigit():
        _CHAR_CLASS[_c] = _DIGIT
    elif _ch == " ":
        _CHAR_CLASS[_c] = _SPACE
    elif _ch.isprintable() and _ch != "'":
        _CHAR_CLASS[_c] = _MARK  # punctuation and symbols; the apostrophe starts contractions
# _BOUNDARY[left's last character class, right's first]: whether the pre-tokenizer always cuts there.
_BOUNDARY = np.zeros((5, 5), dtype=bool)
_BOUNDARY[_LETTER, [_DIGIT, _SPACE, _MARK]] = True
_BOUNDARY[_DIGIT, [_LETTER, _SPACE, _MARK]] = True
_BOUNDARY[_MARK, [_DIGIT, _SPACE]] = True


def pre_token_cuts(lefts: str, rights: str) -> np.ndarray:
    """For each pair (`lefts[i]` ending one text, `rights[i]` starting the next): whether cl100k's
    and o200k's pre-tokenizers always cut between them, so each text is pre-tokenized (and so
    tokenized) exactly as on its own. Their patterns have no look-behind, so a text after a cut
    starts afresh; a cut is certain where no alternative can run on across it:
    - after a letter, before a digit, space or mark (letters run only over letters; o200k's
      contraction suffix and cl100k's contractions need an apostrophe, which is never a mark here);
    - after a digit, before a letter, space or mark (digits run only over digits, in threes from
      the run's start, and a letter's optional lead character is never a digit);
    - after a mark, before a digit or space (a mark run takes only marks and line breaks; a mark
      only leads a pre-token of letters, so not before a letter).
    Whitespace other than one space, line breaks, apostrophes and non-ASCII characters are never
    trusted, nor a text that ends in a space. A pair is judged by its own two characters alone, so a
    non-ASCII character elsewhere in the strings changes nothing (a letter run may hold é, but it
    still cannot run on over a space). Tested on random texts of these characters for both
    encodings (tests/core/test_tokenizers.py)."""
    return _BOUNDARY[_char_classes(lefts), _char_classes(rights)]


# A text cut before every space and after every line break: its token count is the sum of its
# pieces' counts wherever every cut is certain, which `PIECE_UNSURE` checks: a cut before a space
# follows a letter, digit or mark (`pre_token_cuts`), and a cut after a line break comes before a
# letter or digit (no pre-token's lead character is a line break, a digit run holds digits only, and
# the pre-token before ends at the break; a mark is not trusted there: o200k's mark runs take `/`
# after line breaks; nor a second line break, which joins the first). Texts of common words then cost
# a lookup per piece instead of a BPE per word (`nextlong.pieces`). Tested on random texts for both
# encodings (tests/families/test_nextlong_pieces.py).
PIECE_UNSURE = r"[^!-&(-~] |\n[^0-9A-Za-z]"  # a space after anything but a letter, digit or mark; a line's odd start


def _char_classes(text: str) -> np.ndarray:
    """Each character's class for `pre_token_cuts` (non-ASCII: `_OTHER`, never part of a cut)."""
    try:
        return _CHAR_CLASS[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    except UnicodeEncodeError:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        return np.where(codes < 128, _CHAR_CLASS[np.minimum(codes, 127)], _OTHER).astype(np.int8)


def certain_cuts(tokenizer: Tokenizer, text: str, start: int, stop: int) -> np.ndarray | None:
    """The offsets in [start, stop) where the tokenizer's pre-tokenizer certainly cuts `text`
    (`pre_token_cuts` of the characters either side): the text before such an offset encodes to the
    whole text's first tokens, and the text after it to the rest. None if the tokenizer has no rule."""
    rule = getattr(tokenizer, "pre_token_cuts", None)
    if rule is None:
        return None
    start, stop = max(start, 1), min(stop, len(text))
    if start >= stop:
        return np.zeros(0, np.int64)
    cuts = rule(text[start - 1 : stop - 1], text[start:stop])
    return None if cuts is None else start + np.flatnonzero(cuts)


def pre_token_boundaries(texts: list[str]) -> bool:
    """Whether every join of `texts` is a certain pre-token cut (`pre_token_cuts`)."""
    if not all(texts):
        return False
    lasts = "".join(map(operator.itemgetter(-1), texts[:-1]))
    firsts = "".join(map(operator.itemgetter(0), texts[1:]))
    return bool(pre_token_cuts(lasts, firsts).all())


class TiktokenTokenizer:
    """A tiktoken encoding; special-token strings in text are encoded as plain text."""

    encodes_outside_gil = True

    def __init__(self, name: str):
        import tiktoken

        self.name = name
        self.version = f"tiktoken {tiktoken.__version__}"
        self._enc = _load_tiktoken(name)
        # One encode on the loading thread before any other thread encodes: in a fresh process, when
        # the first encodes of long texts ran on two threads at once, tiktoken took twice the CPU for
        # the whole run (its regex's per-thread state; measured on 120 prompts of 64K-128K tokens:
        # 6.1 against 3.2 CPU-seconds, 3.1 against 1.6 s), which made `longsynth validate` slower on
        # two threads than on one.
        self._enc.encode_ordinary("warm up")
        self._token_bytes: np.ndarray | None = None
        self._quick = None  # quicktok's encoding, loaded by the first count_many that uses it
        self._quick_off = False  # quicktok is missing, or disagreed with tiktoken once
        self._helper: QuickHelper | None = None  # quicktok in a helper process, for measure_ids
        self._no_helper = False  # a helper process could not start
        self._measured = 0  # samples measure_ids encoded (every CHECK_EVERY-th is checked by tiktoken)
        self._counts: dict[str, int] = {}  # short texts' counts (`count`)
        # Joined counting relies on these encodings' pre-tokenizer patterns (`pre_token_boundaries`).
        facts = _ENCODINGS.get(name)
        self._splits_joined = facts is not None and getattr(self._enc, "_pat_str", None) == facts.pattern

    def encode(self, text: str) -> list[int]:
        return self._enc.encode_ordinary(text)

    def count(self, text: str) -> int:
        """Tokens in `text`. Short texts are remembered (up to COUNT_MEMO of them, then forgotten all at
        once): a build counts the same few again and again (a template's halves, the joints between
        units, an answer prefix: 421 of a 100-sample Chinese needle build's 1,000 counts, 535 of
        holobench's 1,300), at 11 to 15 us a call."""
        if len(text) > COUNT_MEMO_CHARS:
            return len(self._enc.encode_ordinary(text))
        counts = self._counts
        known = counts.get(text)
        if known is None:
            known = len(self._enc.encode_ordinary(text))
            if len(counts) >= COUNT_MEMO:
                counts.clear()
            counts[text] = known
        return known

    def encode_array(self, text: str) -> np.ndarray:
        # disallowed_special=() with no allowed specials encodes special-token text as plain text,
        # exactly like encode_ordinary, but straight into a numpy array.
        return self._enc.encode_to_numpy(text, allowed_special=set(), disallowed_special=())

    def count_many(self, texts: list[str]) -> list[int]:
        """Token counts of many units (haystack sentences, corpus chunks). Samples are still measured
        by tiktoken (`measure`); these counts only plan them."""
        # quicktok counts a batch: in this process once it is loaded there (loading it only to count
        # takes a big batch: an index's chunks), else in a build's helper process once it is ready
        # (`measure_ids`) when the batch is long enough to beat a round trip queued behind the
        # helper's sample encodes (a haystack of 1,500 distractor needles; not fwe's 650 coded words).
        chars = sum(map(len, texts))
        big = len(texts) >= QUICK_FROM and chars >= QUICK_FROM_CHARS
        loaded = self._quick is not None and len(texts) >= QUICK_LOADED_FROM
        helper = self._helper
        if not self._quick_off and (loaded or big):
            counts = self._quick_counts(texts)
            if counts is not None:
                return counts
        elif not self._quick_off and chars >= HELPER_COUNT_CHARS and helper is not None and helper.ready():
            counts = helper.count(texts)
            if counts is not None and self._agrees(texts, counts):
                return counts
        if JOINED_FROM <= len(texts) < PARALLEL_COUNT and self._splits_joined:
            counts = self._joined_counts(texts)
            if counts is not None:
                return counts
        # Units are short: a plain loop beats tiktoken's batch, which starts a thread pool per call.
        # A corpus's worth (an index's chunks) is split over the cores: encodes run outside the GIL.
        encode = self._enc.encode_ordinary
        cores = available_cores()
        if len(texts) < PARALLEL_COUNT or cores < 2:
            return [len(encode(t)) for t in texts]
        step = -(-len(texts) // cores)
        parts = [texts[i : i + step] for i in range(0, len(texts), step)]
        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            counted = pool.map(lambda part: [len(encode(t)) for t in part], parts)
        return [n for part in counted for n in part]

    def _joined_counts(self, texts: list[str]) -> list[int] | None:
        """Each text's count from one encode of the texts joined, when every join is a pre-token
        boundary (`pre_token_boundaries`): tiktoken encodes each pre-token on its own, so a text's
        tokens inside the joined text are then exactly its own. A word list's 650 words cost one
        encode of 4,500 characters (0.22 ms) instead of 650 calls (0.48 ms). None when some join is not
        provably a boundary (then each text is counted alone)."""
        joined = "".join(texts)
        if not joined.isascii() or not pre_token_boundaries(texts):
            return None
        token_ends = self._byte_ends(self.encode_array(joined))
        text_ends = np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)))
        last_tokens = np.searchsorted(token_ends, text_ends)
        # A boundary must end a token: if one did not, the rule above would be wrong (count alone).
        if last_tokens[-1] >= len(token_ends) or not np.array_equal(token_ends[last_tokens], text_ends):
            return None
        return np.diff(last_tokens + 1, prepend=0).tolist()

    def pre_token_cuts(self, lefts: str, rights: str) -> np.ndarray | None:
        """`pre_token_cuts` for this encoding, or None when its pre-tokenizer is not one the rule is
        about (then nothing may be counted by parts)."""
        return pre_token_cuts(lefts, rights) if self._splits_joined else None

    @property
    def counts_by_pieces(self) -> bool:
        """Whether a text's count is the sum of its pieces' counts where `PIECE_UNSURE` finds no cut."""
        return self._splits_joined

    def count_in_bulk(self) -> None:
        """Say that batch after batch of counts follows (an index's new pieces, a few thousand short
        texts each): quicktok is loaded now, so that batches too small to load it on their own are
        counted by it (`count_many`) rather than by tiktoken, five times slower on them."""
        if self._quick is None and not self._quick_off:
            self._quick = _quicktok_encoding(self.name)
            self._quick_off = self._quick is None

    def _quick_counts(self, texts: list[str]) -> list[int] | None:
        """Counts from quicktok, an exact BPE in C++ that counts without building id lists, about
        ten times faster than tiktoken here (an index's 227,000 chunks: 1.5 s instead of 14 s).
        It gave tiktoken's ids on every one of 36,000 adversarial texts (tests/core/test_tokenizers.py
        keeps a sample of them), and every `CHECK_EVERY`-th text of each call is re-counted by
        tiktoken: one disagreement and this process counts with tiktoken alone from then on."""
        if self._quick is None:
            self._quick = _quicktok_encoding(self.name)
            if self._quick is None:
                self._quick_off = True
                return None
        import quicktok

        parallel = len(texts) >= PARALLEL_COUNT or sum(map(len, texts)) >= PARALLEL_CHARS
        threads = available_cores() if parallel else 1
        counts = quicktok.count_batch(self._quick, texts, threads=threads).tolist()
        return counts if self._agrees(texts, counts) else None

    def _agrees(self, texts: list[str], counts: list[int]) -> bool:
        """Whether tiktoken gives every `CHECK_EVERY`-th text quicktok's count; on the first
        difference this process counts and measures with tiktoken alone from then on."""
        encode = self._enc.encode_ordinary
        if all(len(encode(texts[i])) == counts[i] for i in range(0, len(texts), CHECK_EVERY)):
            return True
        self._quick, self._quick_off = None, True
        if self._helper is not None:
            self._helper.close()
        warnings.warn(f"quicktok disagreed with tiktoken on {self.name}; counting with tiktoken only", stacklevel=4)
        return False

    def expect(self, tokens: int) -> None:
        """A build is about to measure samples of `tokens` tokens in all: from `QUICK_MEASURE_FROM` on,
        a quicktok helper process starts for `measure_ids` (it loads on another core, in about
        0.15 s; a small build measures with tiktoken alone and starts no process)."""
        if tokens >= QUICK_MEASURE_FROM and self._helper is None and not self._quick_off and not self._no_helper:
            try:
                self._helper = QuickHelper(self.name, batch_ids=tokens >= BATCH_IDS_FROM)
            except OSError:  # no process could start: tiktoken measures (and this is not tried again)
                self._no_helper = True

    def helper_loading(self) -> bool:
        """Whether the quicktok helper that `expect` started is still loading its encoding."""
        return self._helper is not None and not self._quick_off and self._helper.loading()

    def helper_measures(self) -> bool:
        """Whether samples are measured by the quicktok helper, on another core (`measure_ids`)."""
        return self._helper is not None and not self._quick_off and self._helper.ready()

    def wait_for_helper(self, seconds: float) -> None:
        """Wait (at most `seconds`) until the quicktok helper has loaded (or failed to)."""
        if self._helper is not None:
            self._helper.ready(wait=seconds)

    def measure_ids(self, text: str) -> np.ndarray:
        """A sample's ids from quicktok, an exact BPE of the same vocabulary about six times faster
        than tiktoken (a 32K-token sample: 1.2 ms against 6 ms), in a helper process once it has
        loaded (`expect` starts it; tiktoken encodes until then, and whenever the helper cannot
        answer). Every `CHECK_EVERY`-th sample is encoded by tiktoken too: one difference and this
        process encodes with tiktoken alone from then on (and `longsynth validate` re-measures every
        row with tiktoken)."""
        if holds_blank_run(text):  # (quicktok takes one, but tiktoken, which validates the row, cannot)
            raise _refusal(text)
        helper = self._helper
        ids = None
        if helper is not None and not self._quick_off and helper.ready():
            ids = helper.encode(text)
        if ids is None:
            return self.encode_array(text)
        self._measured += 1
        if self._measured % CHECK_EVERY == 1:
            reference = self.encode_array(text)
            if not np.array_equal(ids, reference):
                self._quick, self._quick_off = None, True
                helper.close()
                warnings.warn(
                    f"quicktok disagreed with tiktoken on {self.name}; encoding with tiktoken only", stacklevel=2
                )
                return reference
        return ids

    def decode(self, ids: list[int]) -> str:
        return self._enc.decode(ids)

    def _byte_ends(self, ids) -> np.ndarray:
        """Where each token ends, in bytes of the text the ids encode."""
        if self._token_bytes is None:
            self._token_bytes = self._token_byte_lengths()
        return np.cumsum(self._token_bytes[np.asarray(ids, dtype=np.int64)], dtype=np.int64)

    def char_ends(self, text: str, ids) -> np.ndarray:
        byte_ends = self._byte_ends(ids)
        if text.isascii():
            return byte_ends
        # Map byte offsets to character offsets: a token ends in the character that holds its last
        # byte (a byte-level token may end inside a character: that character's end counts). A
        # character starts at every byte that is not a continuation byte (10xxxxxx); a lone
        # surrogate takes 3 bytes, as the replacement character tiktoken encodes for it does.
        data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        owner = np.cumsum((data & 0xC0) != 0x80) - 1
        return owner[byte_ends - 1] + 1

    def _token_byte_lengths(self) -> np.ndarray:
        """Byte length of every token id, computed once so offsets cost one numpy gather per sample:
        from the encoding's own rank table when it has one (5 ms, where decoding each of o200k's
        200,000 tokens took 75 ms a process), else token by token."""
        lengths = np.zeros(self._enc.n_vocab, dtype=np.int64)
        ranks = getattr(self._enc, "_mergeable_ranks", None)
        if isinstance(ranks, dict) and ranks:
            ids = np.fromiter(ranks.values(), np.int64, len(ranks))
            lengths[ids] = np.fromiter(map(len, ranks), np.int64, len(ranks))
            for text, token in self._enc._special_tokens.items():
                lengths[token] = len(text.encode("utf-8"))
            return lengths
        for token in range(self._enc.n_vocab):
            try:
                lengths[token] = len(self._enc.decode_single_token_bytes(token))
            except KeyError:  # unused ids between the vocabulary and the special tokens
                pass
        return lengths


# --------------------------------------------------------------------------- Hugging Face


class HFTokenizer:
    """A Hugging Face `tokenizers` tokenizer from a local path or a Hub id; no special tokens added.

    Its tokenizer.json is someone else's input, so the library runs it in a helper process with a
    deadline on every request (`hf_helper`): a rule that makes the library panic, or one that runs
    for hours, is one `TokenizerError` naming the tokenizer. This class is that surface's one door."""

    # The encodes run in the helper, one at a time: builds do not overlap them with generation
    # (measured in-process with tokenizers 0.23: overlapping only added contention).
    encodes_outside_gil = False

    def __init__(self, spec: str):
        from importlib.metadata import version

        self.name = f"hf:{spec}"
        self.version = f"tokenizers {version('tokenizers')}"  # (read without importing it here)
        path = Path(spec)
        tried: list[str] = []
        self._helper = None
        candidates = [path / "tokenizer.json", path] if path.exists() else []
        for cand in candidates:
            if cand.is_file():
                _check_size(cand, self.name)
                if self._load(str(cand), tried):
                    break
        if self._helper is None and not path.exists():
            file = _from_hub(spec, tried)
            if file is not None:
                _check_size(Path(file), self.name)
                self._load(file, tried)
        if self._helper is None:
            if path.exists() and not tried:
                tried.append(f"{path} has no tokenizer.json")
            raise TokenizerError(
                f"tokenizer 'hf:{spec}' could not be loaded; tried: {'; '.join(tried)}. "
                "Give a folder holding tokenizer.json, the file itself, or a reachable Hub id."
            )

    def _load(self, file: str, tried: list[str]) -> bool:
        """Start a helper on `file`; False (and why, in `tried`) when it cannot load it."""
        helper = TokenizerProcess(file)
        try:
            helper.ask(IDS, b"")  # starts the helper, which loads the file, and checks that it answers
        except HelperFailed as exc:
            helper.close()
            tried.append(f"file {file} ({exc})")
            return False
        self._helper = helper
        return True

    def _ask(self, operation: bytes, payload: bytes) -> bytes:
        try:
            return self._helper.ask(operation, payload)
        except HelperFailed as exc:
            raise TokenizerError(
                f"tokenizer {self.name!r} failed on a text: {exc} (its tokenizer.json holds a rule the "
                "tokenizers library could not apply in time, such as a regular expression that backtracks "
                "without end); use another tokenizer"
            ) from None

    def encode(self, text: str) -> list[int]:
        return self.encode_array(text).tolist()

    def count(self, text: str) -> int:
        return len(self._ask(IDS, _utf8(text))) // 4

    def encode_array(self, text: str) -> np.ndarray:
        return np.frombuffer(self._ask(IDS, _utf8(text)), dtype="<u4").astype(np.int64)

    def count_many(self, texts: list[str]) -> list[int]:
        pieces = [_utf8(t) for t in texts]
        sizes = np.fromiter(map(len, pieces), dtype="<u8", count=len(pieces))
        payload = struct.pack("<Q", len(pieces)) + sizes.tobytes() + b"".join(pieces)
        return np.frombuffer(self._ask(COUNTS, payload), dtype="<u4").astype(np.int64).tolist()

    def decode(self, ids: list[int]) -> str:
        return self._ask(DECODE, np.asarray(ids, dtype="<u4").tobytes()).decode("utf-8")

    def char_ends(self, text: str, ids) -> np.ndarray:
        ends = np.frombuffer(self._ask(ENDS, _utf8(text)), dtype="<u4").astype(np.int64)
        return np.maximum.accumulate(ends if len(ends) else np.zeros(1, np.int64))[: len(ids)]


def _utf8(text: str) -> bytes:
    """A text as the helper reads it (a lone surrogate kept as Python writes it, not refused)."""
    return text.encode("utf-8", "surrogatepass")


MAX_TOKENIZER_BYTES = 256 * 1024 * 1024  # no tokenizer is this large (published tokenizer.json: tens of MB)


def _check_size(path: Path, name: str) -> None:
    """Refuse a tokenizer file too large to be one before the library reads all of it into memory."""
    size = path.stat().st_size
    if size > MAX_TOKENIZER_BYTES:
        raise TokenizerError(
            f"tokenizer {name!r}: {path} holds {size:,} bytes, more than the {MAX_TOKENIZER_BYTES:,} a "
            "tokenizer file may have; give the folder of a real tokenizer.json"
        )


def _from_hub(repo_id: str, tried: list[str]) -> str | None:
    """A Hub tokenizer's file: from the local Hub cache if it is there, else downloaded if the Hub
    answers (checked first, so no network means one error within seconds, not half a minute of retries)."""
    import huggingface_hub  # heavy, and needed only for Hub ids

    try:
        cached = huggingface_hub.try_to_load_from_cache(repo_id, "tokenizer.json")
    except Exception:  # not a valid repo id
        cached = None
    if isinstance(cached, str):
        return cached
    reason = hub_unreachable()
    if reason:
        tried.append(f"Hub id {repo_id!r}: not in the local Hub cache, and {reason}")
        return None
    try:
        where = f"tokenizer 'hf:{repo_id}'"
        return download_hub_file(repo_id, "tokenizer.json", MAX_TOKENIZER_BYTES, TokenizerError, where)
    except TokenizerError:
        raise
    except Exception as exc:
        tried.append(f"Hub id {repo_id!r} ({type(exc).__name__})")
        return None


def get_tokenizer(name: str = DEFAULT_TOKENIZER) -> Tokenizer:
    """Load a tokenizer once per process: a tiktoken encoding name or `hf:<path or hub id>`. A local
    tokenizer is kept by its file (resolved path, size and time), not by the name it was given: the
    same relative path in another folder, or a file edited since, is loaded afresh."""
    if name.startswith("hf:"):
        return _loaded(name, _local_identity(name[3:]))
    return _loaded(name, None)


def _local_identity(spec: str) -> tuple | None:
    """What identifies a local tokenizer file's content, or None (a Hub id, or nothing there)."""
    path = Path(spec)
    file = path / "tokenizer.json" if path.is_dir() else path
    try:
        stat = file.stat()
    except (OSError, ValueError):
        return None
    return (str(file.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _loaded(name: str, identity: tuple | None) -> Tokenizer:
    if name.startswith("hf:"):
        return HFTokenizer(name[3:])
    if name in _ENCODINGS:
        return TiktokenTokenizer(name)
    known = ", ".join(sorted(_ENCODINGS))
    raise TokenizerError(f"unknown tokenizer {name!r}: use one of {known}, or hf:<local path or hub id>")
