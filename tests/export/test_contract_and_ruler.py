"""The length contract under chat templates, and the files RULER's scripts read."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from longsynth.cli import cli
from longsynth.inspect import validate_directory
from longsynth.pipeline import build
from longsynth.spec import load_spec
from longsynth.tokenizers import get_tokenizer

CHAT = (
    "{{ bos_token }}{% for m in messages %}<|start|>{{ m['role'] }}\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|start|>assistant\n{% endif %}"
)


def _rows(out: Path) -> list[dict]:
    return pl.concat([pl.read_parquet(p) for p in sorted(out.glob("*/*.parquet"))]).to_dicts()


def _contract(row: dict, before: str, after: str) -> None:
    count = get_tokenizer(row["tokenizer"]).count
    assert row["prompt"] == before + row["input"] + after + row["answer_prefix"]
    assert count(row["prompt"]) == row["prompt_length"] and count(row["input"]) == row["length"]
    target = row["target_length"]
    assert target - max(16, int(0.002 * target)) <= row["prompt_length"] + row["reserve"] <= target
    assert row["input"].endswith("\n")  # input + answer_prefix reads as two lines


def test_a_128k_needle_row_leaves_its_reserve(tmp_path):
    out = build(load_spec(None, tasks="niah_single_2", lengths="128k", depths="50", samples=1), tmp_path / "o")
    row = _rows(out)[0]
    assert row["reserve"] == 128 and row["prompt_length"] + 128 <= 131072
    _contract(row, "", "")


@pytest.mark.parametrize("source", ["jinja file", "hf folder"])
def test_chat_templates_wrap_the_input_and_keep_the_contract(source, tmp_path):
    if source == "jinja file":
        (tmp_path / "chat.jinja").write_text(CHAT)
        template, bos = str(tmp_path / "chat.jinja"), ""
    else:
        folder = tmp_path / "tok"
        folder.mkdir()
        (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": CHAT, "bos_token": "<s>"}))
        template, bos = f"hf:{folder}", "<s>"
    spec = load_spec(
        None,
        generator="longbio",
        tasks="bio_standard,bio_citation",
        lengths="2k",
        depths="0,100",
        samples=1,
        chat_template=template,
    )
    out = build(spec, tmp_path / "o")
    assert validate_directory(out).problems == []
    for row in _rows(out):
        _contract(row, f"{bos}<|start|>user\n", "<|end|>\n<|start|>assistant\n")


def test_a_template_that_drops_the_message_is_refused(tmp_path):
    from longsynth.errors import SpecError
    from longsynth.pipeline import make_generator

    (tmp_path / "chat.jinja").write_text("{{ messages[0]['content'] | upper }}")
    with pytest.raises(SpecError, match="must place the user's message once, unchanged"):
        make_generator(load_spec(None, chat_template=str(tmp_path / "chat.jinja")))


def test_every_family_keeps_the_contract(tmp_path):
    for generator, tasks in [("needle", "niah_multikey_3"), ("holobench", "holo_extreme")]:
        out = build(load_spec(None, generator=generator, tasks=tasks, lengths="4k", samples=2), tmp_path / generator)
        for row in _rows(out):
            _contract(row, "", "")


def test_ruler_export_has_the_fields_ruler_reads(tmp_path):
    spec = load_spec(None, tasks="niah_single_1,niah_multivalue", lengths="2k", depths="0,100", samples=2)
    out = build(spec, tmp_path / "o")
    result = CliRunner().invoke(cli, ["export", "ruler", str(out), str(tmp_path / "ruler")])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in _rows(out)}
    for task in ("niah_single_1", "niah_multivalue"):  # RULER's task names
        lines = (tmp_path / "ruler" / task / "validation.jsonl").read_text().split("\n")
        records = [json.loads(line) for line in lines if line]
        assert [r["index"] for r in records] == list(range(4))
        for record in records:
            assert set(record) == {"index", "input", "outputs", "length", "answer_prefix", "others"}
            row = rows[record["others"]["id"]]
            assert record["input"] + record["answer_prefix"] == row["prompt"]  # what RULER's client sends
            assert record["outputs"] == row["answers"]
            assert record["length"] == row["prompt_length"] + row["reserve"] <= row["target_length"]


def test_ruler_export_refuses_training_rows_and_damaged_folders(tmp_path):
    spec = load_spec(None, generator="nextlong", tasks="nextlong", lengths="1k", samples=1, corpus="builtin:200")
    train = build(spec, tmp_path / "t")
    refused = CliRunner().invoke(cli, ["export", "ruler", str(train), str(tmp_path / "r")])
    assert refused.exit_code == 2 and "training text" in refused.stderr
    evaluation = build(load_spec(None, lengths="1k", depths="50", samples=1), tmp_path / "e")
    shard = sorted(evaluation.glob("*/*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[:100])
    damaged = CliRunner().invoke(cli, ["export", "ruler", str(evaluation), str(tmp_path / "r2")])
    assert damaged.exit_code == 2 and "does not match its manifest" in damaged.stderr


def test_shards_are_written_without_dictionary_pages(tmp_path):
    """A row's texts are unique: a dictionary of them saves nothing, and building one copied every
    text of a row group into pyarrow's memory (a build's peak). Every column is written plain, in
    row groups of at most 64 rows, and reads back as written."""
    import pyarrow.parquet as pq

    spec = load_spec(None, generator="needle", tasks="niah_single_1", lengths="1k", depths="0,100", samples=40)
    out = build(spec, tmp_path / "ds")
    shards = sorted(out.glob("*/*.parquet"))
    assert shards
    for shard in shards:
        metadata = pq.ParquetFile(shard).metadata
        for group in range(metadata.num_row_groups):
            assert metadata.row_group(group).num_rows <= 64
            for column in range(metadata.num_columns):
                encodings = metadata.row_group(group).column(column).encodings
                assert not any("DICTIONARY" in e for e in encodings), (metadata.schema.column(column).name, encodings)
    assert validate_directory(out).problems == []
