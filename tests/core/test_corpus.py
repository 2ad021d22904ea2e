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
