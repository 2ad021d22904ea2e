"""A whole build counted by a Hugging Face tokenizer made by the test (no network)."""

from __future__ import annotations

import json
import os

import polars as pl
import pytest

from longsynth.generators.needle.keys import key_words
from longsynth.inspect import validate_directory
from longsynth.pipeline import build
from longsynth.spec import load_spec
from longsynth.text.prose import prose_sentences


@pytest.fixture(scope="module")
def hf_tokenizer_dir(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder = tmp_path_factory.mktemp("tok")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()  # sentencepiece-style: spaces become part of tokens
    tok.decoder = decoders.Metaspace()
    adjectives, nouns = key_words()
    corpus = prose_sentences(3000) + [" ".join(adjectives), " ".join(nouns), "0123456789 - . ? !"]
    trainer = trainers.BpeTrainer(vocab_size=1500, initial_alphabet=list("abcdefghijklmnopqrstuvwxyz0123456789"))
    tok.train_from_iterator(corpus, trainer)
    tok.save(str(folder / "tokenizer.json"))
    return folder


@pytest.mark.parametrize("task", ["niah_single_2", "niah_multikey_2"])
def test_build_with_local_hf_tokenizer(hf_tokenizer_dir, tmp_path, task):
    from tokenizers import Tokenizer

    spec = load_spec(None, tasks=task, lengths="2k", depths="0,50,100", samples=1, tokenizer=f"hf:{hf_tokenizer_dir}")
    out = build(spec, tmp_path / "hf")
    reference = Tokenizer.from_file(str(hf_tokenizer_dir / "tokenizer.json"))
    rows = pl.read_parquet(out / task / "*.parquet").to_dicts()
    for row in rows:
        n = len(reference.encode(row["input"], add_special_tokens=False).ids)
        p = len(reference.encode(row["prompt"], add_special_tokens=False).ids)
        assert n == row["length"] and p == row["prompt_length"]
        assert 2048 - 16 <= p + row["reserve"] <= 2048
        assert json.loads(row["metadata"])["needles"]
    assert validate_directory(out).problems == []


def test_hf_builds_run_on_one_thread_and_tiktoken_builds_overlap(hf_tokenizer_dir, monkeypatch):
    """`tokenizers` holds the GIL while it encodes, so overlapping would only add contention."""
    import longsynth.pipeline as pipeline
    from longsynth.tokenizers import get_tokenizer

    monkeypatch.setattr(pipeline, "available_cores", lambda: 8)
    assert pipeline.generation_threads(get_tokenizer(f"hf:{hf_tokenizer_dir}")) == 1
    assert pipeline.generation_threads(get_tokenizer("cl100k_base")) == 4
    assert pipeline.generation_threads(get_tokenizer("cl100k_base"), processes=8) == 1


def test_a_local_tokenizer_is_kept_by_its_file_not_its_name(tmp_path, monkeypatch):
    """`hf:tok` in two folders names two tokenizers, and a file edited since it was loaded is loaded
    again: kept by the name alone, the second folder's (or the edited) file was never read."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    from longsynth.tokenizers import get_tokenizer

    def save(folder, vocabulary):
        tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, **vocabulary}, unk_token="[UNK]"))
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        (folder / "tok").mkdir(exist_ok=True)
        tokenizer.save(str(folder / "tok" / "tokenizer.json"))

    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    save(first, {"hello": 1, "world": 2})
    save(second, {"hello": 7})
    monkeypatch.chdir(first)
    assert get_tokenizer("hf:tok").encode("hello world") == [1, 2]
    assert get_tokenizer("hf:tok") is get_tokenizer("hf:tok")  # loaded once while the file stays
    monkeypatch.chdir(second)
    assert get_tokenizer("hf:tok").encode("hello world") == [7, 0]
    save(second, {"hello": 3, "world": 4})
    os.utime(second / "tok" / "tokenizer.json", ns=(1, 1))  # a new time, however fast the edit
    assert get_tokenizer("hf:tok").encode("hello world") == [3, 4]


def test_a_tokenizer_process_that_dies_is_one_error(tmp_path, monkeypatch, hf_tokenizer_dir):
    """The helper exits before it answers (here its script is one that exits at once; in life, killed
    or out of memory): one TokenizerError naming the file, not a traceback from a pipe."""
    import longsynth.hf_helper as hf_helper
    from longsynth.errors import TokenizerError
    from longsynth.tokenizers import HFTokenizer

    (tmp_path / "exits.py").write_text("raise SystemExit(3)\n")
    monkeypatch.setattr(hf_helper, "__file__", str(tmp_path / "exits.py"))
    said = r"could not be loaded; tried: file .*\(the tokenizer process stopped \(it exited\)\)"
    with pytest.raises(TokenizerError, match=said):
        HFTokenizer(str(hf_tokenizer_dir))
