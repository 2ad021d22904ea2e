"""User corpora as haystacks: local .txt/.jsonl/.parquet files and a (local) Hugging Face dataset."""

from __future__ import annotations

import json

import polars as pl
import pytest

from longsynth.errors import CorpusError
from longsynth.pipeline import build
from longsynth.spec import load_spec
from longsynth.text.sources import iter_corpus_documents
from longsynth.text.units import split_sentences
from longsynth.tokenizers import get_tokenizer

PARAGRAPH = (
    "The survey team reached the ridge before noon. Their maps were old, but the trail was clear! "
    'Was the weather going to hold? Nobody knew. "Keep walking," said the guide. '
)


def _docs(n: int) -> list[dict]:
    return [{"id": f"doc{i}", "body": f"Chapter {chr(65 + i % 26)}. " + PARAGRAPH * 6} for i in range(n)]


@pytest.fixture
def corpus_files(tmp_path):
    docs = _docs(40)
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("\n".join(json.dumps(d) for d in docs))
    parquet = tmp_path / "c.parquet"
    pl.DataFrame(docs).write_parquet(parquet)
    txt = tmp_path / "c.txt"
    txt.write_text("\n\n".join(d["body"] for d in docs))
    hub_dir = tmp_path / "hub"
    hub_dir.mkdir()
    (hub_dir / "train.jsonl").write_text("\n".join(json.dumps(d) for d in docs))
    return {"jsonl": jsonl, "parquet": parquet, "txt": txt, "hub": hub_dir}


def test_sentence_splitting():
    assert split_sentences(PARAGRAPH) == [
        "The survey team reached the ridge before noon.",
        "Their maps were old, but the trail was clear!",
        "Was the weather going to hold?",
        "Nobody knew.",
        '"Keep walking," said the guide.',
    ]


@pytest.mark.parametrize("kind", ["jsonl", "parquet", "txt", "hub"])
def test_corpus_haystack_builds_and_validates(kind, corpus_files, tmp_path):
    from longsynth.inspect import validate_directory

    corpus = str(corpus_files[kind])
    if kind == "hub":
        corpus = f"hf:{corpus}"
    options = {"haystack": "corpus", "corpus": corpus}
    if kind != "txt":
        options["corpus_text_field"] = "body"
    spec = load_spec(None, tasks="niah_single_2", lengths="2k", depths="0,50,100", samples=1, **options)
    out = build(spec, tmp_path / f"out-{kind}")
    rows = pl.read_parquet(out / "niah_single_2" / "*.parquet").to_dicts()
    assert len(rows) == 3
    assert all("survey team" in r["input"] for r in rows)
    report = validate_directory(out)
    assert report.problems == [] and report.rows == 3


def test_missing_text_field_is_a_clear_error(corpus_files):
    with pytest.raises(CorpusError, match="no field 'text'"):
        list(iter_corpus_documents(str(corpus_files["jsonl"])))


def test_corpus_too_small(corpus_files, tmp_path):
    spec = load_spec(
        None,
        tasks="niah_single_2",
        lengths="32k",
        depths="50",
        samples=1,
        haystack="corpus",
        corpus=str(corpus_files["txt"]),
    )
    with pytest.raises(CorpusError, match="holds .* tokens but a sample needs"):
        build(spec, tmp_path / "small")


def test_parquet_corpus_is_read_in_batches_with_ids_in_order(tmp_path, monkeypatch):
    """A parquet corpus of several row groups and more rows than one read batch: every document,
    in order, numbered across batches; read batch by batch (never the whole table at once)."""
    import pyarrow.parquet as pq

    texts = [f"Document {n} is about tide number {n % 7}." for n in range(3000)]
    path = tmp_path / "docs.parquet"
    pl.DataFrame({"text": texts}).write_parquet(path, row_group_size=700)
    assert pq.ParquetFile(path).metadata.num_row_groups > 1
    read = list(iter_corpus_documents(str(path)))
    assert [t for _, t in read] == texts
    assert [i for i, _ in read] == [f"docs:{n}" for n in range(3000)]
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: pytest.fail("the whole table was read at once"))
    assert len(list(iter_corpus_documents(str(path)))) == 3000


def test_the_prose_pool_is_made_once_per_machine_and_read_back_equal(tmp_path, monkeypatch):
    """The prose haystack's pool is cached (texts and counts) under a key holding the prose code's
    sha256: read back it equals a freshly made pool, and a damaged entry is made again."""
    from longsynth.text import sources

    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path))
    for language in ("en", "zh"):
        sources.prose_pool.cache_clear()
        made = sources._make_prose_pool("cl100k_base", 5000, language)
        first = sources.prose_pool("cl100k_base", 5000, language)
        sources.prose_pool.cache_clear()
        again = sources.prose_pool("cl100k_base", 5000, language)
        assert first.texts == again.texts == made["texts"]
        assert first.tokens.tolist() == again.tokens.tolist() == made["tokens"]
        tokenizer = get_tokenizer("cl100k_base")
        assert (
            again.tokens.sum() >= 5000
            and again.tokens[:3].tolist()
            == sources.UnitPool.from_texts(again.texts[:3], tokenizer, language).tokens.tolist()
        )
    entries = list((tmp_path / "json").glob("prose-pool-*.json"))
    assert len(entries) == 2
    for entry in entries:
        entry.write_bytes(b'{"texts": ["x"], "tokens": [1, 2]}')
    sources.prose_pool.cache_clear()
    assert (
        sources.prose_pool("cl100k_base", 5000, "zh").texts
        == sources._make_prose_pool("cl100k_base", 5000, "zh")["texts"]
    )
    sources.prose_pool.cache_clear()


def _split_whole(text: str, max_chars: int = 1000, language: str = "en") -> list[str]:
    """Sentence units by definition: the whole text split at blank lines, each paragraph's whitespace
    folded, then split at sentence ends and wrapped (what `split_sentences` did before it read a
    paragraph a piece at a time)."""
    import re

    from longsynth.text import units

    out = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = units.normalize(paragraph)
        if language == "zh":
            for sentence in units._SENTENCE_END_ZH.split(paragraph):
                out += units._wrap_zh(sentence.strip(), max_chars)
        else:
            for sentence in units._SENTENCE_END.split(paragraph):
                out += units._wrap(sentence, max_chars)
    return [u for u in out if u]


@pytest.mark.parametrize("fold", [1, 2, 3, 7, 1 << 20])
def test_sentences_read_a_piece_at_a_time_are_the_whole_texts(fold, monkeypatch):
    """Paragraphs are folded and split `FOLD_CHARS` at a time (here as little as one character), on
    random texts of words, sentence ends, quotes, brackets, digits, whitespace of every kind and
    Chinese punctuation: the units are the whole text's, in both languages."""
    import random

    from longsynth.text import units

    monkeypatch.setattr(units, "FOLD_CHARS", fold)
    atoms = ["Word", "word", ".", "!", "?", " ", "  ", "\n", "\n\n", " \n \n ", "\t", '"', "'", "(", ")", "[",
             "]", "A1", "9", "a.", "B", "。", "！", "？", "”", "」", "，", "中文", "字", "\u3000", "\xa0"]  # fmt: skip
    rng = random.Random(fold)
    for _ in range(1500):
        text = "".join(rng.choice(atoms) for _ in range(rng.randint(0, 200)))
        width = rng.choice([3, 10, 1000])
        for language in ("en", "zh"):
            assert split_sentences(text, width, language) == _split_whole(text, width, language), (text, language)


def test_a_huge_document_is_split_only_as_far_as_the_haystack_needs(tmp_path):
    """A .txt corpus of one 12 MB paragraph (a sentence a line): its first units, counted as they
    would be whole, and not many more (it took 40 s and 5 GB at 280 MB); a build on it validates."""
    from longsynth.inspect import validate_directory
    from longsynth.text import sources

    places = ("river", "stone", "orchard")
    sentences = [f"Line {n} tells of the {places[n % 3]} near house {n}." for n in range(250_000)]
    (tmp_path / "big.txt").write_text("\n".join(sentences))
    assert (tmp_path / "big.txt").stat().st_size > 3 * sources.WHOLE_DOCUMENT_CHARS
    corpus = str(tmp_path / "big.txt")
    pool = sources.corpus_pool("cl100k_base", 20_000, corpus, identity=sources.corpus_identity(corpus))
    assert pool.total_tokens >= 20_000 and len(pool.texts) <= 2 * sources.UNIT_BATCH
    assert pool.texts == sentences[: len(pool.texts)]
    tokenizer = get_tokenizer("cl100k_base")
    assert pool.tokens.tolist() == tokenizer.count_many([" " + t for t in pool.texts])
    spec = load_spec(None, tasks="niah_single_2", lengths="8k", samples=2, haystack="corpus", corpus=corpus)
    assert validate_directory(build(spec, tmp_path / "out")).problems == []
