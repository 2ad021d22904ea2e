"""Chinese (`language: zh`) for the needle and needlebench families: builds validate at 4K and 128K
with exact lengths under cl100k, o200k and a Hugging Face tokenizer the test trains; the haystack is
at least 90% CJK and made of sentences ending with 。; the fitter's prediction is the measured
length (units are counted after the 。 before them); answers are re-derived here with our own
reading; scoring reads Chinese replies (no spaces) and refuses echoes and lists of every value; the
needlebench suite builds both languages."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from longsynth.generators.base import Cell
from longsynth.inspect import validate_directory
from longsynth.metadata_json import decode_metadata
from longsynth.pipeline import build, make_generator
from longsynth.scoring import score
from longsynth.seeding import rng_for
from longsynth.spec import load_spec
from longsynth.text.language import cjk_share
from longsynth.text.prose_zh import prose_sentences_zh
from longsynth.text.units import split_sentences
from longsynth.text.vocabulary_zh import ADJECTIVES, NOUNS
from longsynth.tokenizers import get_tokenizer, measure

NEEDLE_TASKS = "niah_single_1,niah_single_2,niah_single_3,niah_multikey_1,niah_multikey_3,niah_multiquery"
BENCH_TASKS = "multi_retrieval_zh,multi_reasoning_zh,ancestral_trace_zh"


def _rows(out: Path) -> list[dict]:
    return pl.read_parquet(sorted(out.glob("*/*.parquet"))).to_dicts()


def _haystack(row: dict) -> str:
    """The context with every placed item cut out (recorded offsets are in the input): the filler."""
    text = row["input"]
    for needle in sorted(decode_metadata(row["metadata"])["needles"], key=lambda n: -n["char_offset"]):
        text = text[: needle["char_offset"]] + text[needle["char_end"] :]
    return "\n\n".join(text.split("\n\n")[1:-1])  # less the instruction above and the question below


@pytest.fixture(scope="module", params=["4k", "128k"])
def zh_builds(request, tmp_path_factory):
    length = request.param
    root = tmp_path_factory.mktemp(f"zh{length}")
    needle = load_spec(
        None, generator="needle", tasks=NEEDLE_TASKS, lengths=length, depths="0,50,100", samples=1, language="zh"
    )
    bench = load_spec(None, generator="needlebench", tasks=BENCH_TASKS, lengths=length, depths="0,50,100", samples=1)
    return build(needle, root / "needle"), build(bench, root / "bench")


def test_zh_builds_validate_with_exact_lengths(zh_builds, tokenizer):
    for out in zh_builds:
        assert validate_directory(out).problems == []
        for row in _rows(out):
            assert row["prompt_length"] == len(tokenizer.encode(row["prompt"]))
            if decode_metadata(row["metadata"]).get("fills_target", True):
                assert (
                    row["target_length"] - max(16, row["target_length"] // 500) <= row["prompt_length"] + row["reserve"]
                )
            assert row["prompt_length"] + row["reserve"] <= row["target_length"]


def test_the_haystack_is_chinese_prose_in_sentences(zh_builds):
    needle_out, bench_out = zh_builds
    rows = _rows(needle_out) + [r for r in _rows(bench_out) if not r["task"].startswith("ancestral")]
    for row in rows:
        if decode_metadata(row["metadata"])["params"]["haystack"] == "needle":
            continue  # a haystack of needles: keys and values are numbers and UUIDs
        haystack = _haystack(row)
        assert len(haystack) > 200
        assert cjk_share(haystack) >= 0.9, (row["id"], cjk_share(haystack))
        assert not re.search(r"[A-Za-z0-9]", haystack), row["id"]  # no digit or Latin letter in the filler
        assert haystack.endswith("。")


def test_answers_rederived_with_our_own_reading(zh_builds):
    """Needles: the value in 「」 after each asked key in 「」. Retrieval: each asked person's box."""
    needle_out, bench_out = zh_builds
    for row in _rows(needle_out):
        keys = re.findall(r"「([^」]+)」", row["question"])
        derived = [
            v for key in keys for v in re.findall(rf"「{re.escape(key)}」的一个隐藏\w+是「([^」]+)」", row["input"])
        ]
        assert derived == row["answers"], row["id"]
    for row in (r for r in _rows(bench_out) if r["task"] == "multi_retrieval_zh"):
        people = row["question"].split("：")[-1].split("？")[0].split("、")
        boxes = [
            re.search(
                rf"[。\n]{re.escape(p)}的书桌抽屉里放着一个盒子，盒子上写着「([^」]+)」，别的什么也没有。", row["input"]
            )
            for p in people
        ]
        assert [b.group(1) for b in boxes] == row["answers"], row["id"]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_the_fitters_prediction_is_the_measured_length(name):
    """Units are counted after the 。 of the unit before (o200k has tokens such as 。他): the fitter's
    prediction equals the one encode, so no sample needs a second fit."""
    for family, task, options in [
        ("needle", "niah_single_2", {"language": "zh"}),
        ("needle", "niah_multiquery", {"language": "zh", "haystack": "noise"}),
        ("needlebench", "multi_reasoning_zh", {}),
    ]:
        spec = load_spec(None, generator=family, tasks=task, lengths="16k", depths="50", tokenizer=name, **options)
        generator = make_generator(spec)
        for n in range(4):
            sample = generator.sample(Cell(task, 16384, 50.0, n), rng_for(n))
            assert sample.fitted.predicted_length == measure(generator.tokenizer, sample.fitted.text).length


@pytest.fixture(scope="module")
def zh_hf_tokenizer(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder = tmp_path_factory.mktemp("zhtok")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    corpus = prose_sentences_zh(3000) + ["".join(ADJECTIVES), "".join(NOUNS), "0123456789「」：，。？、"]
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=3000))
    tok.save(str(folder / "tokenizer.json"))
    return folder


def test_a_hugging_face_tokenizer_builds_exact_chinese_rows(zh_hf_tokenizer, tmp_path):
    from tokenizers import Tokenizer

    spec = load_spec(
        None,
        tasks="niah_single_2,niah_multikey_1",
        lengths="4k",
        depths="0,100",
        samples=1,
        tokenizer=f"hf:{zh_hf_tokenizer}",
        language="zh",
    )
    out = build(spec, tmp_path / "hf")
    assert validate_directory(out).problems == []
    reference = Tokenizer.from_file(str(zh_hf_tokenizer / "tokenizer.json"))
    for row in _rows(out):
        assert len(reference.encode(row["prompt"], add_special_tokens=False).ids) == row["prompt_length"]


def test_chinese_replies_are_scored_by_the_shared_policy(zh_builds):
    needle_out, bench_out = zh_builds
    for row in _rows(needle_out) + _rows(bench_out):
        gold = "、".join(row["answers"])
        boxed = row["task"] != "multi_retrieval_zh" and row["generator"] == "needlebench"
        natural = f"根据上文，答案是\\boxed{{{gold}}}。" if boxed else f"根据上文，答案是{gold}。"
        assert score(row, natural) == 1.0, (row["id"], natural)
        assert score(row, row["input"]) == 0.0, row["id"]  # an echo
        assert score(row, "我不知道。") == 0.0
    for row in (r for r in _rows(bench_out) if r["task"] == "multi_retrieval_zh"):
        every = "、".join(decode_metadata(row["metadata"])["items"][::-1])  # every box label, another order
        assert score(row, every) < 0.5, row["id"]


def test_chinese_text_splits_into_sentences():
    text = "第一句话。第二句话！他说：“好。”然后走了？\n\n新的一段，没有句号"
    assert split_sentences(text, language="zh") == [
        "第一句话。",
        "第二句话！",
        "他说：“好。”",
        "然后走了？",
        "新的一段，没有句号",
    ]
    long = "很长" * 600 + "。"
    assert all(len(u) <= 1000 for u in split_sentences(long, language="zh"))


def test_the_needlebench_suite_builds_both_languages(tmp_path):
    from click.testing import CliRunner

    from longsynth.cli import cli

    out = tmp_path / "suite"
    result = CliRunner().invoke(
        cli, ["build", "--suite", "needlebench", "--lengths", "1k", "--depths", "50", "--samples", "1", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    tasks = {r["task"] for r in _rows(out)}
    assert tasks == {"multi_retrieval", "multi_reasoning", "ancestral_trace"} | set(BENCH_TASKS.split(","))
    for row in _rows(out):
        chinese = row["task"].endswith("_zh")
        assert (cjk_share(row["question"]) > 0.5) == chinese, row["id"]


def test_a_chinese_twin_refuses_english(tmp_path):
    from click.testing import CliRunner

    from longsynth.cli import cli

    result = CliRunner().invoke(
        cli,
        [
            "build",
            "--generator",
            "needlebench",
            "--task",
            "multi_retrieval_zh",
            "--set",
            "language=en",
            "--lengths",
            "1k",
            "-o",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2 and "Chinese twin" in result.output, result.output


def test_the_tokenizer_fixture_is_cl100k(tokenizer):
    assert tokenizer is get_tokenizer("cl100k_base") or tokenizer.name == "cl100k_base"


def test_the_audit_flags_no_shortcut_in_chinese_atc(tmp_path):
    """On 60 rows (the contract suite's 8 are too few for ATC's 1-in-27 blind pick)."""
    from longsynth.eval.audit import audit, flagged, table

    spec = load_spec(None, generator="needlebench", tasks="ancestral_trace_zh", lengths="2k", samples=60)
    result = audit(build(spec, tmp_path / "atc"))
    assert flagged(result) == [], table(result)


def test_ruler_takes_language_for_its_niah_tasks_only(tmp_path):
    """The ruler family inherits the needle family's options; `language` (like `num_keys`) counts for
    its NIAH tasks only, and is refused where it would be ignored."""
    from click.testing import CliRunner

    from longsynth.cli import cli

    def run(*args):
        return CliRunner().invoke(cli, ["build", "--generator", "ruler", "--lengths", "1k", *args])

    for option in ("language=zh", "num_keys=4"):
        refused = run("--task", "cwe", "--set", option, "-o", str(tmp_path / option))
        assert refused.exit_code == 2 and "has no effect here" in refused.output, refused.output
    built = run("--task", "niah_single_2,cwe", "--set", "language=zh", "-o", str(tmp_path / "both"))
    assert built.exit_code == 0, built.output
    rows = _rows(tmp_path / "both")
    assert {r["task"]: cjk_share(r["question"]) > 0.5 for r in rows} == {"niah_single_2": True, "cwe": False}


def test_a_chinese_corpus_of_your_own(tmp_path):
    """A user's Chinese corpus (`haystack=corpus`, a .jsonl the test writes): cut into sentences at
    。！？ (quotes kept with their sentence), joined with nothing; rows are exact and validate, and the
    haystack is the corpus's text."""
    import json

    lines = []
    for n in range(400):
        text = "".join(prose_sentences_zh(12, seed=n)) + "他问：“你还记得吗？”她说记得。真好！"
        lines.append(json.dumps({"text": text}, ensure_ascii=False))
    corpus = tmp_path / "zh.jsonl"
    corpus.write_text("\n".join(lines), encoding="utf-8")
    spec = load_spec(
        None, tasks="niah_single_2", lengths="4k", depths="0,50,100", samples=1, language="zh",
        haystack="corpus", corpus=str(corpus), tokenizer="o200k_base",
    )  # fmt: skip
    out = build(spec, tmp_path / "ds")
    assert validate_directory(out).problems == []
    for row in _rows(out):
        haystack = _haystack(row)
        assert "你还记得吗？”" in haystack and cjk_share(haystack) >= 0.9
        assert get_tokenizer("o200k_base").count(row["prompt"]) == row["prompt_length"]
