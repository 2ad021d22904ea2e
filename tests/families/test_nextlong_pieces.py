"""The index's chunks as pieces (`nextlong.pieces`): counts and terms equal to those of whole texts."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import warnings

import numpy as np
import pytest

from longsynth.generators.nextlong import pieces
from longsynth.generators.nextlong.bm25 import TermIds, stop_words, tokens
from longsynth.generators.nextlong.keys import keys_of
from longsynth.tokenizers import get_tokenizer

# Characters the cutting rule is about, and some it must not trust: a second space or line break, a
# tab, a carriage return, an apostrophe, a slash after a line break (o200k's mark runs take it),
# non-ASCII letters (a final sigma lower-cases by its neighbours), digits in runs of three.
ALPHABET = list("aBz19.,/-'!") + [" "] * 4 + ["\n"] * 2 + ["\t", "é", "…", "\r", "ab", "the", "123456", "'s", "ΟΔΟΣ"]


def _texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40))) for _ in range(count)]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_a_texts_pieces_add_up_to_its_count_wherever_the_rule_trusts_every_cut(name, monkeypatch):
    """Random texts: every count the table gives equals the tokenizer's count of the text plus its
    suffix, with the whole-text check off (so the sums themselves are tested); many texts are summed,
    not counted whole. A rule that trusted a mark after a line break would be wrong for o200k."""
    monkeypatch.setattr(pieces, "CHECK_EVERY", 10**9)
    tokenizer = get_tokenizer(name)
    texts = _texts(0, 20_000)
    table = pieces.PieceTable(tokenizer, suffix="\n")
    batch = table.split(texts)
    table.of(batch)
    assert table.counts[0].tolist() == [tokenizer.count(text + "\n") for text in texts]
    assert (~batch.whole).sum() > 2_000
    if name == "o200k_base":
        monkeypatch.setattr(pieces, "PIECE_UNSURE", r"[^!-&(-~] |\n[^!-&(-~]")
        loose = pieces.PieceTable(tokenizer, suffix="\n")
        loose.of(texts)
        assert loose.counts[0].tolist() != [tokenizer.count(text + "\n") for text in texts]


@pytest.mark.parametrize(("slot_bits", "term_store"), [(21, 1 << 23), (3, 40)])
def test_pieces_give_the_terms_and_term_ids_whole_texts_give(slot_bits, term_store, monkeypatch):
    """Batch after batch, the (row, term id) pairs and the vocabulary are those `TermIds` finds in the
    whole texts, with the memo as built and with 8 slots and a store of 40 terms (pieces fighting
    for slots, the memo starting over in most batches)."""
    monkeypatch.setattr(pieces, "SLOT_BITS", slot_bits)
    monkeypatch.setattr(pieces, "TERM_STORE", term_store)
    texts = _texts(1, 3_000) + ["Zebra zebra  ZEBRA\tzebra's", "ΟΔΟΣ ΟΔΟΣ\nİstanbul 日本語 über-cool", ""]
    table, whole = pieces.PieceTable(get_tokenizer("cl100k_base")), TermIds()
    for start in range(0, len(texts), 250):
        batch = texts[start : start + 250]
        got, expected = table.of(batch), whole.of(batch)
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert table.size == whole.size > 50
    assert [k.tolist() for k in table.keys()] == [k.tolist() for k in whole.keys()]


@pytest.mark.parametrize("crowded", [False, True])
def test_term_ids_count_on_in_order_of_first_appearance(crowded, monkeypatch):
    """`TermIds` numbers a build's terms as a dict of them would, batch after batch: in order of first
    appearance, stop words dropped, and the same word the same id in every batch. Crowded: every key
    has the same first slot (each lookup walks the whole run of slots) and the table starts at 2
    slots (doubled again and again, every id placed anew each time)."""
    if crowded:
        monkeypatch.setattr(TermIds, "FIRST_BITS", 1)
        monkeypatch.setattr(TermIds, "_slot", lambda self, key1, key2: np.zeros(len(key1), dtype=np.intp))
    texts = _texts(7, 1_500) + ["Zebra zebra  ZEBRA\tzebra's the", "ΟΔΟΣ ΟΔΟΣ\nİstanbul 日本語 über-cool", ""]
    terms, seen = TermIds(), {}
    stops = set(stop_words())
    for start in range(0, len(texts), 200):
        batch = texts[start : start + 200]
        row, term = terms.of(batch)
        found = tokens(batch)
        expected = [seen.setdefault(t, len(seen)) for t in found["term"].to_list() if t not in stops]
        assert term.tolist() == expected and row.tolist() == found["row"].to_list()
    assert terms.size == len(seen) > 300
    assert [k.tolist() for k in terms.keys()] == [k.tolist() for k in keys_of(list(seen))]


def test_term_ids_do_not_depend_on_the_tables_random_seed(monkeypatch):
    """Each build's table of terms places keys by a random seed (so a corpus cannot pick words that
    share a slot), and the ids, which the index is made of, are the same whatever the seed."""
    from longsynth.generators.nextlong import bm25

    seeds = iter([bytes(8), b"\xff" * 8])
    monkeypatch.setattr(bm25.os, "urandom", lambda size: next(seeds))
    one, other = TermIds(), TermIds()
    assert one._seed != other._seed and not np.array_equal(one._slots, other._slots)
    texts = _texts(3, 1_000)
    for start in range(0, len(texts), 100):
        a, b = one.of(texts[start : start + 100]), other.of(texts[start : start + 100])
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(one._slots, other._slots)
    assert [k.tolist() for k in one.keys()] == [k.tolist() for k in other.keys()]


@pytest.mark.parametrize(("slot_bits", "term_store"), [(20, 1 << 23), (3, 40)])
def test_counts_are_those_of_whole_texts_batch_after_batch(slot_bits, term_store, monkeypatch):
    """Counts summed from the memo's pieces (most of them kept from earlier batches), with the
    whole-text check off so a wrong stored count cannot hide behind it; also with 8 slots and a memo
    that starts over in most batches."""
    monkeypatch.setattr(pieces, "SLOT_BITS", slot_bits)
    monkeypatch.setattr(pieces, "TERM_STORE", term_store)
    monkeypatch.setattr(pieces, "CHECK_EVERY", 10**9)
    tokenizer = get_tokenizer("cl100k_base")
    texts = [
        " ".join(random.Random(n).choices(["alpha", "beta.", "Gamma", "7", "delta\n", "x"], k=30)) for n in range(600)
    ]
    table = pieces.PieceTable(tokenizer, suffix="\n")
    for start in range(0, len(texts), 100):
        table.of(texts[start : start + 100])
    assert np.concatenate(table.counts).tolist() == [tokenizer.count(t + "\n") for t in texts]


class _Recording:
    """cl100k, recording every text it counts."""

    def __init__(self):
        self._inner = get_tokenizer("cl100k_base")
        self.name = self._inner.name
        self.counted: list[str] = []

    def count(self, text: str) -> int:
        self.counted.append(text)
        return self._inner.count(text)

    def count_many(self, texts: list[str]) -> list[int]:
        self.counted += texts
        return self._inner.count_many(texts)


def test_a_piece_is_counted_alone_the_first_time_it_comes_alone_and_only_then(monkeypatch):
    """A piece seen only after spaces has no count alone; the batch where it first starts a text or
    a line counts it alone (and keeps that count), and later batches take it from the memo."""
    monkeypatch.setattr(pieces, "CHECK_EVERY", 10**9)
    tokenizer = _Recording()
    table = pieces.PieceTable(tokenizer)
    batches = [["so Hello there"], ["Hello there", "ok\nthere"], ["Hello so", "there"], ["so Hello"]]
    for batch in batches:
        before = len(tokenizer.counted)
        table.of(batch)
        batch_counted = tokenizer.counted[before:]
        if batch is batches[1]:  # each first time alone (and counted after a space again)
            assert sorted(text for text in batch_counted if not text.startswith(" ")) == ["Hello", "ok\n", "there"]
        if batch in batches[2:]:
            assert batch_counted == []  # every piece, spaced or alone, from the memo
    expected = [tokenizer._inner.count(text) for batch in batches for text in batch]
    assert np.concatenate(table.counts).tolist() == expected


@pytest.mark.parametrize("suffix", ["", "\n"])
def test_the_bytes_are_cut_where_a_split_at_spaces_cuts_the_text(suffix):
    """Each text (with the suffix) cut as `str.split(" ")` cuts it with a space put after each line
    break: the same pieces in order (empty ones included), their texts, which come bare, and their rows."""
    texts = _texts(2, 3_000) + ["", " ", "\n", " \n \n  x\n", "ΟΔΟΣ  é\n\n"]
    split = pieces.split(texts, suffix)
    batch = pieces._Pieces.of(split)
    expected = [(t + suffix).replace("\n", "\n ").split(" ") for t in texts]
    flat = [piece for parts in expected for piece in parts]
    assert batch.texts(split.data, np.arange(len(batch.start))) == flat
    bare = [n == 0 or parts[n - 1].endswith("\n") for parts in expected for n in range(len(parts))]
    assert batch.bare.tolist() == bare
    assert batch.owner.tolist() == [row for row, parts in enumerate(expected) for _ in parts]
    assert batch.first.tolist() == np.cumsum([0] + [len(parts) for parts in expected[:-1]]).tolist()


def test_a_pieces_keys_are_its_own_wherever_it_stands():
    """Every occurrence of a piece has the same two keys, whatever bytes stand around it, and
    different pieces have different keys: short ones that differ only in a zero byte or in length,
    and long ones (hashed) that share their first 8 or 16 bytes."""
    rng = random.Random(3)
    words = ["a", "a\x00", "\x00", "", "abcdefgh", "abcdefghi", "abcdefgh\x00", "abcdefghijklmnop", "abcdefghijklmnopq"]
    words += ["".join(rng.choice("xyzé ") for _ in range(rng.randint(1, 40))).replace(" ", "") for _ in range(3_000)]
    texts = [" ".join(rng.choices(words, k=25)) for _ in range(400)]
    split = pieces.split(texts, "\n")
    batch = pieces._Pieces.of(split)
    found = batch.texts(split.data, np.arange(len(batch.start)))
    first, second = batch.keys
    keys = list(zip(first.tolist(), second.tolist(), strict=True))
    by_text: dict[str, set] = {}
    for text, key in zip(found, keys, strict=True):
        by_text.setdefault(text, set()).add(key)
    assert all(len(held) == 1 for held in by_text.values())
    assert len({next(iter(held)) for held in by_text.values()}) == len(by_text) > 2_000


def test_long_pieces_whose_first_keys_agree_are_told_apart_by_the_second():
    """Every piece given one first key: the second alone keeps the (hashed, more than 8 bytes)
    pieces apart, batch after batch, in terms and counts."""
    tokenizer = get_tokenizer("cl100k_base")
    table = pieces.PieceTable(tokenizer)
    found = []
    for text in ("alphabetical betamaxes", "betamaxes alphabetical", "alphabetical alphabetical betamaxes"):
        batch = pieces.split([text])
        second = pieces._Pieces.of(batch).keys[1]
        assert (second >= 1 << 63).all()  # both hashed
        batch = dataclasses.replace(batch, keys=(np.full(len(second), 12345, dtype=np.uint64), second))
        found.append(table.of(batch)[1].tolist())
        assert table.counts[-1].tolist() == [tokenizer.count(text)]
    assert found == [[0, 1], [1, 0], [0, 0, 1]]
    assert [k.tolist() for k in table.keys()] == [k.tolist() for k in keys_of(["alphabetical", "betamaxes"])]


class _OffByOne:
    """cl100k, but its whole-text count says one token more than its pieces add up to."""

    def __init__(self):
        self._inner = get_tokenizer("cl100k_base")
        self.name = "off-by-one"

    def count(self, text: str) -> int:
        return self._inner.count(text) + 1

    def count_many(self, texts: list[str]) -> list[int]:
        return [self._inner.count(text) + 1 for text in texts]


def test_a_whole_text_count_that_disagrees_turns_piece_counting_off():
    """The first checked text that disagrees: a warning, and every text from then on is counted whole."""
    tokenizer = _OffByOne()
    table = pieces.PieceTable(tokenizer)
    texts = [f"word{n} and more words here" for n in range(50)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table.of(texts)
        table.of(texts)
    assert any("did not add up" in str(w.message) for w in caught)
    assert table.counts[0].tolist() == table.counts[1].tolist() == tokenizer.count_many(texts)


def _index_digest(tmp_path, monkeypatch, corpus: str, tokenizer: str, by_pieces: bool) -> str:
    from longsynth.pipeline import make_generator
    from longsynth.spec import load_spec
    from longsynth.tokenizers import TiktokenTokenizer

    monkeypatch.setattr(TiktokenTokenizer, "counts_by_pieces", property(lambda self: by_pieces))
    cache = tmp_path / f"cache-{by_pieces}"
    monkeypatch.setenv("LONGSYNTH_CACHE", str(cache))
    spec = load_spec(
        None, generator="nextlong", tasks="nextlong", lengths="8k", samples=1, corpus=corpus, tokenizer=tokenizer
    )
    make_generator(spec).index  # noqa: B018
    digest = hashlib.sha256()
    files = [
        p for p in sorted((cache / "index").rglob("*")) if p.is_file() and p.name not in ("meta.json", "builds.log")
    ]
    assert any(p.name == "chunks.parquet" for p in files)  # (each chunk's token count)
    for path in files:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("tokenizer", ["cl100k_base", "o200k_base"])
def test_the_index_is_the_same_counted_by_pieces_or_whole(tmp_path, monkeypatch, tokenizer):
    """Every file of the index (the chunks' token counts, the BM25 matrix and vocabulary) is the same
    byte for byte whether chunks are counted by their pieces or whole, on a made-up corpus and on text
    with double spaces, tabs, carriage returns, indentation and non-ASCII letters."""
    corpus = tmp_path / "messy.jsonl"
    rng = random.Random(3)
    lines = []
    for n in range(300):
        words = [
            rng.choice(["The", "licence", "grants", "you", "rights;", "über", "İ", "(c)", "2024", "/usr", "--"])
            for _ in range(200)
        ]
        text = " ".join(words)
        text = text.replace("you", "you  ") if n % 3 == 0 else text.replace("rights;", "rights;\r\n\t")
        lines.append(json.dumps({"id": f"d{n}", "text": text + "\n\n  indented line\nlast"}))
    corpus.write_text("\n".join(lines))
    for source in (str(corpus), "builtin-zipf:1500"):
        with_pieces = _index_digest(tmp_path / "a", monkeypatch, source, tokenizer, True)
        whole = _index_digest(tmp_path / "b", monkeypatch, source, tokenizer, False)
        assert with_pieces == whole, source


def test_a_batch_ends_at_its_character_bound_even_inside_a_document(tmp_path, monkeypatch):
    """Batches end at `BATCH_CHARS` characters or `BATCH` chunks, inside a document when it is long (a
    .txt corpus is one document of up to 512 MiB), and the index is the same bytes as with larger
    batches."""
    from longsynth.generators.nextlong import retrieval
    from longsynth.generators.nextlong.chunking import chunk_document

    corpus = tmp_path / "long.jsonl"
    rng = random.Random(5)
    words = ["alpha", "beta", "gamma.", "delta\n", "Epsilon", "7"]
    docs = [" ".join(rng.choices(words, k=rng.randint(50, 3000))) for _ in range(40)]
    corpus.write_text("\n".join(json.dumps({"id": f"d{n}", "text": t}) for n, t in enumerate(docs)))
    digest = _index_digest(tmp_path / "a", monkeypatch, str(corpus), "cl100k_base", True)
    batches: list[list[str]] = []
    original = pieces.PieceTable.of

    def of(self, batch):
        batches.append([text.removesuffix(retrieval.UNIT_END) for text in batch.series.to_list()])
        return original(self, batch)

    monkeypatch.setattr(pieces.PieceTable, "of", of)
    monkeypatch.setattr(retrieval, "BATCH_CHARS", 5_000)
    monkeypatch.setattr(retrieval, "BATCH", 4)
    assert _index_digest(tmp_path / "b", monkeypatch, str(corpus), "cl100k_base", True) == digest
    # Each batch ends with the chunk that brings it to BATCH chunks or BATCH_CHARS characters
    expected: list[list[str]] = [[]]
    for chunk in (chunk.text for doc in docs for chunk in chunk_document(doc, 2048)):
        expected[-1].append(chunk)
        if len(expected[-1]) == 4 or sum(map(len, expected[-1])) >= 5_000:
            expected.append([])
    assert batches == [batch for batch in expected if batch]
    assert any(len(batch) < 4 for batch in batches[:-1])  # ended by characters
    assert any(len(batch) == 4 and sum(map(len, batch)) < 5_000 for batch in batches)  # by chunks
    assert max(len(t) for t in docs) > 3 * 5_000  # some batches ended inside a document
