"""The nextlong family: spans, sources and lengths checked independently; index cache; edge cases."""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from longsynth.errors import CorpusError
from longsynth.generators.nextlong.synthetic_corpus import synthetic_document
from longsynth.inspect import validate_directory
from longsynth.pipeline import build, make_generator
from longsynth.spec import load_spec
from longsynth.tokenizers import get_tokenizer


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A jsonl corpus of 400 documents, with a few far longer than the target."""
    path = tmp_path_factory.mktemp("corpus") / "docs.jsonl"
    with path.open("w") as handle:
        for n in range(400):
            doc_id, text = synthetic_document(n, seed=7)
            if n % 97 == 0:
                text = "\n".join([text] * 80)  # far longer than a 16K target
            handle.write(json.dumps({"id": doc_id, "text": text}) + "\n")
    return path


def _rows(out, task):
    return pl.read_parquet(sorted(out.glob(f"{task}/*.parquet"))).to_dicts()


def _docs(corpus):
    return {r["id"]: r["text"] for r in map(json.loads, corpus.read_text().splitlines())}


@pytest.mark.parametrize("task", ["nextlong", "concat_random", "concat_knn"])
def test_build_and_independent_check(corpus, tmp_path, task):
    spec = load_spec(None, generator="nextlong", tasks=task, lengths="16k", samples=6, corpus=str(corpus))
    out = build(spec, tmp_path / task)
    assert validate_directory(out).problems == []
    docs = _docs(corpus)
    enc = get_tokenizer("cl100k_base")._enc
    rows = _rows(out, task)
    assert len(rows) == 6 and len({r["source_id"] for r in rows}) == 6
    for row in rows:
        text, chunks = row["text"], json.loads(row["metadata"])["chunks"]
        assert 16384 - 32 <= len(enc.encode_ordinary(text)) == row["length"] <= 16384
        # spans tile the text: each chunk then a newline, the last one possibly cut
        assert chunks[0]["char_start"] == 0
        for a, b in zip(chunks, chunks[1:], strict=False):
            assert b["char_start"] == a["char_end"] + 1 and text[a["char_end"]] == "\n"
        # meta-chunks are the source document, in order, and rebuild it
        metas = [text[c["char_start"] : c["char_end"]] for c in chunks if c["role"] == "meta"]
        source = docs[row["source_id"]]
        pos = 0
        for piece in metas:
            found = source.find(piece, pos)
            assert found == pos
            pos = found + len(piece)
            while pos < len(source) and source[pos] == "\n":
                pos += 1
        assert pos == len(source)
        # negatives: other documents' text, never the same chunk twice
        negatives = [c for c in chunks if c["role"] == "negative"]
        assert negatives and all(c["doc_id"] != row["source_id"] for c in negatives)
        assert len({c["chunk"] for c in chunks}) == len(chunks)
        for c in negatives[:-1]:
            assert text[c["char_start"] : c["char_end"]] in docs[c["doc_id"]]


def test_nextlong_negatives_are_topical(tmp_path):
    spec = load_spec(None, generator="nextlong", tasks="nextlong", lengths="8k", samples=3, corpus="builtin:600")
    for row in _rows(build(spec, tmp_path / "t"), "nextlong"):
        chunks = json.loads(row["metadata"])["chunks"]
        topic = row["text"].split(",")[0]  # "Notes on <topic>"
        heads = [row["text"][c["char_start"] : c["char_end"]].split(",")[0] for c in chunks if c["role"] == "negative"]
        titled = [h for h in heads if h.startswith("Notes on")]
        assert titled and sum(h == topic for h in titled) / len(titled) > 0.8


def test_placement_tail_puts_meta_after_negatives(tmp_path):
    spec = load_spec(
        None, generator="nextlong", tasks="nextlong", lengths="8k", samples=2, placement="tail", corpus="builtin:600"
    )
    for row in _rows(build(spec, tmp_path / "p"), "nextlong"):
        roles = [c["role"] for c in json.loads(row["metadata"])["chunks"]]
        assert roles[0] == "negative" and "meta" in roles


def test_index_is_cached_and_reused(corpus, tmp_path):
    import longsynth.generators.nextlong.generator as nl

    spec = load_spec(
        None, generator="nextlong", tasks="nextlong", lengths="8k", samples=1, corpus=str(corpus), chunk_size=1024
    )
    nl._index.cache_clear()
    first = make_generator(spec).index
    nl._index.cache_clear()
    second = make_generator(spec).index
    assert first.built and not second.built
    assert first.chunk_texts == second.chunk_texts
    assert (first.chunk_tokens == second.chunk_tokens).all()
    # a different chunking is a different index
    nl._index.cache_clear()
    other = make_generator(
        load_spec(
            None, generator="nextlong", tasks="nextlong", lengths="8k", samples=1, corpus=str(corpus), chunk_size=512
        )
    ).index
    assert other.built and len(other.chunk_texts) > len(first.chunk_texts)


def _flip_a_byte(path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x20
    path.write_bytes(bytes(data))


def test_a_damaged_index_is_never_used(tmp_path, monkeypatch):
    """An index file edited after its build is found out: the matrix, counts and offsets by their
    sha256 when loaded (the index is rebuilt), a chunk's text by its checksum when read (one error,
    the entry removed, and the next build rebuilds it). Every build that finishes writes the bytes of
    a clean one."""
    from click.testing import CliRunner

    import longsynth.generators.nextlong.generator as nl
    from longsynth.cli import cli

    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    args = ["build", "--generator", "nextlong", "--task", "nextlong", "--lengths", "2k", "--samples", "3"]
    args += ["--set", "corpus=builtin:300", "--overwrite"]

    def run(name: str) -> tuple[int, str, dict[str, bytes]]:
        nl._index.cache_clear()
        result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / name)], obj={})
        files = {str(f.relative_to(tmp_path / name)): f.read_bytes() for f in (tmp_path / name).rglob("*.parquet")}
        return result.exit_code, result.output, files

    code, _, clean = run("clean")
    assert code == 0 and clean
    (entry,) = (tmp_path / "cache" / "index").glob("*/meta.json")
    entry = entry.parent
    _flip_a_byte(entry / "retriever" / "data.npy", -5)  # a score
    code, _, files = run("after_matrix")
    assert code == 0 and files == clean
    builds = (tmp_path / "cache" / "index" / "builds.log").read_text().splitlines()
    assert len(builds) == 2  # found out at load, and rebuilt
    _flip_a_byte(entry / "texts.bin", 10)  # a letter of the first chunk, which the first sample uses
    code, output, _ = run("after_text")
    assert code == 2 and "is damaged" in output and "Traceback" not in output
    assert not entry.exists()
    code, _, files = run("rebuilt")
    assert code == 0 and files == clean


@pytest.mark.parametrize("damage", ["out of range", "one id twice", "keys out of order"])
def test_term_files_replaced_and_rehashed_are_found_out_and_rebuilt(damage, tmp_path, monkeypatch):
    """meta.json records the files' sha256s but is not hashed itself: term files replaced by valid
    .npy files and rehashed there (a shared cache someone else writes) fail the load's checks of the
    term files, and the entry is rebuilt; the build writes the bytes of a clean one. (Before, ids out
    of range made every sample be dropped, with a message about the corpus.)"""
    from click.testing import CliRunner

    import longsynth.generators.nextlong.generator as nl
    from longsynth.cli import cli

    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    args = ["build", "--generator", "nextlong", "--task", "nextlong", "--lengths", "2k", "--samples", "3"]
    args += ["--set", "corpus=builtin:300", "--overwrite"]

    def run(name: str) -> tuple[int, dict[str, bytes]]:
        nl._index.cache_clear()
        result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / name)], obj={})
        files = {str(f.relative_to(tmp_path / name)): f.read_bytes() for f in (tmp_path / name).rglob("*.parquet")}
        return result.exit_code, files

    code, clean = run("clean")
    assert code == 0 and clean
    (entry,) = (tmp_path / "cache" / "index").glob("*/meta.json")
    entry = entry.parent
    name = "term_key1.npy" if damage == "keys out of order" else "term_id.npy"
    values = np.load(entry / "retriever" / name)
    if damage == "out of range":
        values[:] = 10**9
    elif damage == "one id twice":
        values[1] = values[0]
    else:
        values = values[::-1].copy()
    np.save(entry / "retriever" / name, values)
    meta = json.loads((entry / "meta.json").read_text())
    meta["sha256"][f"retriever/{name}"] = hashlib.sha256((entry / "retriever" / name).read_bytes()).hexdigest()
    (entry / "meta.json").write_text(json.dumps(meta))
    code, files = run("after")
    assert code == 0 and files == clean
    assert len((tmp_path / "cache" / "index" / "builds.log").read_text().splitlines()) == 2  # rebuilt


def test_indexes_an_older_longsynth_built_of_the_same_corpus_are_removed_when_it_is_rebuilt(tmp_path, monkeypatch):
    """After an upgrade, the new index of a corpus is built under a new key; the old format's entries of
    the same spec would stay for good (4.2 GB at a million documents). Building it removes exactly
    those: not other corpora's, not this format's, not a link, a folder being written, a folder with
    another name or an unreadable meta.json; it says so on stderr and in builds.log."""
    import shutil

    from click.testing import CliRunner

    import longsynth.generators.nextlong.generator as nl
    from longsynth.cli import cli
    from longsynth.generators.nextlong.retrieval import INDEX_FORMAT

    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    args = ["build", "--generator", "nextlong", "--task", "nextlong", "--lengths", "2k", "--samples", "2"]
    args += ["--set", "corpus=builtin:300", "--overwrite"]

    def run(name: str):
        nl._index.cache_clear()
        result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / name)], obj={})
        assert result.exit_code == 0, result.output
        return result, {f.name: f.read_bytes() for f in (tmp_path / name).rglob("*.parquet")}

    _, clean = run("first")
    root = tmp_path / "cache" / "index"
    (current,) = (p.parent for p in root.glob("*/meta.json"))
    meta = json.loads((current / "meta.json").read_text())
    assert meta["format"] == INDEX_FORMAT

    def entry(folder: Path, **changes) -> Path:
        shutil.copytree(current, folder, symlinks=True)
        written = {**meta, **changes}
        written = {k: v for k, v in written.items() if v is not None}
        (folder / "meta.json").write_text(json.dumps(written))
        return folder

    old = [
        entry(root / ("a" * 24), format=None),  # before format 7: no format recorded
        entry(root / ("b" * 24), format=INDEX_FORMAT - 1),
        entry(root / ("c" * 24 + "-part1of2"), format=5),
    ]
    outside = entry(tmp_path / "elsewhere", format=None)
    kept = [
        entry(root / ("d" * 24), format=None, spec={**meta["spec"], "corpus": "builtin:301"}),  # another corpus
        entry(root / ("e" * 24), spec={**meta["spec"], "chunk_size": 1024}),  # another chunking
        entry(root / ("f" * 24)),  # this format
        entry(root / f".{'a' * 24}.1.2.tmp", format=None),  # being written
        entry(root / "notes", format=None),  # not an index key
    ]
    (root / ("9" * 24)).symlink_to(outside, target_is_directory=True)
    kept.append(root / ("9" * 24))
    unreadable = entry(root / ("8" * 24))
    (unreadable / "meta.json").write_text("{not json")
    kept.append(unreadable)

    # a load removes nothing; the build that writes this format's entry removes the old ones
    result, _ = run("loaded")
    assert all(folder.exists() for folder in old)
    shutil.rmtree(current)
    result, files = run("rebuilt")
    assert files == clean
    assert current.exists() and not any(folder.exists() for folder in old)
    assert all(folder.exists() for folder in kept) and (outside / "meta.json").exists()
    assert "removed 3 index folder(s) of 'builtin:300'" in result.stderr
    log = (root / "builds.log").read_text()
    assert all(f"removed {folder.name} " in log for folder in old)

    # a dense index has a format of its own too: one of this INDEX_FORMAT but an older DENSE_FORMAT goes
    from dataclasses import replace

    from longsynth.generators.nextlong.retrieval import DENSE_FORMAT, IndexSpec, remove_superseded

    dense = replace(IndexSpec(**meta["spec"]), retriever="dense")
    dense_meta = {**meta, "spec": json.loads(json.dumps(dense.__dict__))}
    older = entry(root / ("7" * 24), spec=dense_meta["spec"])  # (no dense_format: before 2)
    current_dense = entry(root / ("6" * 24), spec=dense_meta["spec"], dense_format=DENSE_FORMAT)
    assert remove_superseded(dense) == [older] and current_dense.exists() and (root / ("f" * 24)).exists()


def test_chunk_texts_read_again_come_from_the_recent_ones_within_their_bound(tmp_path, monkeypatch):
    """A chunk text asked for again is not read from the file again while it is among the last
    `RECENT_CHARS` characters read; the kept texts never pass that bound (one text longer than it
    is kept alone), and what is returned is always the file's text."""
    import zlib

    from longsynth.generators.nextlong.retrieval import TextColumn

    texts = [f"chunk {n} " + "x" * (n % 7) * 10 for n in range(40)]
    data = [t.encode() for t in texts]
    (tmp_path / "texts.bin").write_bytes(b"".join(data))
    np.save(tmp_path / "offsets.npy", np.concatenate([[0], np.cumsum([len(d) for d in data])]).astype(np.int64))
    np.save(tmp_path / "checksums.npy", np.array([zlib.crc32(d) for d in data], dtype=np.uint32))
    column = TextColumn(tmp_path)
    monkeypatch.setattr(TextColumn, "RECENT_CHARS", 200)
    reads = []
    real = TextColumn._read
    monkeypatch.setattr(TextColumn, "_read", lambda self, n: reads.append(n) or real(self, n))
    rng = np.random.default_rng(3)
    for n in rng.integers(0, 40, size=500).tolist():
        assert column[n] == texts[n]
        assert column._recent_chars == sum(len(t) for t in column._recent.values()) <= 200
    assert 40 <= len(reads) < 500
    reads.clear()
    assert column[5] == texts[5] and column[5] == texts[5] and reads.count(5) <= 1
    monkeypatch.setattr(TextColumn, "RECENT_CHARS", 3)
    absent = next(n for n in range(40) if n not in column._recent)
    assert column[absent] == texts[absent] and list(column._recent) == [absent]  # longer than the bound: kept alone


def test_postings_rows_read_again_come_from_the_recent_ones_within_their_bound(tmp_path, monkeypatch):
    """A term's postings asked for again are not read from the files again while they are among the
    last `ROW_CACHE_BYTES` read; the kept rows never pass that bound, a search gives the same hits
    with rows kept or read anew, and another process (a pickled copy) starts with no kept rows."""
    import pickle

    from longsynth.generators.nextlong.bm25 import Bm25

    rng = np.random.default_rng(5)
    words = [f"word{n}" for n in range(60)]
    chunks = [" ".join(rng.choice(words, size=int(rng.integers(5, 40)))) for _ in range(300)]
    Bm25.write([chunks[:150], chunks[150:]], tmp_path / "bm25")
    index = Bm25.load(tmp_path / "bm25")
    fresh = Bm25.load(tmp_path / "bm25")
    monkeypatch.setattr(Bm25, "ROW_CACHE_BYTES", 4_000)
    reads = []
    real = index._indices.read
    index._indices.read = lambda start, end: reads.append((start, end)) or real(start, end)
    for term in rng.integers(0, index.terms, size=400).tolist():
        ids, scores = index.row(term)
        start, end = int(index.indptr[term]), int(index.indptr[term + 1])
        assert ids.tolist() == fresh._indices.read(start, end).tolist()
        assert scores.tolist() == fresh._scores.read(start, end).tolist()
        assert index._row_bytes == sum(a.nbytes + b.nbytes for a, b in index._rows.values()) <= 4_000
    assert index.terms <= len(reads) < 400
    queries = chunks[:20]
    kept, read = index.search_many(queries, 10), fresh.search_many(queries, 10)
    for (a_ids, a_scores), (b_ids, b_scores) in zip(kept, read, strict=True):
        assert a_ids.tolist() == b_ids.tolist() and a_scores.tolist() == b_scores.tolist()
    copy = pickle.loads(pickle.dumps(index))
    assert not copy._rows and copy._row_bytes == 0 and copy.row(3)[0].tolist() == index.row(3)[0].tolist()
    from longsynth.generators.nextlong.retrieval import PartRetriever

    PartRetriever([copy, fresh], np.array([0, 300, 600]))  # an index in parts: they share one budget
    assert copy.ROW_CACHE_BYTES == fresh.ROW_CACHE_BYTES == 2_000 == Bm25.ROW_CACHE_BYTES // 2


def test_long_documents_are_skipped_and_counted(corpus, tmp_path):
    spec = load_spec(None, generator="nextlong", tasks="nextlong", lengths="16k", samples=8, corpus=str(corpus))
    out = build(spec, tmp_path / "skip")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["generator_stats"]["skipped_long_documents"]["16384"] == 5
    long_ids = {f"synthetic-{n}" for n in range(0, 400, 97)}
    assert not {r["source_id"] for r in _rows(out, "nextlong")} & long_ids


def test_corpus_too_small_is_a_clear_error(tmp_path):
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(json.dumps({"id": str(n), "text": f"Short document number {n}."}) for n in range(5)))
    spec = load_spec(None, generator="nextlong", tasks="nextlong", lengths="16k", samples=2, corpus=str(small))
    with pytest.raises(CorpusError, match="fewer than one 16384-token sample"):
        build(spec, tmp_path / "out")


def test_short_samples_are_dropped_and_counted(tmp_path):
    # Half the documents share no word with any other: BM25 finds no negatives for them, so their
    # samples come out short and are dropped (never padded); the topical half fills up.
    import random

    rng = random.Random(3)
    words = lambda n: " ".join("".join(rng.choice("qxzjkvw") for _ in range(9)) + str(n) for _ in range(200))  # noqa: E731
    docs = [synthetic_document(n)[1] for n in range(20)] + [words(n) for n in range(20)]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(json.dumps({"id": str(n), "text": t}) for n, t in enumerate(docs)))
    spec = load_spec(None, generator="nextlong", tasks="nextlong", lengths="8k", samples=30, corpus=str(corpus))
    out = build(spec, tmp_path / "out")
    manifest = json.loads((out / "manifest.json").read_text())
    dropped = manifest["dropped"]["nextlong"]
    assert dropped > 0 and manifest["counts"]["nextlong"] + dropped == 30
    assert validate_directory(out).problems == []


def test_documents_with_a_blank_run_tiktoken_cannot_take_never_reach_a_row(tmp_path):
    """A corpus whose every third document holds 120,000 spaces in a row (a scraped page's padding):
    tiktoken cannot take such a text, and a build used to stop at the first sample that held one.
    Now such a document is left out of the index, and counted: never a source, a negative or an
    appended document. Another third hold 99,999 in a row, which their chunks, each closed by its line
    break in a sample, can bring to 100,000: such a document is never a source (its samples are
    dropped and counted) nor appended. The build goes on, and every row is valid and holds no run."""
    import re

    from longsynth.pipeline import plan
    from longsynth.tokenizers import BLANK_RUN_LIMIT

    rng = np.random.default_rng(2)
    vocabulary = [f"w{n}" for n in range(400)]
    texts = {}
    for n in range(60):
        words = " ".join(rng.choice(vocabulary, size=300))
        blanks = {0: 120_000, 1: 99_999}.get(n % 3, 0)
        texts[f"d{n}"] = words[:700].rstrip() + " " * blanks + words[700:].lstrip() if blanks else words
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": k, "text": t}) + "\n" for k, t in texts.items()))
    held = {k for k, t in texts.items() if max(len(r) for r in re.findall(r"\s+", t)) >= BLANK_RUN_LIMIT}
    assert len(held) == 20
    tasks = "nextlong,concat_random,concat_knn"
    spec = load_spec(None, generator="nextlong", tasks=tasks, lengths="2k", samples=6, corpus=str(corpus))
    out = build(spec, tmp_path / "out")

    generator = make_generator(spec)
    index = generator.index
    assert set(index.doc_ids.to_list()) == set(texts) - held
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["generator_stats"]["skipped_blank_run_documents"] == 20

    def joined_run(doc: int) -> bool:  # the document's chunks as a sample lays them out
        joined = "".join(index.chunk_texts[c] + "\n" for c in index.chunks_of(doc))
        return max(len(r) for r in re.findall(r"\s+", joined)) >= BLANK_RUN_LIMIT

    sources = [generator.source(cell) for cells in plan(spec).values() for cell in cells]
    expected = sum(map(joined_run, sources))
    assert 0 < expected < len(sources) and sum(manifest["dropped"].values()) == expected
    # and no draw was refused: no document appended to another's brought its run along
    assert sum(shard["invalid"] for shards in manifest["shards"].values() for shard in shards) == 0
    written = [row for task in tasks.split(",") for row in _rows(out, task)]
    assert len(written) == len(sources) - expected
    for row in written:
        assert max(len(r) for r in re.findall(r"\s+", row["text"])) < BLANK_RUN_LIMIT
        assert row["source_id"] not in held
    assert validate_directory(out).problems == []

    # The count comes back from the cache; an entry whose count was edited, or that has none (written
    # before it was kept, when such documents were indexed), is rebuilt. An index in parts adds theirs.
    import longsynth.generators.nextlong.generator as nl

    meta_file = generator.index_spec.shard_folder(0) / "meta.json"
    for edited in (-1, "20", None):
        meta = json.loads(meta_file.read_text())
        assert meta["skipped_blank_runs"] == 20
        meta.pop("skipped_blank_runs") if edited is None else meta.update(skipped_blank_runs=edited)
        meta_file.write_text(json.dumps(meta))
        nl._index.cache_clear()
        assert make_generator(spec).index.skipped_blank_runs == 20
    parts = load_spec(None, **{**spec.to_dict(), "index_shards": 2})
    assert make_generator(parts).report()["skipped_blank_run_documents"] == 20


def test_a_corpus_with_base64_blobs_builds(tmp_path):
    """Every fourth document holds a line of 60,000 base64 characters (no blank to cut at): a chunk
    the fill could not cut, so every draw of a concat sample that reached one missed its length and
    the build stopped. Now such a chunk is cut between characters where a sample ends in it; every
    sample is made and valid, and some end inside a blob."""
    import base64
    import random

    rng = random.Random(9)
    vocabulary = [f"w{n}" for n in range(400)]
    lines = []
    for n in range(60):
        words = " ".join(rng.choice(vocabulary) for _ in range(600))
        blob = base64.b64encode(rng.randbytes(45_000)).decode()
        text = words[:500] + "\n" + blob + "\n" + words[500:] if n % 4 == 0 else words
        lines.append(json.dumps({"id": f"d{n}", "text": text}) + "\n")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(lines))
    spec = load_spec(
        None, generator="nextlong", tasks="concat_random,nextlong", lengths="4k", samples=6, corpus=str(corpus)
    )
    out = build(spec, tmp_path / "out")
    rows = _rows(out, "concat_random") + _rows(out, "nextlong")
    assert len(rows) == 12 and validate_directory(out).problems == []
    index = make_generator(spec).index
    ends = [json.loads(row["metadata"])["chunks"][-1] for row in rows]
    assert any(end.get("cut") and " " not in index.chunk_texts[end["chunk"]] for end in ends)


def test_a_meta_chunk_whose_best_hits_are_short_takes_more_of_them(tmp_path, monkeypatch):
    """BM25 favours short chunks, so a meta-chunk's k best hits can fall short of its share; the same
    draw is then made with more candidates, not dropped. On the Zipf corpus 3 of 20 8K samples were
    dropped so; now none is, every row validates, and a row that filled at once keeps its bytes."""
    spec = load_spec(None, generator="nextlong", tasks="nextlong", lengths="8k", samples=20, corpus="builtin-zipf:5000")
    _fills_what_was_dropped(spec, "WIDEN", (1,), tmp_path, monkeypatch)  # before: k candidates, then the drop


def _fills_what_was_dropped(spec, constant: str, before, tmp_path, monkeypatch) -> list[dict]:
    """Build `spec`: no sample dropped, every row valid. Then with the generator's `constant` set to
    `before` (the code before): some dropped, and every row it writes equal to this build's. The rows."""
    from longsynth.generators.nextlong import generator as nextlong

    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    (task,) = spec.tasks
    out = build(spec, tmp_path / "now")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"][task] == spec.samples and manifest["dropped"][task] == 0
    assert validate_directory(out).problems == []
    monkeypatch.setattr(nextlong, constant, before)
    earlier = build(spec, tmp_path / "before")
    assert json.loads((earlier / "manifest.json").read_text())["dropped"][task] > 0
    rows = {row["id"]: row for row in _rows(out, task)}
    kept = _rows(earlier, task)
    assert kept and all(rows[row["id"]] == row for row in kept)
    return list(rows.values())


def test_input_ids_column(tmp_path):
    spec = load_spec(
        None, generator="nextlong", tasks="concat_random", lengths="4k", samples=2, input_ids=True, corpus="builtin:300"
    )
    out = build(spec, tmp_path / "ids")
    tok = get_tokenizer("cl100k_base")
    for row in _rows(out, "concat_random"):
        assert row["input_ids"] == tok.encode(row["text"]) and len(row["input_ids"]) == row["length"]


def test_dense_encoder_must_be_wordllama_or_a_local_folder(tmp_path):
    from longsynth.errors import SpecError

    spec = load_spec(
        None,
        generator="nextlong",
        tasks="nextlong",
        lengths="4k",
        samples=1,
        retriever="dense",
        corpus="builtin:50",
        encoder=str(tmp_path / "no-such-model"),
    )
    with pytest.raises(SpecError, match="not wordllama or a local model folder|sentence-transformers"):
        build(spec, tmp_path / "d")


def test_a_model_folder_that_could_run_code_is_refused(tmp_path):
    """encoder=<folder> names someone's sentence-transformers folder, which that library would load
    running its code: a .py file (a module class in modules.json is loaded from the folder's own
    code), a class named outside sentence_transformers and torch (a Dense module's activation is
    imported and called; a Router's routes too), pickled weights with no .safetensors beside them.
    Each is refused before anything loads it (sentence-transformers need not be installed); a
    folder of safetensors and the library's own modules passes, pickles beside safetensors too."""
    from longsynth.errors import SpecError
    from longsynth.generators.nextlong.retrieval import check_model_folder

    module = {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
    dense = {"idx": 1, "name": "1", "path": "1_Dense", "type": "sentence_transformers.models.Dense"}
    tanh = {"in_features": 8, "out_features": 4, "activation_function": "torch.nn.modules.activation.Tanh"}

    def folder(name: str, files: dict[str, object]) -> Path:
        for file, content in files.items():
            (tmp_path / name / file).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name / file).write_text(content if isinstance(content, str) else json.dumps(content))
        return tmp_path / name

    fine = {
        "model.safetensors": "",
        "modules.json": [module, dense],
        "1_Dense/config.json": tanh,
        "1_Dense/model.safetensors": "",
        "config.json": {"model_type": "bert", "tokenizer_class": "BertTokenizer"},
    }
    assert check_model_folder(folder("fine", fine)) is None
    assert check_model_folder(folder("both", {**fine, "pytorch_model.bin": "pickle"})) is None
    pickled = folder("pickled", {"config.json": "{}", "pytorch_model.bin": "pickle"})
    spec = load_spec(None, generator="nextlong", tasks="nextlong", lengths="4k", samples=1, retriever="dense",
                     corpus="builtin:50", encoder=str(pickled))  # fmt: skip
    with pytest.raises(SpecError, match="holds no .safetensors weights"):
        build(spec, tmp_path / "d")
    no_dense_safetensors = {k: v for k, v in fine.items() if k != "1_Dense/model.safetensors"}
    foreign_module = [module, {**dense, "type": "custom.Module"}]
    aborting = {**tanh, "activation_function": "os.abort"}
    deep = sys.getrecursionlimit() - len(inspect.stack()) - 40
    refused = {
        "holds 1_Dense/pytorch_model.bin, a pickle with no .safetensors":
            {**no_dense_safetensors, "1_Dense/pytorch_model.bin": "pickle"},
        "holds custom.py, code that loading the model would run": {**fine, "custom.py": "import os"},
        "names 'custom.Module', a class outside": {**fine, "modules.json": foreign_module},
        "names 'os.abort', a class outside": {**fine, "1_Dense/config.json": aborting},
        "names 'builtins.exec', a class outside": {**fine, "router.json": {"types": {"query": "builtins.exec"}}},
        # nested deeper than Python's JSON parser goes (a traceback before), or than its recursion limit
        "config.json is not JSON": {**fine, "config.json": "[" * 200_000 + "]" * 200_000},
        # as deep as the parser still goes from here (a recursive walk of it would not): how deep that
        # is depends on the stack below this test (pytest-xdist's worker adds frames); written out as
        # text, since `json.dumps` of it recurses too
        "1_Dense/config.json names 'os.abort'": {**fine, "1_Dense/config.json": '{"a": ' * deep
                                                  + '{"activation_function": "os.abort"}' + "}" * deep},
    }  # fmt: skip
    for n, (said, files) in enumerate(refused.items()):
        with pytest.raises(SpecError, match=said.replace(".", r"\.")):
            check_model_folder(folder(f"refused{n}", files))


def test_a_model_folder_tokenizer_with_an_unknown_regex_is_refused(tmp_path):
    """The tokenizers library loads a model folder's tokenizer.json in the build's process and runs its
    regular expressions on every text with a backtracking engine, out of reach of the tokenizer
    helper's deadline: only the expressions of published tokenizers pass. A real tokenizer.json (the
    one wordllama ships) passes, with Llama 3's and GPT-2's splits too; a crafted one, or a file that
    is not JSON (or is nested past any parser's depth), is one error naming the file."""
    from pathlib import Path as _Path

    import wordllama

    from longsynth.errors import SpecError
    from longsynth.generators.nextlong.retrieval import check_model_folder

    real = json.loads((_Path(wordllama.__file__).parent / "tokenizers/l2_supercat_tokenizer_config.json").read_text())
    llama3 = (
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
        r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
    )
    gpt2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

    def split(pattern: str) -> dict:
        return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}

    def folder(name: str, tokenizer) -> _Path:
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_text("")
        text = tokenizer if isinstance(tokenizer, str) else json.dumps(tokenizer)
        (tmp_path / name / "tokenizer.json").write_text(text)
        return tmp_path / name

    collapse = {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}
    collapsing = {"type": "Sequence", "normalizers": [collapse]}
    fine = [real, {**real, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split(llama3)]}},
            {**real, "pre_tokenizer": split(gpt2), "normalizer": collapsing}]  # fmt: skip
    for n, tokenizer in enumerate(fine):
        assert check_model_folder(folder(f"fine{n}", tokenizer)) is None
    crafted = {
        **real,
        "normalizer": {"type": "Sequence", "normalizers": [{**collapse, "pattern": {"Regex": "(a|aa)+$"}}]},
    }
    with pytest.raises(
        SpecError, match=r"tokenizer\.json splits or rewrites text with the regular expression '\(a\|aa\)\+\$'"
    ):
        check_model_folder(folder("crafted", crafted))
    with pytest.raises(SpecError, match="tokenizer.json splits or rewrites text"):  # a split inside a sequence
        check_model_folder(
            folder("nested", {**real, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split("(x+x+)+y")]}})
        )
    with pytest.raises(SpecError, match=r"with the regular expression \"\['x'\]\""):  # not even a string
        check_model_folder(folder("listed", {**real, "pre_tokenizer": {"pattern": {"Regex": ["x"]}}}))
    for name, text in (("broken", "{not json"), ("deep", "[" * 200_000 + "]" * 200_000)):
        with pytest.raises(SpecError, match=r"tokenizer\.json is not JSON"):
            check_model_folder(folder(name, text))


def _similarities(out, encode) -> tuple[float, float]:
    """Mean cosine similarity of each meta-chunk to the negatives after it, and to random chunks of
    the same rows (the real encoder's vectors)."""
    negatives, randoms = [], []
    rng = np.random.default_rng(0)
    for row in _rows(out, "nextlong"):
        text = row["text"]
        chunks = json.loads(row["metadata"])["chunks"]
        meta = None
        for c in chunks:
            piece = text[c["char_start"] : c["char_end"]]
            if c["role"] == "meta":
                meta = encode([piece])[0]
            elif meta is not None:
                negatives.append(float(encode([piece])[0] @ meta))
        others = [text[c["char_start"] : c["char_end"]] for c in chunks]
        picks = rng.choice(len(others), size=min(10, len(others)), replace=False)
        randoms += [float(v @ meta) for v in encode([others[i] for i in picks])]
    return float(np.mean(negatives)), float(np.mean(randoms))


def test_dense_retriever_with_the_real_model(tmp_path):
    """wordllama's model (shipped in its wheel, no download): dense negatives are closer to their
    meta-chunk than random chunks of the corpus are; BM25's are measured the same way."""
    from longsynth.generators.nextlong.retrieval import load_encoder

    encode = load_encoder("wordllama")
    base = dict(generator="nextlong", tasks="nextlong", lengths="4k", samples=4, corpus="builtin:400")
    dense_spec = load_spec(None, retriever="dense", **base)
    out = build(dense_spec, tmp_path / "dense")
    assert validate_directory(out).problems == []
    for row in _rows(out, "nextlong"):
        negatives = [c for c in json.loads(row["metadata"])["chunks"] if c["role"] == "negative"]
        assert negatives and all(c["retriever"] == "dense" and -1 <= c["score"] <= 1 for c in negatives)
    dense, _ = _similarities(out, encode)
    random_chunks = np.random.default_rng(1).choice(make_generator(dense_spec).index.chunk_texts, 200).tolist()
    vectors = encode(random_chunks)
    baseline = float(np.mean(vectors[:100] @ vectors[100:].T))  # two random chunks of the corpus
    bm25, _ = _similarities(build(load_spec(None, **base), tmp_path / "bm25"), encode)
    print(f"mean cosine: dense negatives {dense:.3f}, bm25 negatives {bm25:.3f}, random chunks {baseline:.3f}")
    assert dense > baseline + 0.1 and bm25 > baseline
    from longsynth.generators.nextlong.retrieval import build_index

    generator = make_generator(dense_spec)  # the index is cached on disk (its key covers the encoder)
    assert build_index(generator.index_spec, generator.tokenizer).built is False
    assert generator.index_spec.encoder == "wordllama"


def test_a_dense_index_beyond_the_exact_search_limit_is_an_ivf_index(tmp_path, monkeypatch):
    """Beyond `EXACT_SEARCH_LIMIT` chunks (lowered here to 300 of builtin:400's 923), the dense index
    is faiss's IVF, built with the vectors and cached beside them: it finds nearly all of the exact
    search's top k, ranks ties to the lower id, is the same bytes whatever faiss's thread count and
    on every build (its vectors too, embedded on one thread or two), a damaged one is rebuilt, and a
    build on it validates and is reproducible."""
    import faiss

    import longsynth.generators.nextlong.generator as nl
    import longsynth.generators.nextlong.retrieval as retrieval

    monkeypatch.setattr(retrieval, "EXACT_SEARCH_LIMIT", 300)
    monkeypatch.setattr(retrieval, "LIST_VECTORS", 16)  # 58 lists, of which a query reads 24
    spec = load_spec(
        None, generator="nextlong", tasks="nextlong", lengths="4k", samples=3, corpus="builtin:400", retriever="dense"
    )

    def index_in(cache: str, threads: int):
        monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / cache))
        nl._index.cache_clear()
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(threads)
        monkeypatch.setattr(retrieval, "available_cores", lambda: threads)  # threads embedding the chunks
        try:
            generator = make_generator(spec)
            return generator, generator.index
        finally:
            faiss.omp_set_num_threads(before)

    generator, index = index_in("one", 1)
    dense = index.retriever
    assert dense.ivf is not None and dense.ivf.nlist == 58 and index.built
    (folder,) = (p.parent for p in (tmp_path / "one" / "index").glob("*/meta.json"))
    ivf_file = folder / "retriever" / retrieval.IVF_FILE
    assert "retriever/" + retrieval.IVF_FILE in json.loads((folder / "meta.json").read_text())["sha256"]
    _, other = index_in("two", 2)
    assert other.retriever.ivf is not None
    for name in (retrieval.IVF_FILE, "vectors.npy"):  # embedded and indexed on one thread, then on two
        assert (tmp_path / "two" / "index" / folder.name / "retriever" / name).read_bytes() == (
            (folder / "retriever" / name).read_bytes()
        )

    queries = [index.chunk_texts[n] for n in range(0, len(index.chunk_texts), 9)]
    approximate = dense.search_many(queries, 16)
    ivf, dense.ivf = dense.ivf, None
    exact = dense.search_many(queries, 16)
    dense.ivf = ivf
    found = [len(set(a.tolist()) & set(e.tolist())) / len(e) for (a, _), (e, _) in zip(approximate, exact, strict=True)]
    assert np.mean(found) >= 0.9
    for (ids, scores), (exact_ids, exact_scores) in zip(approximate, exact, strict=True):
        # the scores are exact cosines, not the 8-bit codes' (which are off by about 1e-3)
        same = dict(zip(exact_ids.tolist(), exact_scores.tolist(), strict=True))
        both = [n for n, chunk in enumerate(ids.tolist()) if chunk in same]
        assert np.allclose(scores[both], [same[c] for c in ids[both].tolist()], rtol=0, atol=1e-6)
    for ids, scores in approximate:
        assert all((-s1, i1) <= (-s2, i2) for i1, s1, i2, s2 in zip(ids, scores, ids[1:], scores[1:], strict=False))

    out = build(spec, tmp_path / "rows", generator=generator)
    assert validate_directory(out).problems == []
    _flip_a_byte(ivf_file, -5)
    generator, index = index_in("one", 1)
    assert index.built and index.retriever.ivf is not None  # found out by its sha256, and rebuilt
    # another index's IVF file (of 400 of the vectors), rehashed in meta.json: found out, and rebuilt
    part = tmp_path / "part.npy"
    np.save(part, np.asarray(index.retriever.vectors[:400]))
    retrieval.write_ivf(part, ivf_file)
    meta = json.loads((folder / "meta.json").read_text())
    meta["sha256"]["retriever/" + retrieval.IVF_FILE] = hashlib.sha256(ivf_file.read_bytes()).hexdigest()
    (folder / "meta.json").write_text(json.dumps(meta))
    generator, index = index_in("one", 1)
    assert index.built and index.retriever.ivf.ntotal == len(index.retriever.vectors)
    again = build(spec, tmp_path / "again", generator=generator)
    assert [f.read_bytes() for f in sorted(again.rglob("*.parquet"))] == [
        f.read_bytes() for f in sorted(out.rglob("*.parquet"))
    ]


def test_the_ivf_lists_are_filled_as_faiss_add_fills_them(tmp_path, monkeypatch):
    """`write_ivf` assigns every vector its list and writes each block's codes and ids straight to
    their lists' places in the file, block by block: the file is the same bytes as the trained index
    filled by faiss's own `add` and written by its `write_index`."""
    import faiss

    import longsynth.generators.nextlong.retrieval as retrieval

    monkeypatch.setattr(retrieval, "LIST_VECTORS", 64)
    monkeypatch.setattr(retrieval, "ADD_BLOCK", 1_000)  # five blocks and a part
    monkeypatch.setattr(retrieval, "WRITE_BLOCK", 700)  # seven blocks and a part
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((5_300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.save(tmp_path / "vectors.npy", vectors)
    retrieval.write_ivf(tmp_path / "vectors.npy", tmp_path / "ivf.faiss")
    assert faiss.read_index(str(tmp_path / "ivf.faiss")).nlist == 83
    # faiss's own: trained by `train` on every 63rd vector (83 lists x 40), filled by `add`
    reference = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(16), 16, 83, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    reference.cp.seed, reference.cp.spherical = retrieval.IVF_SEED, True
    reference.train(vectors[:: 5_300 // (83 * 40)][: 83 * 40])
    reference.add(vectors)
    assert bytes(faiss.serialize_index(reference)) == (tmp_path / "ivf.faiss").read_bytes()


def test_the_ivf_is_trained_as_faiss_trains_it_from_a_subset_read_again(tmp_path):
    """Beyond faiss's 100,000 vectors for the 8-bit codes' training, `_train_lists` draws the subset
    faiss draws, and `_train_codes` trains on it read again from the file: faiss's `train` bytes."""
    import faiss

    import longsynth.generators.nextlong.retrieval as retrieval

    rng = np.random.default_rng(3)
    sample = rng.standard_normal((120_000, 8)).astype(np.float32)
    sample /= np.linalg.norm(sample, axis=1, keepdims=True)
    np.save(tmp_path / "vectors.npy", sample)

    def index():
        made = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(8), 8, 32, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        made.cp.seed, made.cp.spherical = 5, True
        return made

    reference, ours = index(), index()
    reference.train(sample)
    chosen = retrieval._train_lists(ours, sample)
    assert len(chosen) == ours.train_encoder_num_vectors() == 100_000 and len(set(chosen.tolist())) == 100_000
    retrieval._train_codes(ours, retrieval.ArrayFile(tmp_path / "vectors.npy").take(chosen))
    assert bytes(faiss.serialize_index(ours)) == bytes(faiss.serialize_index(reference))


def test_ivf_lists_mostly_empty_are_written_as_faiss_writes_them(tmp_path, monkeypatch):
    """When at most half the lists hold vectors faiss writes their sizes as (list, size) pairs: the
    streamed file is the same bytes then too, and faiss maps it and searches it as its own."""
    import faiss

    import longsynth.generators.nextlong.retrieval as retrieval

    monkeypatch.setattr(retrieval, "WRITE_BLOCK", 7)
    rng = np.random.default_rng(11)
    training = rng.standard_normal((4_000, 16)).astype(np.float32)
    training /= np.linalg.norm(training, axis=1, keepdims=True)
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(16), 16, 100, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    index.train(training)
    added = training[:30]
    np.save(tmp_path / "vectors.npy", added)
    assigned = np.ascontiguousarray(index.quantizer.assign(added, 1).ravel(), dtype=np.int64)
    assert 0 < len(set(assigned.tolist())) <= 50
    retrieval._write_filled(index, retrieval.ArrayFile(tmp_path / "vectors.npy"), assigned, tmp_path / "ivf.faiss")
    assert index.ntotal == 0  # (the index itself is left as it was)
    index.add(added)
    assert bytes(faiss.serialize_index(index)) == (tmp_path / "ivf.faiss").read_bytes()
    mapped = faiss.read_index(str(tmp_path / "ivf.faiss"), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    mapped.nprobe = index.nprobe = 100
    assert np.array_equal(mapped.search(added, 3)[1], index.search(added, 3)[1])


def test_a_dense_index_that_needs_faiss_without_it_is_one_error_line(tmp_path, monkeypatch):
    """Beyond the exact search's limit the IVF index needs faiss: without it, the build stops in one
    line naming the extra, as soon as the corpus passes the limit (not after embedding all of it)."""
    from click.testing import CliRunner

    import longsynth.generators.nextlong.generator as nl
    import longsynth.generators.nextlong.retrieval as retrieval
    from longsynth.cli import cli

    monkeypatch.setattr(retrieval, "EXACT_SEARCH_LIMIT", 300)
    monkeypatch.setitem(sys.modules, "faiss", None)  # `import faiss` raises ImportError
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    nl._index.cache_clear()
    args = ["build", "--generator", "nextlong", "--task", "nextlong", "--lengths", "4k", "--samples", "1"]
    args += ["--set", "corpus=builtin:400", "--set", "retriever=dense", "-o", str(tmp_path / "out")]
    result = CliRunner().invoke(cli, args, obj={})
    assert result.exit_code == 2, result.output
    assert "needs faiss: pip install 'longsynth[dense]'" in result.output and "Traceback" not in result.output
    assert not list((tmp_path / "cache" / "index").glob("*/meta.json"))


def test_character_chunks_are_the_greedy_groups_of_whole_lines():
    """By characters, a meta-chunk is as many whole lines as fit `size` (joined by newlines), the next
    line starting the next chunk: checked against that definition written out, on documents whose
    lines all fit (a longer line is split alone, tested with token budgets below)."""
    import random

    from longsynth.generators.nextlong.chunking import chunk_document

    rng = random.Random(5)
    pieces = ["a", "bb", " ", "\n", "\n\n", ". ", "x" * 30, "é", "word "]
    checked = 0
    for _ in range(1500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 300)))
        size = rng.choice([40, 64, 100, 2048])
        lines = text.split("\n")
        if max(map(len, lines)) > size:
            continue
        groups: list[str] = []
        for line in lines:
            if groups and len(groups[-1]) + 1 + len(line) <= size:
                groups[-1] += "\n" + line
            else:
                groups.append(line)
        chunks = chunk_document(text, size)
        assert [c.text for c in chunks] == groups
        assert "".join(c.text + c.joiner for c in chunks) == text
        checked += 1
    assert checked > 500


def test_chunks_of_many_texts_at_once_are_each_texts_own():
    """`chunk_texts` (an index's documents, grouped a run at a time) gives every text's chunks and
    joiners as `chunk_document` does, in order: texts whose lines all fit and texts with a line
    longer than the size (cut by `chunk_document`) mixed in one call, empty texts and line breaks
    at either end included."""
    import random

    from longsynth.generators.nextlong.chunking import chunk_document, chunk_texts

    rng = random.Random(9)
    pieces = ["a", "bb", " ", "\n", "\n\n", ". ", "x" * 30, "é", "word ", "日本"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 300))) for _ in range(600)]
    texts += ["", "\n", "a" * 40, "a" * 41, ("a" * 40 + "\n") * 3]
    for size in (16, 40, 100, 2048):
        chunked = [chunk_document(text, size) for text in texts]
        long = sum(max(map(len, text.split("\n"))) > size for text in texts)
        assert 0 < long < len(texts) or size == 2048
        got_texts, got_joiners, many = chunk_texts(texts, size)
        assert got_texts == [chunk.text for chunks in chunked for chunk in chunks]
        assert got_joiners == [chunk.joiner for chunks in chunked for chunk in chunks]
        assert many == [len(chunks) for chunks in chunked]
    assert chunk_texts([], 40) == ([], [], [])


def test_a_text_of_many_chunks_is_chunked_line_by_line(monkeypatch):
    """`chunk_texts` finds one chunk of each text per round, and a round costs the same however few
    texts are left: a text longer than ROUNDS chunks' worth goes to `chunk_document`, with the same
    chunks (a 512 MiB text in 16-character chunks would have taken 30 million rounds)."""
    from longsynth.generators.nextlong import chunking

    walked = []
    real = chunking.chunk_document
    monkeypatch.setattr(chunking, "chunk_document", lambda text, size: walked.append(text) or real(text, size))
    many = ("a" * 15 + "\n") * 200  # 200 lines of 16 characters: 200 chunks of 16
    texts = ["short\nlines", many, "x" * 20]
    got_texts, _, counts = chunking.chunk_texts(texts, 16)
    assert sorted(walked) == sorted([many, "x" * 20])  # (and the one-line text longer than 16)
    assert counts == [1, 200, 2] and got_texts[1:201] == [chunk.text for chunk in real(many, 16)]
    assert got_texts[201:] == ["x" * 16, "x" * 4]  # (a word longer than the size is cut where it ends)
    monkeypatch.setattr(chunking, "ROUNDS", 10**6)
    walked.clear()
    assert chunking.chunk_texts(texts, 16)[0] == got_texts and walked == ["x" * 20]


def test_token_budget_chunks(tmp_path):
    from longsynth.generators.nextlong.chunking import chunk_document

    tok = get_tokenizer("cl100k_base")
    text = synthetic_document(5)[1] + "\n" + " ".join(["A long line without breaks."] * 200)
    chunks = chunk_document(text, 120, tok.count)
    assert "".join(c.text + c.joiner for c in chunks) == text
    assert max(tok.count(c.text) for c in chunks) <= 121  # a cut may keep one trailing space
    spec = load_spec(
        None, generator="nextlong", tasks="nextlong", lengths="4k", samples=2, corpus="builtin:300", chunk_tokens=200
    )
    out = build(spec, tmp_path / "tok")
    assert validate_directory(out).problems == []
    metas = [c for r in _rows(out, "nextlong") for c in json.loads(r["metadata"])["chunks"] if c["role"] == "meta"]
    assert len(metas) > 2


def test_hugging_face_dataset_corpus_streamed(tmp_path):
    """`hf:<dataset>` goes through datasets' streaming loader; a local dataset folder keeps it offline."""
    folder = tmp_path / "hub_corpus"
    folder.mkdir()
    records = [{"doc": f"d{n}", "body": synthetic_document(n, seed=3)[1]} for n in range(300)]
    (folder / "train.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    spec = load_spec(
        None,
        generator="nextlong",
        tasks="nextlong",
        lengths="4k",
        samples=2,
        corpus=f"hf:{folder}",
        corpus_text_field="body",
        corpus_id_field="doc",
    )
    out = build(spec, tmp_path / "out")
    assert validate_directory(out).problems == []
    assert all(r["source_id"].startswith("d") for r in _rows(out, "nextlong"))


def test_jsonl_format_writes_the_training_rows_too(tmp_path):
    spec = load_spec(
        None, generator="nextlong", tasks="nextlong", lengths="1k", samples=2, corpus="builtin:200", formats="jsonl"
    )
    out = build(spec, tmp_path / "o")
    lines = [json.loads(x) for p in sorted(out.glob("*/*.jsonl")) for x in p.read_text().split("\n") if x]
    rows = _rows(out, "nextlong")
    assert [x["text"] for x in lines] == [r["text"] for r in rows] and len(rows) == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(str(p.relative_to(out)) in manifest["files"] for p in out.glob("*/*.jsonl"))


def test_every_negative_records_its_retriever_rank_and_score(tmp_path):
    """Re-derived: each recorded (rank, score) is what the index gives that chunk for one of the
    source document's meta-chunks; the card reports their distribution."""
    from longsynth.generators.nextlong.generator import SCORE_BINS, score_quantile

    spec = load_spec(
        None, generator="nextlong", tasks="nextlong,concat_random", lengths="2k", samples=3, corpus="builtin:600"
    )
    out = build(spec, tmp_path / "ds")
    index = make_generator(spec).index
    recorded = 0
    for row in pl.read_parquet(sorted(out.glob("nextlong/*.parquet"))).to_dicts():
        chunks = json.loads(row["metadata"])["chunks"]
        metas = [c["chunk"] for c in chunks if c["role"] == "meta"]
        seen = {}
        for found in index.search_many([index.chunk_texts[m] for m in metas], 400):
            for chunk, rank, score in found:
                seen.setdefault(chunk, set()).add((rank, round(score, 4)))
        for c in chunks:
            if c["role"] == "negative":
                assert c["retriever"] == "bm25" and c["rank"] >= 1 and c["score"] > 0
                assert (c["rank"], c["score"]) in seen[c["chunk"]]
                recorded += 1
    assert recorded > 0
    for row in pl.read_parquet(sorted(out.glob("concat_random/*.parquet"))).to_dicts():
        negatives = [c for c in json.loads(row["metadata"])["chunks"] if c["role"] == "negative"]
        assert negatives and all(c["retriever"] == "random" and "rank" not in c for c in negatives)
    card = (out / "README.md").read_text()
    assert "`nextlong` (bm25): " in card and "from ranks 1 to 10" in card
    values = np.random.default_rng(0).lognormal(3, 1, 5000)
    histogram = np.histogram(values, bins=SCORE_BINS)[0]
    for q in (0.1, 0.5, 0.9):
        assert abs(score_quantile(histogram, q) / np.quantile(values, q) - 1) < 0.025


def test_packing_columns_for_document_masked_training(tmp_path):
    """doc_boundaries and position_ids, checked against an independent re-encode: each segment
    between boundaries decodes to exactly one chunk (and its line end), positions restart there."""
    spec = load_spec(
        None,
        generator="nextlong",
        tasks="nextlong",
        lengths="4k",
        samples=2,
        corpus="builtin:300",
        input_ids=True,
        doc_boundaries=True,
        position_ids=True,
    )
    out = build(spec, tmp_path / "packed")
    assert validate_directory(out).problems == []
    tok = get_tokenizer("cl100k_base")
    for row in _rows(out, "nextlong"):
        ids = tok.encode(row["text"])
        assert row["input_ids"] == ids
        bounds = row["doc_boundaries"]
        chunks = json.loads(row["metadata"])["chunks"]
        assert len(bounds) == len(chunks) and bounds[0] == 0 and bounds == sorted(bounds)
        for n, chunk in enumerate(chunks):
            end = bounds[n + 1] if n + 1 < len(bounds) else len(ids)
            segment = tok.decode(ids[bounds[n] : end])
            assert segment.rstrip("\n") == row["text"][chunk["char_start"] : chunk["char_end"]].rstrip("\n")
        expected = [p - max(b for b in bounds if b <= p) for p in range(len(ids))]
        assert row["position_ids"] == expected
    plain = load_spec(None, generator="nextlong", tasks="nextlong", lengths="4k", samples=1, corpus="builtin:300")
    assert "doc_boundaries" not in _rows(build(plain, tmp_path / "plain"), "nextlong")[0]


def test_quest_groups_documents_that_share_a_keyword(tmp_path):
    """Quest's baseline: a keyword drawn from the source document; every other document of the
    sample states it (read in the text), and the rows validate like the other tasks."""
    spec = load_spec(None, generator="nextlong", tasks="concat_quest", lengths="4k", samples=3, corpus="builtin:600")
    out = build(spec, tmp_path / "quest")
    assert validate_directory(out).problems == []
    for row in _rows(out, "concat_quest"):
        meta = json.loads(row["metadata"])
        keyword = meta["keyword"]
        source = "".join(row["text"][c["char_start"] : c["char_end"]] for c in meta["chunks"] if c["role"] == "meta")
        assert keyword in source.lower()
        others = {}
        for c in meta["chunks"]:
            if c["role"] == "negative":
                others.setdefault(c["doc_id"], []).append(row["text"][c["char_start"] : c["char_end"]].lower())
                assert c["retriever"] == "bm25" and c["rank"] >= 1
        whole = [d for d in others if not any(c.get("cut") and c["doc_id"] == d for c in meta["chunks"])]
        keywords = [keyword, *meta.get("further_keywords", [])]
        assert others and all(any(k in " ".join(others[d]) for k in keywords) for d in whole)


def test_quest_runs_on_into_the_sources_next_keywords_when_one_cannot_fill(tmp_path, monkeypatch):
    """On a small corpus of rare words, a keyword's documents may not fill a 32K sample (8 of 10
    were dropped): the source's other keywords add theirs, in order, recorded as `further_keywords`,
    each one the source's and each added document stating one of them; a sample one keyword filled
    keeps its bytes."""
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    spec = load_spec(
        None, generator="nextlong", tasks="concat_quest", lengths="32k", samples=10, corpus="builtin-zipf:5000"
    )
    out = build(spec, tmp_path / "quest")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["concat_quest"] == 10 and manifest["dropped"]["concat_quest"] == 0
    assert validate_directory(out).problems == []
    rows = _rows(out, "concat_quest")
    ran_on = 0
    for row in rows:
        meta = json.loads(row["metadata"])
        keywords = [meta["keyword"], *meta.get("further_keywords", [])]
        ran_on += len(keywords) > 1
        source = "".join(row["text"][c["char_start"] : c["char_end"]] for c in meta["chunks"] if c["role"] == "meta")
        assert all(k in source.lower() for k in keywords) and len(set(keywords)) == len(keywords)
        others, cut = {}, {c["doc_id"] for c in meta["chunks"] if c.get("cut")}  # (the cut one may lose its word)
        for c in meta["chunks"]:
            if c["role"] == "negative" and c["doc_id"] not in cut:
                others.setdefault(c["doc_id"], []).append(row["text"][c["char_start"] : c["char_end"]].lower())
        assert others and all(any(k in " ".join(texts) for k in keywords) for texts in others.values())
    assert ran_on >= 5
    one = load_spec(None, **{**spec.to_dict(), "samples": 10, "lengths": "8k"})
    plain = {r["id"]: r for r in _rows(build(one, tmp_path / "eight"), "concat_quest")}
    assert all("further_keywords" not in json.loads(r["metadata"]) for r in plain.values())


def test_knn_searches_deeper_when_its_documents_run_out(tmp_path, monkeypatch):
    """concat_knn takes the documents its source's first chunk ranks, from the top 256 chunks; when
    they cannot fill a 128K sample (2 of 5 on 3,000 topical documents), it searches deeper (1,024,
    then 4,096 chunks) before dropping it. Every row validates; one the top 256 filled keeps its bytes."""
    spec = load_spec(None, generator="nextlong", tasks="concat_knn", lengths="128k", samples=5, corpus="builtin:3000")
    rows = _fills_what_was_dropped(spec, "KNN_DEPTHS", (256,), tmp_path, monkeypatch)
    ranks = [c["rank"] for row in rows for c in json.loads(row["metadata"])["chunks"] if "rank" in c]
    assert max(ranks) > 256  # documents from deeper in the ranking


def test_top_k_breaks_ties_by_id_whatever_the_order():
    from longsynth.generators.nextlong.bm25 import top_k

    scores = np.array([5.0, 3.0, 3.0, 3.0, 3.0, 1.0, 3.0], dtype=np.float32)
    ids = np.arange(len(scores))
    rng = np.random.default_rng(3)
    for _ in range(20):
        order = rng.permutation(len(scores))
        best, kept = top_k(scores[order], ids[order], 3)
        assert best.tolist() == [0, 1, 2] and kept.tolist() == [5.0, 3.0, 3.0]
    assert top_k(scores, ids, 10)[0].tolist() == [0, 1, 2, 3, 4, 6, 5]


def _reference_split(line: str, size: int) -> list[str]:
    """The splitter's rule by characters, written the slow obvious way (re-slicing the rest): the
    linear splitter must cut exactly where it does."""
    import re

    pieces, rest = [], line
    while len(rest) > size:
        window = rest[: size + 1]
        cut = max((m.end() for m in re.finditer(r"(?<=[.!?])\s|(?<=[。！？])", window)), default=-1)
        if cut < size // 4:  # after the window's last blank (a space, a tab, ...)
            cut = max((m.end() for m in re.finditer(r"\s", window)), default=0)
        if cut <= 0:  # where the size ends
            cut = size
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


@pytest.mark.parametrize("seed", range(30))
def test_long_lines_split_where_the_obvious_rule_splits(seed):
    import random

    from longsynth.generators.nextlong.chunking import _split_long_line

    rng = random.Random(seed)
    words = ["a", "bb", "ccc.", "dddd", "Eeeee!", "f?", "x" * rng.randint(20, 90), "", "中文句子。", "好吗？" * 30]
    blanks = [" ", " ", " ", "\t", "\u3000", "\t" * rng.randint(1, 900)]
    line = "".join(rng.choice(words) + rng.choice(blanks) for _ in range(rng.randint(0, 3000)))
    size = rng.randint(16, 400)
    assert _split_long_line(line, size) == _reference_split(line, size)


def test_a_line_of_chinese_is_cut_at_its_full_stops():
    """Chinese has no spaces: a one-line document of 21,000 characters was one chunk of 26,000 tokens,
    so every NExtLong sample of such a corpus was dropped (no negative fits its share). It is cut
    after a full stop (。！？, no space after it), within the size, as English is after ". "."""
    from longsynth.generators.nextlong.chunking import chunk_document

    tok = get_tokenizer("cl100k_base")
    sentences = ["今天天气很好，我们去公园散步。", "你吃饭了吗？", "这本书非常有意思！", "他明天要去北京出差。"]
    line = "".join(sentences[n % 4] for n in range(1500))
    for size, length in ((2048, len), (256, tok.count)):
        chunks = chunk_document(line, size, length)
        assert "".join(c.text + c.joiner for c in chunks) == line
        assert len(chunks) > len(line) // (2 * size if length is len else 8 * size)
        assert all(length(c.text) <= size + 1 and c.text[-1] in "。！？" for c in chunks)


def test_bm25_words_of_chinese_are_its_characters_and_elsewhere_bm25s_words():
    """Text without CJK characters gives the words bm25s's pattern finds (random text of Latin,
    Cyrillic, Korean, digits, underscores and marks); a Chinese or Japanese character is a word of its
    own, so a clause is no longer one word."""
    import random

    from longsynth.generators.nextlong.bm25 import TOKEN, WORDS

    rng = random.Random(6)
    alphabet = "abcXYZ_09 éß-.,'Жжй한국어\t\n!?" + "\u0301\u00a0"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))) for _ in range(400)]
    series = pl.Series(texts).str.to_lowercase()
    assert series.str.extract_all(WORDS).to_list() == series.str.extract_all(TOKEN).to_list()
    mixed = pl.Series(["今天天气很好。abc中文 日本語のテキスト"]).str.extract_all(WORDS).to_list()[0]
    assert mixed == [
        "今",
        "天",
        "天",
        "气",
        "很",
        "好",
        "abc",
        "中",
        "文",
        "日",
        "本",
        "語",
        "の",
        "テ",
        "キ",
        "ス",
        "ト",
    ]


def test_a_chinese_corpus_finds_negatives(tmp_path):
    """A corpus of one-line Chinese documents: each was one chunk and one BM25 word per clause, so a
    meta-chunk found itself alone and every sample was dropped. Now its chunks are cut at full stops,
    its characters are words, and every nextlong and concat_knn sample is made and valid."""
    import random

    rng = random.Random(4)
    # clauses of common characters, each new (as a real text's are): no clause repeats, characters do
    characters = "今天气很好我们去公园散步你吃饭了吗这本书非常有意思他明要北京出差"
    characters += "学生在图馆习春来花都开喜欢喝绿茶火车站离里不远请把窗户关上"
    lines = []
    for n in range(40):
        text = "".join(
            "".join(rng.choice(characters) for _ in range(rng.randint(6, 14))) + rng.choice("。，！？")
            for _ in range(700)
        )
        lines.append(json.dumps({"id": f"z{n}", "text": text}, ensure_ascii=False) + "\n")
    corpus = tmp_path / "zh.jsonl"
    corpus.write_text("".join(lines), encoding="utf-8")
    spec = load_spec(
        None, generator="nextlong", tasks="nextlong,concat_knn", lengths="16k", samples=3, corpus=str(corpus)
    )
    out = build(spec, tmp_path / "out")
    manifest = json.loads((out / "manifest.json").read_text())
    assert sum(manifest["dropped"].values()) == 0 and validate_directory(out).problems == []
    rows = _rows(out, "nextlong") + _rows(out, "concat_knn")
    assert len(rows) == 6
    for row in _rows(out, "nextlong"):
        owners = {c["doc_id"] for c in json.loads(row["metadata"])["chunks"] if c["role"] == "negative"}
        assert owners and row["source_id"] not in owners


def test_a_long_run_of_tabs_is_cut_like_spaces():
    """A line holding 99,999 tabs between two words (no space in the run) was one "word" to the
    splitter: a 100,004-character chunk of 6,254 tokens, which no 4K sample could fit (every draw
    failed, and the build stopped). Now it is cut after the window's last blank, like a space run."""
    from longsynth.generators.nextlong.chunking import chunk_document

    tok = get_tokenizer("cl100k_base")
    line = "some words " * 40 + "w" + "\t" * 99_999 + "361 more words" * 40
    for size, length in ((2048, len), (256, tok.count)):
        chunks = chunk_document(line, size, length)
        assert "".join(c.text + c.joiner for c in chunks) == line
        assert max(length(c.text) for c in chunks) <= size + 1  # (a cut keeps its blank)


def test_token_split_pieces_fit_and_rebuild_the_line():
    from longsynth.generators.nextlong.chunking import _split_long_line

    tok = get_tokenizer("cl100k_base")
    line = " ".join(synthetic_document(n)[1].replace("\n", " ") for n in range(40)) + " " + "z" * 3000
    pieces = _split_long_line(line, 256, tok.count)
    assert "".join(pieces) == line
    assert all(tok.count(p) <= 257 for p in pieces)  # a cut keeps its space
    # cuts after a space, never inside a word, but inside the one word longer than a piece
    assert all(p.endswith(" ") or set(p) == {"z"} for p in pieces[:-1])


def test_splitting_a_line_grows_linearly():
    """A 2.8 MB line with no breaks ran past 120 s at chunk_tokens=256 (each cut re-counted the rest of
    the line). Twice the line now costs about twice the counting: counted here in characters handed to
    the tokenizer, not in seconds (bench/chunking.py times it)."""
    from longsynth.generators.nextlong.chunking import chunk_document

    tok = get_tokenizer("cl100k_base")
    counted = []

    def count(text: str) -> int:
        counted[-1] += len(text)
        return tok.count(text)

    line = " ".join(synthetic_document(n)[1].replace("\n", " ") for n in range(200))
    for size in (len(line) // 2, len(line)):
        counted.append(0)
        chunk_document(line[:size], 256, count)
    assert counted[1] / counted[0] < 2.5, counted


def test_the_pruned_index_keeps_each_terms_best_chunks(tmp_path):
    """Each term keeps its `postings_per_term` best-scoring chunks (ties in a score bin to the lower
    chunk id); a rarer term keeps all. The kept scores are the exact index's, and a search over the
    pruned index scores a chunk as the sum of its kept postings."""
    from longsynth.generators.nextlong.bm25 import SCORE_BINS, Bm25

    rng = np.random.default_rng(3)
    texts = []
    for n in range(300):  # "common" in every chunk, 1 to 6 times, in chunks of varied length
        words = ["common"] * int(rng.integers(1, 7)) + ["filler"] * int(rng.integers(0, 40))
        words += ["rare"] if n % 60 == 0 else []
        rng.shuffle(words)
        texts.append(" ".join(words))
    batches = [texts[i : i + 70] for i in range(0, len(texts), 70)]  # postings cross batch edges
    Bm25.write(iter(batches), tmp_path / "exact", postings_per_term=10**9)
    Bm25.write(iter(batches), tmp_path / "pruned", postings_per_term=25)
    exact, pruned = Bm25.load(tmp_path / "exact"), Bm25.load(tmp_path / "pruned")

    def postings(index, term: str) -> dict[int, float]:
        ids, scores = index.row(int(index.term_ids([term])[0]))
        return dict(zip(ids.tolist(), scores.tolist(), strict=True))

    for term in ("common", "filler", "rare"):
        scores = postings(exact, term)
        kept = postings(pruned, term)
        assert len(kept) == min(len(scores), 25)
        assert all(scores[c] == s for c, s in kept.items())  # the exact index's scores
        # ranked by score bin, then chunk id: every kept chunk comes before every dropped one
        bin_of = {c: int(s / exact.idf([term])[0] * SCORE_BINS / 2.5) for c, s in scores.items()}
        order = sorted(scores, key=lambda c: (-bin_of[c], c))
        assert set(kept) == set(order[: len(kept)])
    assert len(postings(pruned, "rare")) == 5  # every chunk of a rare term
    ids, found = pruned.search_many(["common rare"], 10)[0]
    common, rare = postings(pruned, "common"), postings(pruned, "rare")
    for c, s in zip(ids.tolist(), found.tolist(), strict=True):
        assert s == pytest.approx(common.get(c, 0.0) + rare.get(c, 0.0), rel=1e-6)
    assert set(rare) <= set(ids.tolist())  # the rare term's chunks rank first


def test_scratch_parts_read_back_their_postings_narrow_or_wide(tmp_path):
    """A scratch part keeps chunks and counts in 16 bits when they fit and in 32 when not (a batch of
    more than 65,536 chunks, a word said 70,000 times), and reads back every slice as it was given,
    chunk ids counted on from the batch's first."""
    from longsynth.generators.nextlong import bm25

    rng = np.random.default_rng(3)
    for chunks, most in ((2000, 40), (70_000, 40), (2000, 70_000)):
        size = 5000
        chunk = rng.integers(0, chunks, size)
        term = np.sort(rng.integers(0, 1 << 30, size)).astype(np.int32)
        count = rng.integers(1, most + 1, size)
        count[0] = most
        part = bm25._Part.of(tmp_path / f"{chunks}-{most}.bin", chunks, 123_456, count)
        part.write(chunk, term, count)
        wide = [t.itemsize for t in part.types]
        assert wide == [2 if chunks <= 1 << 16 else 4, 4, 2 if most < 1 << 16 else 4]
        assert (tmp_path / f"{chunks}-{most}.bin").stat().st_size == size * sum(wide)
        expected = np.stack([chunk + 123_456, term, count]).astype(np.int32)
        assert np.array_equal(part.load(), expected)
        for start, end in ((0, 1), (17, 4000), (4999, 5000), (2500, 2500)):
            got = part.slice(start, end)
            assert got.dtype == np.int32 and np.array_equal(got, expected[:, start:end])


def test_terms_are_found_by_their_keys_in_order_of_first_appearance(tmp_path, monkeypatch):
    """A loaded index finds each term's id by its keys (no dict of the terms): every term of the
    texts, short and long, ASCII or not, has the id of its first appearance (the build's table of
    keys starting at 2 slots here, so it doubles again and again); a word the index lacks is -1,
    also one whose first 8 bytes are a term's."""
    from longsynth.generators.nextlong import bm25

    monkeypatch.setattr(bm25.TermIds, "FIRST_BITS", 1)
    texts = [f"zeta{n} café 日本語 x{n * 7} word{n}longerthaneightbytes ab" for n in range(12)]
    bm25.Bm25.write(iter([texts[:5], texts[5:]]), tmp_path / "index")
    terms = bm25.tokens(texts)["term"].unique(maintain_order=True).to_list()
    assert len(terms) > 3 * 7 and any(len(t.encode()) > 8 for t in terms)
    index = bm25.Bm25.load(tmp_path / "index")
    assert index.terms == len(terms)
    assert index.term_ids(terms).tolist() == list(range(len(terms)))
    assert index.term_ids(list(reversed(terms))).tolist() == list(reversed(range(len(terms))))
    missing = ["zeta12", "word0longerthaneightbyteS", "word0longerthaneightbytesx", "abc", "a", "cafe"]
    assert index.term_ids(missing).tolist() == [-1] * len(missing)
    assert index.term_ids([]).tolist() == []
    assert index.document_frequency(["zeta3", "café", "nothere"]).tolist() == [1, 12, 0]


def test_a_term_whose_first_key_another_shares_is_found_by_its_second(tmp_path, monkeypatch):
    """Two terms may share a first key (a short term's bytes can be a long one's hash): the second
    key tells them apart, in the build's table and in the loaded index. Here every long term's first
    hash is made one short term's bytes."""
    from longsynth.generators.nextlong import bm25, keys

    real = keys._hashes

    def colliding(words, start, length):
        one, two = real(words, start, length)
        return np.full_like(one, int.from_bytes(b"ab", "little")), two

    monkeypatch.setattr(keys, "_hashes", colliding)
    # and the build's table of keys puts every key in one run of slots, so each lookup meets the others
    monkeypatch.setattr(bm25.TermIds, "_slot", lambda self, key1, key2: np.zeros(len(key1), dtype=np.intp))
    texts = ["ab longwordnumberone cd", "longwordnumbertwo ab", "longwordnumberthree ef ab"]
    bm25.Bm25.write(iter([[text] for text in texts]), tmp_path / "index")  # (later batches look terms up)
    index = bm25.Bm25.load(tmp_path / "index")
    terms = ["ab", "longwordnumberone", "cd", "longwordnumbertwo", "longwordnumberthree", "ef"]
    assert int((index._key1 == index._key1[0]).sum()) >= 2  # the collision is there
    assert index.term_ids(terms).tolist() == list(range(6))
    assert index.term_ids(["longwordnumberfour", "abab"]).tolist() == [-1, -1]
    assert index.document_frequency(["ab", "longwordnumbertwo"]).tolist() == [3, 1]


def test_the_index_is_the_same_whatever_its_blocks_and_batches(tmp_path, monkeypatch):
    """Batches (chunks tokenized at once) and term blocks (postings written at once) only bound the
    build's memory: the index files are byte-identical with one part and one block, and with 27 parts
    each sliced for each of 60 blocks (a block a term), read a few parts at a time and gathered on
    two threads, pruning on (a term keeps 25 chunks, its cut bin's ties taken across parts)."""
    from longsynth.generators.nextlong import bm25

    rng = np.random.default_rng(11)
    pool = [f"w{n}" for n in range(60)]
    weights = 1.0 / np.arange(1, 61)
    texts = [" ".join(rng.choice(pool, size=int(rng.integers(5, 60)), p=weights / weights.sum())) for _ in range(500)]
    bm25.Bm25.write(iter([texts]), tmp_path / "one", postings_per_term=25)
    monkeypatch.setattr(bm25, "available_cores", lambda: 8)  # blocks and parts read on two threads
    files = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert "postings" not in files  # the scratch parts are gone
    # A block a term, read from runs of two to six parts; then blocks of many terms, from runs of
    # about three parts (each part's terms ascend, but not a run's)
    for block, group in ((7, 40), (200, 1000)):
        monkeypatch.setattr(bm25, "BLOCK_POSTINGS", block)
        monkeypatch.setattr(bm25, "GROUP_POSTINGS", group)
        many = tmp_path / f"many-{block}"
        bm25.Bm25.write(iter([texts[i : i + 19] for i in range(0, len(texts), 19)]), many, postings_per_term=25)
        assert files == sorted(p.name for p in many.iterdir())
        for name in files:
            assert (tmp_path / "one" / name).read_bytes() == (many / name).read_bytes(), (block, name)
    index = bm25.Bm25.load(tmp_path / "many-7")
    monkeypatch.setattr(bm25, "BLOCK_POSTINGS", 7)
    assert len(bm25._term_blocks(np.minimum(index.frequency, 25))) == len(index.frequency) == 60  # a block a term
    assert int(np.diff(index.indptr).max()) == 25 < int(index.frequency.max())  # pruning was on


def test_a_block_of_more_than_65536_terms_is_placed_as_smaller_blocks_are(tmp_path, monkeypatch):
    """A block's runs of postings are sorted by term with 16-bit keys when its terms fit in them, and
    with the terms themselves when not: an index of 95,858 terms written as one block is byte-identical
    to the same index written in blocks of a few thousand terms, each term's chunks in order across
    eight parts, pruning on."""
    from longsynth.generators.nextlong import bm25

    rng = np.random.default_rng(5)
    pool = np.array([f"t{n}x" for n in range(100_000)])
    texts = [" ".join(rng.choice(pool, size=800)) + " common" * int(rng.integers(1, 4)) for _ in range(400)]
    batches = [texts[i : i + 50] for i in range(0, len(texts), 50)]
    folders = []
    for block in (10**9, 20_000):
        monkeypatch.setattr(bm25, "BLOCK_POSTINGS", block)
        folders.append(tmp_path / str(block))
        terms = bm25.Bm25.write(iter(batches), folders[-1], postings_per_term=100)
    assert terms > 65_536
    index = bm25.Bm25.load(folders[0])
    assert len(bm25._term_blocks(np.minimum(index.frequency, 100), 20_000 // 2)) > 1  # (two workers where two cores)
    assert int(index.frequency.max()) == 400 > int(np.diff(index.indptr).max()) == 100  # "common" was pruned
    for name in (
        "indptr.npy",
        "indices.npy",
        "data.npy",
        "frequency.npy",
        "term_key1.npy",
        "term_key2.npy",
        "term_id.npy",
    ):
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes(), name


def test_the_stop_words_are_bm25s_list_read_without_importing_bm25s():
    """The stop words are bm25s's `STOPWORDS_EN`, read from its installed file in a process that never
    imports bm25s or scipy (importing them cost 0.21 s of every indexing or searching process)."""
    import subprocess
    import sys

    from bm25s.stopwords import STOPWORDS_EN

    script = (
        "import json, sys\n"
        "from longsynth.generators.nextlong.bm25 import stop_words\n"
        "words = stop_words()\n"
        "print(json.dumps([words, sorted(m for m in ('bm25s', 'scipy') if m in sys.modules)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    words, imported = json.loads(done.stdout)
    assert words == sorted(STOPWORDS_EN) and len(words) > 20
    assert imported == []


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ('STOPWORDS_EN = (\n    "a",\n    "it\'s",\n)\n\nOTHER = ("x",)\n', ("a", "it's")),
        ('OTHER = ("x",)\nSTOPWORDS_EN = ("the", "and")\n', ("the", "and")),
        ('STOPWORDS_EN = (__import__("pathlib").Path("ran").touch(),)\n', None),  # never run: a call
        ("STOPWORDS_EN = tuple(WORDS)\n", None),
        ('STOPWORDS_EN = ("a", 1)\n', None),
        ("STOPWORDS_EN = ()\n", None),
        ("", None),
        (b"STOPWORDS_EN = (\xff)", None),
    ],
)
def test_a_stop_word_file_is_read_as_a_literal_or_not_at_all(tmp_path, monkeypatch, written, expected):
    """Only a tuple of strings written out is taken from the file; anything else (a call, a name,
    another type, nothing, bytes that are not UTF-8) gives None, and `stop_words` then imports
    bm25s's module. Nothing in the file is run."""
    import importlib.util
    import types

    from longsynth.generators.nextlong import bm25

    package = tmp_path / "pkg"
    package.mkdir()
    target = package / "stopwords.py"
    target.write_bytes(written if isinstance(written, bytes) else written.encode())
    found = types.SimpleNamespace(submodule_search_locations=[str(package)])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: found if name == "bm25s" else None)
    monkeypatch.chdir(tmp_path)
    assert bm25._stop_words_literal() == expected
    assert not (tmp_path / "ran").exists()


def test_the_stop_words_come_from_bm25s_module_when_its_file_cannot_be_read(monkeypatch):
    from bm25s.stopwords import STOPWORDS_EN

    from longsynth.generators.nextlong import bm25

    monkeypatch.setattr(bm25, "_stop_words_literal", lambda: None)
    bm25.stop_words.cache_clear()
    try:
        assert bm25.stop_words() == tuple(sorted(STOPWORDS_EN))
    finally:
        bm25.stop_words.cache_clear()


def test_the_index_counts_the_tokens_a_query_would_find(tmp_path):
    """The index's per-chunk term counts equal what the query tokenizer (`tokens`) finds in each chunk,
    terms numbered in order of first appearance across batches; stop words, one-letter words and
    empty chunks hold nothing. Two tokenizer paths (one for building, one for searching) must agree
    or a query misses the chunks that hold its words."""
    from collections import Counter

    from longsynth.generators.nextlong.bm25 import Bm25, stop_words, tokens

    rng = np.random.default_rng(5)
    pool = ["Zebra", "zebra", "ÉCOLE", "école", "naïve", "x", "42", "a1", "the", "and", "it's", "über-cool", "日本語"]
    texts = [" ".join(rng.choice(pool, size=int(rng.integers(0, 12)))) + "." for _ in range(400)]
    texts[7] = ""
    Bm25.write(iter([texts[i : i + 33] for i in range(0, len(texts), 33)]), tmp_path / "index")
    index = Bm25.load(tmp_path / "index")
    found = tokens(texts)
    expected = [Counter() for _ in texts]
    for row, term in zip(found["row"].to_list(), found["term"].to_list(), strict=True):
        expected[row][term] += 1
    first_seen = list(dict.fromkeys(found["term"].to_list()))
    assert index.terms == len(first_seen) and not set(first_seen) & set(stop_words())
    assert index.term_ids(first_seen).tolist() == list(range(len(first_seen)))
    held = [Counter() for _ in texts]
    k1, b = 1.5, 0.75
    lengths = np.array([sum(c.values()) for c in expected], dtype=np.float64)
    for t, term in enumerate(first_seen):
        ids, scores = index.row(t)
        idf = index.idf([term])[0]
        for chunk, score in zip(ids.tolist(), scores.tolist(), strict=True):
            # the count back from the score: score = idf * n (k1 + 1) / (n + k1 (1 - b + b len / mean))
            norm = k1 * (1 - b + b * lengths[chunk] / lengths.mean())
            factor = score / idf
            held[chunk][term] = round(factor * norm / (k1 + 1 - factor))
    assert held == expected


def test_the_zipf_corpus_is_pinned_and_the_same_from_any_start():
    """Document n is a function of (seed, n) alone, read from any start (here across a block edge), and
    its bytes are pinned: index caches are keyed by `zipf_corpus.VERSION`, so a change to the text that
    does not bump it would reuse indexes of another corpus. (The digest was taken before the generator
    was rewritten to join a table of precomputed pieces; the rewrite kept every byte.)"""
    import hashlib

    from longsynth.generators.nextlong import zipf_corpus as zipf

    documents = list(zipf.zipf_corpus(2500))
    assert zipf.zipf_documents(1000, 100) == documents[1000:1100]
    assert [d for d, _ in documents] == [f"zipf-{n}" for n in range(2500)]
    digest = hashlib.sha256("\x00".join(d + "\x01" + t for d, t in documents).encode()).hexdigest()
    assert digest == "697eb30774eb4be13f1d1daaad16a724601e12f6da4d9794aa4bdc133175151e", (
        f"the built-in Zipf corpus changed (VERSION {zipf.VERSION}): bump VERSION and pin the new digest"
    )


@pytest.mark.parametrize(
    "start, count, seed, digest",
    [
        (0, 2500, 0, "5756c650c2698803856276e5e755b6657b1690b88490a9fa654c19ae3a7573aa"),
        (999_000, 700, 0, "7234db4d3b38398f101aba49986eb995ae5ee6b72b9550fd1fed1f3a1e5d6e6a"),
        (40, 300, 3, "0f0e4b667d9f4fd6bd2bbc3c8c76f7eef043791a22602f610faf10fa0b3011ec"),
    ],
)
def test_the_topical_corpus_is_pinned_and_the_same_from_any_start(start, count, seed, digest):
    """The topical corpus's bytes are pinned, as the Zipf corpus's are (its index caches are keyed by
    `synthetic_corpus.VERSION`), and document n is the same whatever batch makes it. (The digests were
    taken before its sentences were assembled from a table of pieces rather than a frame formatted by
    shape; the rewrite kept every byte, at the corpus's far end and under another seed too.)"""
    import hashlib

    from longsynth.generators.nextlong import synthetic_corpus as topical

    documents = topical.synthetic_documents(start, count, seed)
    assert [d for d, _ in documents] == [f"synthetic-{n}" for n in range(start, start + count)]
    middle = start + count // 3
    assert topical.synthetic_documents(middle, 5, seed) == documents[count // 3 : count // 3 + 5]
    assert topical.synthetic_document(middle, seed) == documents[count // 3]
    found = hashlib.sha256("\x00".join(d + "\x01" + t for d, t in documents).encode()).hexdigest()
    assert found == digest, (
        f"the built-in topical corpus changed (VERSION {topical.VERSION}): bump VERSION and pin the new digests"
    )


def test_the_zipf_rank_table_is_each_slots_rank():
    """The slot table, made by one search per rank, holds for every one of its 4 million slots what
    searching the cumulative shares for that slot's centre gives, and ranks run from 0 to the last."""
    from longsynth.generators.nextlong import zipf_corpus as zipf

    zipf._rank_table.cache_clear()
    table = zipf._rank_table()
    weights = 1.0 / np.arange(1, zipf.VOCABULARY + 1, dtype=np.float64) ** zipf.EXPONENT
    cumulative = np.cumsum(weights / weights.sum())
    centres = (np.arange(1 << zipf.TABLE_BITS, dtype=np.float64) + 0.5) / (1 << zipf.TABLE_BITS)
    expected = np.minimum(np.searchsorted(cumulative, centres, side="right"), zipf.VOCABULARY - 1)
    assert table.dtype == np.uint16 and np.array_equal(table, expected)
    assert table[0] == 0 and table[-1] == zipf.VOCABULARY - 1 and (np.diff(table.astype(np.int64)) >= 0).all()


def test_a_chunks_own_words_do_not_crowd_out_the_words_it_shares(tmp_path):
    """Each chunk has 40 words no other chunk has, and shares a few: a search for one finds the
    others by the shared words (the words one chunk holds no longer take the 24 slots), and it still
    finds the chunk that holds a query's unique word."""
    from longsynth.generators.nextlong import bm25

    texts = [
        " ".join(f"own{n}x{k}" for k in range(40)) + (" river stone lantern" if n % 2 else " river stone meadow")
        for n in range(30)
    ]
    bm25.Bm25.write(iter([texts]), tmp_path / "index")
    index = bm25.Bm25.load(tmp_path / "index")
    (ids, scores), (alone, _) = index.search_many([texts[0], "own7x3 nothing"], 64)
    assert ids[0] == 0 and len(ids) == 30 and (scores > 0).all()  # itself first, then every other chunk
    assert set(ids[1:15].tolist()) == set(range(2, 30, 2))  # those sharing "meadow" next
    assert alone.tolist() == [7]


def test_a_searchs_own_split_finds_what_the_index_split_finds():
    """`terms_of` splits short ASCII texts with Python's regex: on random ASCII (underscores, digits,
    apostrophes, capitals, stop words, every punctuation mark) it gives the rows and terms `tokens`
    (polars, the index's split) gives; texts with other characters or too long go to `tokens` itself."""
    import string

    from longsynth.generators.nextlong import bm25

    rng = np.random.default_rng(17)
    pieces = ["The", "and", "a", "I", "it's", "x_y", "_", "__init__", "42", "7", "v2", "Zebra", "MEADOW", "don't"]
    pieces += list(string.punctuation) + [" ", "\n", "\t", "  "]
    for trial in range(300):
        texts = ["".join(rng.choice(pieces, size=int(rng.integers(0, 60)))) for _ in range(int(rng.integers(1, 4)))]
        rows, terms = bm25.terms_of(texts)
        found = bm25.tokens(texts)
        assert terms == found["term"].to_list(), trial
        assert rows.tolist() == found["row"].to_list(), trial
    calls = []
    real = bm25.tokens
    try:
        bm25.tokens = lambda texts: calls.append(texts) or real(texts)
        bm25.terms_of(["naïve école"])
        bm25.terms_of(["word " * (bm25.QUERY_CHARS // 5 + 1)])
        bm25.terms_of(["plain words"])
    finally:
        bm25.tokens = real
    assert len(calls) == 2


def test_a_search_ranks_chunks_as_summing_every_posting_does():
    """`top_by_chunk`, every way (adding into a corpus-long table and ranking only the chunks that can
    be among the best; sorting the postings by chunk; sorting only the chunks whose bucket's sum can
    reach the best, with as few buckets as 16 for 500 chunks, so that most share one), gives what
    summing each chunk's postings in order and ranking every chunk gives: the same chunks, the same
    float sums, ties to the lower id; and the table is left all zero."""
    from longsynth.generators.nextlong.bm25 import QUERY_TERMS, _top_by_bounds, _top_by_sorting, top_by_chunk

    rng = np.random.default_rng(5)
    sums = np.zeros(500, dtype=np.float64)
    for trial in range(300):
        terms = int(rng.integers(1, QUERY_TERMS + 1))
        rows = [np.sort(rng.choice(500, size=int(rng.integers(1, 120)), replace=False)) for _ in range(terms)]
        # few distinct scores, so many chunks tie
        scores = [rng.choice(np.array([0.5, 1.0, 1.5, 2.25], np.float32), size=len(r)) for r in rows]
        ids, values = np.concatenate(rows).astype(np.int32), np.concatenate(scores)
        k = int(rng.integers(1, 12))
        expected: dict[int, float] = {}
        for chunk, value in zip(ids.tolist(), values.astype(np.float64).tolist(), strict=True):
            expected[chunk] = expected[chunk] + value if chunk in expected else value
        ranked = sorted((c for c in expected if expected[c] > 0), key=lambda c: (-expected[c], c))[:k]
        found = {"table": top_by_chunk(ids, values, k, sums), "chosen": top_by_chunk(ids, values, k)}
        found["sorting"] = _top_by_sorting(ids, values, k)
        found |= {f"bounds {slots}": _top_by_bounds(ids, values, k, slots) for slots in (16, 64, 1024)}
        for way, (got_ids, got_values) in found.items():
            assert got_ids.tolist() == ranked, (trial, way)
            assert got_values.tolist() == [expected[c] for c in ranked], (trial, way)
        assert not sums.any()


def test_every_way_of_summing_a_search_gives_the_same_floats():
    """With scores whose sums round (BM25's: a term in nearly every chunk scores near 0; times a
    query's counts), the sorted ways add each chunk's postings in the order they came, as the table
    does: the same sums to the last bit, so the same chunks rank, whichever way a search takes (a
    sum in another order fails this). The bounded way's bucket sums round too, and still drop no
    chunk that ranks (a rounded bound below its chunk's sum would)."""
    from longsynth.generators.nextlong.bm25 import QUERY_TERMS, _top_by_bounds, _top_by_sorting, top_by_chunk

    rng = np.random.default_rng(11)
    sums = np.zeros(3000, dtype=np.float64)
    for trial in range(200):
        rows = [np.sort(rng.choice(3000, size=int(rng.integers(1, 400)), replace=False)) for _ in range(QUERY_TERMS)]
        scale = [10.0 ** rng.uniform(-9, 1.5) for _ in rows]  # each term's idf
        scores = [
            (rng.random(len(r)) * s).astype(np.float32).astype(np.float64) for r, s in zip(rows, scale, strict=True)
        ]
        scores = [s * int(rng.integers(1, 4)) for s in scores]  # times the term's count in the query
        ids, values = np.concatenate(rows).astype(np.int32), np.concatenate(scores).astype(np.float64)
        k = int(rng.integers(1, 200))
        by_table = top_by_chunk(ids, values, k, sums)
        others = {"sorting": _top_by_sorting(ids, values, k), "chosen": top_by_chunk(ids, values, k)}
        others |= {f"bounds {slots}": _top_by_bounds(ids, values, k, slots) for slots in (64, 512)}
        for way, (got_ids, got_values) in others.items():
            assert got_ids.tolist() == by_table[0].tolist(), (trial, way)
            assert got_values.tobytes() == by_table[1].tobytes(), (trial, way)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_is_given_back_before_the_ivf_is_built():
    """Texts freed on the C heap between survivors stay resident until `return_freed_memory`."""
    import longsynth.generators.nextlong.retrieval as retrieval

    def resident_mib() -> float:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

    texts, survivors = [], []
    for n in range(60_000):
        texts.append(("x" * 2_000) + str(n))  # on the C heap (2 KB each: 120 MB)
        if n % 50 == 0:
            survivors.append(str(n) * 100)  # kept: the heap cannot just shrink from its top
    retrieval.return_freed_memory()  # (whatever an earlier test left)
    del texts
    before = resident_mib()
    retrieval.return_freed_memory()
    assert before - resident_mib() > 60
    assert len(survivors) == 1_200


def test_loading_wordllama_leaves_the_root_logger_as_it_was():
    """wordllama's import sets the root logger to INFO with a handler on stderr: a build's stderr then
    showed faiss's "Loading faiss." and every other library's INFO lines. In a fresh interpreter
    (where the import really runs), nothing reaches stderr and the root logger is unchanged."""
    import subprocess

    code = (
        "import logging\n"
        "from longsynth.generators.nextlong.retrieval import load_encoder\n"
        "embed = load_encoder('wordllama')\n"
        "import faiss\n"
        "logging.getLogger('any.library').info('an INFO line')\n"
        "root = logging.getLogger()\n"
        "print(root.level, len(root.handlers), embed(['a text']).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(logging.WARNING), "0", "(1,", "256)"]
    assert done.stderr == ""


def test_the_encoder_and_freed_memory_are_let_go_before_the_ivf_is_built(tmp_path, monkeypatch):
    """The IVF's lists are the largest allocation of a dense index's build: by then the embedding
    model is no longer held, and the heap's freed pages have been handed back."""
    import gc
    import weakref

    import longsynth.generators.nextlong.retrieval as retrieval

    made, seen = [], {}
    load = retrieval.load_encoder

    def tracked(model):
        encoder = load(model)
        made.append(weakref.ref(encoder))
        return encoder

    def trimmed():
        seen["trimmed"] = True

    def ivf(vectors_file, path):
        gc.collect()
        seen["encoder alive"] = made[0]() is not None
        seen["trimmed before"] = seen.get("trimmed", False)

    monkeypatch.setattr(retrieval, "load_encoder", tracked)
    monkeypatch.setattr(retrieval, "return_freed_memory", trimmed)
    monkeypatch.setattr(retrieval, "write_ivf", ivf)
    monkeypatch.setattr(retrieval, "EXACT_SEARCH_LIMIT", 10)
    retrieval._Dense.write(iter([[f"chunk number {n} of a test corpus" for n in range(40)]]), "wordllama", tmp_path)
    assert seen == {"encoder alive": False, "trimmed before": True, "trimmed": True}
