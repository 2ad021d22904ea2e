"""The issue's Show build: exact lengths, recorded offsets, determinism, oracle defects."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import polars as pl
import pytest
import tiktoken

from longsynth import regenerate
from longsynth.pipeline import build, make_generator
from longsynth.spec import load_spec
from longsynth.tokenizers import _ENCODINGS, _cache_dir, get_tokenizer
from longsynth.validators import Validator, validate_row


def _independent_cl100k() -> tiktoken.Encoding:
    """A cl100k encoder built straight from the verified vocabulary file, not through longsynth."""
    get_tokenizer("cl100k_base")  # makes sure the verified file exists in the cache
    facts = _ENCODINGS["cl100k_base"]
    # Read here, not by tiktoken's `load_tiktoken_bpe`, which copies a file into $TMPDIR/data-gym-cache
    blob = (_cache_dir() / "cl100k_base.tiktoken").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == facts.sha256
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in blob.splitlines())}
    return tiktoken.Encoding("cl100k_check", pat_str=facts.pattern, mergeable_ranks=ranks, special_tokens={})


def _rows(out: Path) -> list[dict]:
    return pl.read_parquet(sorted(out.glob("*/*.parquet"))).to_dicts()


def _hashes(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".longsynth" not in p.parts
    }


def test_lengths_are_exact_under_an_independent_count(show_build):
    spec, out = show_build
    enc = _independent_cl100k()
    rows = _rows(out)
    assert len(rows) == 6 * 2 * 3 * 2
    for row in rows:
        n = len(enc.encode_ordinary(row["input"]))
        p = len(enc.encode_ordinary(row["prompt"]))
        assert n == row["length"] and p == row["prompt_length"] and row["reserve"] == 128
        # the length contract: the prompt plus the tokens kept for the answer fit the target
        assert row["target_length"] - max(16, int(0.002 * row["target_length"])) <= p + 128 <= row["target_length"]
        assert row["prompt"] == row["input"] + row["answer_prefix"]


def test_every_needle_sits_at_its_recorded_offsets(show_build):
    _, out = show_build
    enc = _independent_cl100k()
    for row in _rows(out):
        meta = json.loads(row["metadata"])
        assert len(meta["needles"]) == len(row["depths"])
        for needle in meta["needles"]:
            sentence = row["input"][needle["char_offset"] : needle["char_end"]]
            assert needle["key"] in sentence and sentence.rstrip("\n").endswith(f"{needle['value']}.")
            # tokens before the needle, counted independently on the text before it
            before = len(enc.encode_ordinary(row["input"][: needle["char_offset"]]))
            assert abs(before - needle["token_offset"]) <= 1  # the leading space may merge either way
        # each answer is a needle value of a queried key
        values = {n["value"] for n in meta["needles"] if n["key"] in meta["queries"]}
        assert set(row["answers"]) == values


def test_ids_unique_and_rows_regenerate_from_their_id(show_build):
    spec, out = show_build
    rows = _rows(out)
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows[::17]:
        assert regenerate(spec, row["id"]) == row


def test_same_seed_same_bytes_other_seed_other_data(show_build, tmp_path):
    spec, out = show_build
    again = build(spec, tmp_path / "again")
    assert _hashes(out) == _hashes(again)
    other = load_spec(None, tasks=",".join(spec.tasks), lengths="4k,16k", depths="0,50,100", samples=2, seed=7)
    different = build(other, tmp_path / "other")
    a = pl.read_parquet(out / "niah_single_1" / "test-00000-of-00001.parquet")
    b = pl.read_parquet(different / "niah_single_1" / "test-00000-of-00001.parquet")
    assert a["answers"].to_list() != b["answers"].to_list()


def test_load_dataset_offline(show_build, tmp_path, monkeypatch):
    import datasets

    _, out = show_build
    ds = datasets.load_dataset(str(out), "niah_multivalue", split="test", cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == 12 and len(ds[0]["answers"]) == 4


# ------------------------------------------------------------------ oracle defects


@pytest.fixture(scope="module")
def generator(show_build):
    spec, _ = show_build
    return make_generator(spec)


def _row(show_build, task: str, index: int = 0) -> dict:
    _, out = show_build
    return pl.read_parquet(out / task / "test-00000-of-00001.parquet").row(index, named=True)


def test_valid_row_has_no_problems(show_build, generator):
    assert validate_row(_row(show_build, "niah_multikey_1"), generator, generator.tokenizer) == []


def test_oracle_rejects_duplicated_key(show_build, generator):
    row = _row(show_build, "niah_single_1")
    meta = json.loads(row["metadata"])
    key = meta["queries"][0]
    extra = f" Keep in mind that one hidden number for {key} is 7654321."
    cut = meta["context_span"][1]
    row["input"] = row["input"][:cut] + extra + row["input"][cut:]
    problems = validate_row(row, generator, generator.tokenizer)
    assert any(f"key {key} has 2 needles" in p for p in problems)


def test_oracle_rejects_missing_needle(show_build, generator):
    row = _row(show_build, "niah_multivalue", 3)
    needle = json.loads(row["metadata"])["needles"][2]
    row["input"] = row["input"][: needle["char_offset"]] + row["input"][needle["char_end"] :]
    problems = validate_row(row, generator, generator.tokenizer)
    assert any("has 3 needles" in p for p in problems)


@pytest.mark.parametrize("moved", [1, -1, "to_zero", "negative", "text", "true", "other_needle"])
def test_oracle_rejects_a_needle_recorded_elsewhere(show_build, generator, moved):
    """A recorded offset is where the needle template, read there, gives the needle's key and value:
    an offset moved by one, to another needle, below zero, or not a number is a problem."""
    row = _row(show_build, "niah_multikey_1")
    meta = json.loads(row["metadata"])
    needles = meta["needles"]
    offset = needles[0]["char_offset"]
    if moved == "other_needle":
        row["input"] = row["input"][:offset] + row["input"][offset:]  # unchanged text
        needles[0]["char_offset"] = needles[1]["char_offset"] if len(needles) > 1 else offset + 1
    else:
        needles[0]["char_offset"] = {"to_zero": 0, "negative": offset - 10**9, "text": str(offset), "true": True}.get(
            moved, offset + moved if isinstance(moved, int) else offset
        )
    row["metadata"] = json.dumps(meta)
    problems = validate_row(row, generator, generator.tokenizer)
    assert any("is not at its recorded offset" in p for p in problems), problems


def test_oracle_rejects_leaked_answer(show_build, generator):
    row = _row(show_build, "niah_single_3", 1)
    start = json.loads(row["metadata"])["context_span"][0]
    row["input"] = row["input"][:start] + f"Note {row['answers'][0]} here. " + row["input"][start:]
    problems = validate_row(row, generator, generator.tokenizer)
    assert any("occurs 2 times" in p for p in problems)


def test_oracle_rejects_wrong_recorded_length(show_build, generator):
    row = _row(show_build, "niah_multiquery")
    row["length"] += 1
    problems = validate_row(row, generator, generator.tokenizer)
    assert any("recorded length" in p for p in problems)


def test_oracle_rejects_answer_prefix_in_context(show_build, generator):
    row = _row(show_build, "niah_single_1")
    row["input"] = row["answer_prefix"] + " " + row["input"]
    assert any("answer prefix" in p for p in validate_row(row, generator, generator.tokenizer))


def test_oracle_rejects_wrong_recorded_depth(show_build, generator):
    row = _row(show_build, "niah_single_1", 5)
    row["depths"] = [row["depths"][0] + 3.0]
    assert any("depth" in p for p in validate_row(row, generator, generator.tokenizer))


# ------------------------------------------------------------------ task semantics


def test_distractor_keys_never_equal_the_queried_key(tmp_path):
    spec = load_spec(None, tasks="niah_multikey_2,niah_multikey_3", lengths="4k", depths="50", samples=2)
    out = build(spec, tmp_path / "mk")
    for row in _rows(out):
        meta = json.loads(row["metadata"])
        pattern = r"hidden \w+ for (\S+) is (\S+)\."
        found = re.findall(pattern, row["input"])
        assert len(found) > 20  # the haystack is made of needles
        keys = [k for k, _ in found]
        values = [v for _, v in found]
        assert keys.count(meta["queries"][0]) == 1
        assert len(set(values)) == len(values)


def test_presets_follow_ruler(generator):
    cls = type(generator)
    assert cls.tasks["niah_single_1"].preset["haystack"] == "noise"
    assert cls.tasks["niah_multikey_3"].preset == {"haystack": "needle", "key_type": "uuids", "value_type": "uuids"}
    assert generator.task_options("niah_multiquery").num_queries == 4
    assert generator.task_options("niah_multivalue").num_values == 4
    assert generator.task_options("niah_multivalue").num_keys == 1


def test_every_parameter_is_settable(tmp_path):
    spec = load_spec(
        None,
        tasks="niah_single_2",
        lengths="2k",
        depths="25",
        samples=1,
        num_keys=3,
        num_values=2,
        num_queries=2,
        key_type="numbers",
        value_type="words",
    )
    out = build(spec, tmp_path / "custom")
    row = _rows(out)[0]
    meta = json.loads(row["metadata"])
    assert len(meta["needles"]) == 6 and len(row["answers"]) == 4
    assert all(re.fullmatch(r"[a-z]+-[a-z]+", a) for a in row["answers"])
    assert "hidden words for" in row["question"]


def test_user_templates_are_used_and_parsed(tmp_path):
    folder = tmp_path / "tpl" / "needle"
    folder.mkdir(parents=True)
    (folder / "needle.j2").write_text("Secret: the {{ kind }} of {{ key }} equals {{ value }}.")
    spec = load_spec(
        None, tasks="niah_single_1", lengths="1k", depths="50", samples=2, template_dir=str(tmp_path / "tpl")
    )
    out = build(spec, tmp_path / "t")
    for row in _rows(out):
        assert f"Secret: the number of {json.loads(row['metadata'])['queries'][0]} equals" in row["input"]


def test_jsonl_format_is_ruler_style(tmp_path):
    spec = load_spec(None, tasks="niah_single_1", lengths="1k", depths="0,100", samples=1, formats=["jsonl"])
    out = build(spec, tmp_path / "j")
    text = (out / "niah_single_1" / "test-00000-of-00001.jsonl").read_text()
    lines = [json.loads(x) for x in text.split("\n") if x]
    assert [x["index"] for x in lines] == [0, 1]
    assert set(lines[0]) == {"index", "input", "outputs", "length", "answer_prefix", "others"}
    rows = {r["id"]: r for r in _rows(out)}
    assert all(x["input"] + x["answer_prefix"] == rows[x["others"]["id"]]["prompt"] for x in lines)


def test_o200k_build_counts_with_o200k(tmp_path):
    spec = load_spec(None, tasks="niah_single_2", lengths="2k", depths="50", samples=1, tokenizer="o200k_base")
    row = _rows(build(spec, tmp_path / "o"))[0]
    assert row["tokenizer"] == "o200k_base"
    assert len(get_tokenizer("o200k_base").encode(row["input"])) == row["length"]


def test_generate_streams_the_same_rows(tmp_path):
    import longsynth

    spec = load_spec(None, tasks="niah_single_1,niah_multiquery", lengths="1k", depths="0,100", samples=1)
    streamed = list(longsynth.generate(spec))
    built = _rows(build(spec, tmp_path / "g"))
    assert sorted(streamed, key=lambda r: r["id"]) == sorted(built, key=lambda r: r["id"])


def test_a_sample_that_keeps_failing_is_never_written(tmp_path, monkeypatch):
    from longsynth.errors import ValidationFailed
    from longsynth.generators.needle import NeedleGenerator

    calls = []

    def always_wrong(generator, row, metadata):
        calls.append(metadata["attempt"])
        return ["planted failure"]

    monkeypatch.setattr(NeedleGenerator, "validators", (Validator("always wrong", always_wrong, dict),))
    spec = load_spec(None, tasks="niah_single_1", lengths="1k", depths="50", samples=1, max_attempts=3)
    with pytest.raises(
        ValidationFailed, match="niah_single_1-1024-d50-00000 failed all 3 draws.*failed validation: planted failure"
    ):
        build(spec, tmp_path / "f")
    assert calls == [0, 1, 2]
    assert not list((tmp_path / "f").rglob("*.parquet"))


def test_a_retried_sample_records_its_attempt(tmp_path, monkeypatch):
    from longsynth.generators.needle import NeedleGenerator

    def fail_first(generator, row, metadata):
        return ["first attempt rejected"] if metadata["attempt"] == 0 else []

    validators = (*NeedleGenerator.validators, Validator("first attempt fails", fail_first, dict))
    monkeypatch.setattr(NeedleGenerator, "validators", validators)
    spec = load_spec(None, tasks="niah_single_1", lengths="1k", depths="50", samples=1)
    row = _rows(build(spec, tmp_path / "r"))[0]
    assert json.loads(row["metadata"])["attempt"] == 1


def test_depths_follow_the_answers_order(tmp_path):
    """`depths[i]` is the depth of the needle stating `answers[i]` (multi-value: answers in text order)."""
    spec = load_spec(None, tasks="niah_multivalue,niah_multiquery", lengths="2k", depths="20,80", samples=3)
    rows = _rows(build(spec, tmp_path / "o"))
    for row in rows:
        needles = json.loads(row["metadata"])["needles"]
        assert [n["value"] for n in needles[: len(row["answers"])]] == list(row["answers"])
        assert row["depths"][: len(row["answers"])] == [n["depth"] for n in needles[: len(row["answers"])]]


def test_question_and_answer_prefix_list_the_keys_alike(tmp_path):
    spec = load_spec(None, tasks="niah_multiquery", lengths="2k", depths="50", samples=1)
    row = _rows(build(spec, tmp_path / "o"))[0]
    keys = json.loads(row["metadata"])["queries"]
    listed = ", ".join(keys[:-1]) + " and " + keys[-1]
    assert listed in row["question"] and listed in row["answer_prefix"]


def test_a_corpus_without_the_corpus_haystack_is_refused(tmp_path):
    from longsynth.errors import SpecError

    (tmp_path / "c.txt").write_text("Some text. " * 200)
    with pytest.raises(SpecError, match="corpus has no effect here: it counts only when haystack=corpus"):
        make_generator(load_spec(None, tasks="niah_single_1", corpus=str(tmp_path / "c.txt")))


def test_keys_come_from_a_vocabulary_of_rulers_size_and_never_repeat_as_distractors(tmp_path):
    from longsynth.generators.needle.keys import key_words

    adjectives, nouns = key_words()
    assert len(adjectives) > 850 and len(nouns) > 6500  # RULER's lists: 912 x 6,782
    spec = load_spec(None, tasks="niah_multikey_2", lengths="16k", depths="50", samples=2)
    for row in _rows(build(spec, tmp_path / "k")):
        key = json.loads(row["metadata"])["queries"][0]
        keys = re.findall(r"hidden number for ([a-z]+-[a-z]+) is", row["input"])
        assert keys.count(key) == 1 and len(keys) > 500
        first, second = key.split("-")
        near = sum(k.split("-")[0] == first or k.split("-")[1] == second for k in keys if k != key)
        assert near < 20  # about 2 per 1,000 distractors, as in RULER (ours were 117 per 7,000 at 128K)


def test_drawn_keys_and_values_are_the_public_random_api_draws():
    """`draw_tokens` draws with `Random._randbelow` for speed: the very numbers `choice` and `randrange`
    give, so keys and values stay the same on every Python the project supports."""
    import random

    from longsynth.generators.needle.generator import draw_tokens
    from longsynth.generators.needle.keys import key_words

    fast = random.Random(5)
    words, numbers = draw_tokens("words", fast, 400, set()), draw_tokens("numbers", fast, 400, set())
    adjectives, nouns = key_words()
    slow, seen, expected = random.Random(5), set(), []
    while len(expected) < 400:
        token = f"{slow.choice(adjectives)}-{slow.choice(nouns)}"
        if token not in seen:
            seen.add(token)
            expected.append(token)
    assert words == expected
    seen, expected = set(), []
    while len(expected) < 400:
        token = str(slow.randrange(1_000_000, 10_000_000))
        if token not in seen:
            seen.add(token)
            expected.append(token)
    assert numbers == expected


def test_bulk_drawn_distractor_tokens_are_distinct_fresh_and_from_the_vocabulary():
    """A haystack's distractor keys and values, drawn in bulk: `count` distinct tokens, none already
    taken, words from the key vocabulary (both halves spread over their lists), numbers of 7 digits,
    the same from the same seed."""
    import random

    from longsynth.generators.needle.generator import draw_many_tokens
    from longsynth.generators.needle.keys import key_words

    adjectives, nouns = key_words()
    taken = {f"{adjectives[0]}-{nouns[0]}", "1234567"}
    words = draw_many_tokens("words", random.Random(4), 20_000, taken)
    assert len(set(words)) == 20_000 and not set(words) & taken
    firsts = {w.split("-", 1)[0] for w in words}
    seconds = {w.split("-", 1)[1] for w in words}
    assert firsts <= set(adjectives) and seconds <= set(nouns)
    assert len(firsts) > 0.95 * len(adjectives) and len(seconds) > 0.9 * len(nouns)
    numbers = draw_many_tokens("numbers", random.Random(4), 5_000, taken)
    assert len(set(numbers)) == 5_000 and all(len(n) == 7 and n.isdigit() for n in numbers)
    assert "1234567" not in numbers
    assert draw_many_tokens("words", random.Random(4), 20_000, taken) == words


@pytest.mark.parametrize("key_type, value_type", [("uuids", "uuids"), ("words", "numbers")])
def test_a_haystack_of_needles_draws_about_what_it_needs(key_type, value_type):
    """Distractor needles are drawn in batches sized by the tokens a needle took so far: the haystack
    holds the target, and not much more (a fixed guess of 12 tokens a needle drew three times the
    UUID needles a 32K sample uses, each counted)."""
    import random

    spec = load_spec(None, tasks="niah_multikey_2", lengths="32k", samples=1)
    generator = make_generator(spec)
    options = generator.task_options("niah_multikey_2").__class__(
        **{**generator.task_options("niah_multikey_2").__dict__, "key_type": key_type, "value_type": value_type}
    )
    target = 34_000
    texts, counts = generator._distractor_needles(
        options, target, random.Random(3), generator._needle_shape("uuids"), set()
    )
    held = int(counts.sum())
    assert held >= target
    assert held - target <= 0.03 * target + 16 * int(counts.max())
    tokenizer = get_tokenizer("cl100k_base")
    assert counts.tolist()[:50] == [len(tokenizer.encode(t)) for t in texts[:50]]


@pytest.mark.parametrize("shape", ["One of the special magic numbers for {k} is: {v}.", "{v} belongs to {k}", "{k}{v}"])
def test_distractor_lines_are_the_needle_template_filled(shape):
    """A haystack's needle lines, made by one format each, are the template filled as a needle is."""
    import random

    from longsynth.generators.needle.generator import LINE_END, _filled_lines, draw_many_tokens
    from longsynth.generators.needle.oracle import KEY, VALUE

    shape = shape.format(k=KEY, v=VALUE)
    rng = random.Random(2)
    keys = draw_many_tokens("words", rng, 50, set())
    values = draw_many_tokens("numbers", rng, 50, set(keys))
    filled = [shape.replace(KEY, k).replace(VALUE, v) for k, v in zip(keys, values, strict=True)]
    assert _filled_lines(shape, keys, values) == [text + LINE_END for text in filled]
    assert _filled_lines(shape, keys, values, "") == filled  # a placed needle among sentences
