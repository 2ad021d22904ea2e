"""`longsynth audit`: model-free baselines scored like a model's replies, flagged unless declared."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from longsynth.cli import cli
from longsynth.eval.audit import BASELINES, audit, candidates
from longsynth.generators.needle import NeedleGenerator
from longsynth.pipeline import build
from longsynth.spec import load_spec


@pytest.fixture(scope="module")
def needles(tmp_path_factory):
    spec = load_spec(
        None, tasks="niah_single_1,niah_multikey_1,niah_multivalue", lengths="2k", depths="0,50,100", samples=3
    )
    return build(spec, tmp_path_factory.mktemp("audit") / "ds")


def test_every_baseline_is_scored_on_every_task(needles):
    result = audit(needles)
    assert set(result) == {"niah_single_1", "niah_multikey_1", "niah_multivalue"}
    for task, found in result.items():
        assert set(found) == set(BASELINES)
        for name in ("empty", "refusal", "echo input", "echo question", "head of input", "tail of input"):
            assert found[name]["score"] == 0.0, (task, name)  # the scoring policy: echoes are nothing
        assert all(cell["n"] == 9 and cell["ci_low"] <= cell["score"] <= cell["ci_high"] for cell in found.values())


def test_a_declared_baseline_is_shown_not_flagged_and_listing_every_value_scores_nothing(needles):
    result = audit(needles)
    single = result["niah_single_1"]["every candidate"]
    assert single["score"] == 1.0 and not single["flagged"] and single["reason"].startswith("by design of RULER")
    # Four needles with different keys, one asked: listing every placed value named three distractors
    # (it scored 1.0 before the over-generation check of the scoring policy).
    multikey = result["niah_multikey_1"]["every candidate"]
    assert multikey["score"] == 0.0 and not multikey["flagged"]


def test_a_row_read_once_for_every_baseline_scores_as_one_read_per_baseline(needles):
    """The audit scores a row's baselines in turn and finds what comes from the row alone once
    (`per_row`); scoring each baseline on a fresh copy of every row (nothing remembered) gives the same
    scores, and a row changed in place (a new input) is read again."""
    from longsynth.dataset import open_dataset
    from longsynth.eval.audit import Rows
    from longsynth.scoring import score

    result = audit(needles)
    dataset = open_dataset(needles, evaluation=True)
    rows = Rows({task: dataset.rows(task) for task in dataset.tasks})
    for task, task_rows in rows.by_task.items():
        for name, reply in BASELINES.items():
            fresh = [score(dict(row), reply(dict(row), rows)) for row in task_rows]
            assert round(sum(fresh) / len(fresh), 4) == result[task][name]["score"], (task, name)
    row = dict(rows.by_task["niah_multikey_1"][0])
    every = ", ".join(candidates(row))
    assert score(row, every) == 0.0  # names three distractors
    row["input"] = row["input"].replace(row["answers"][0], "00000")  # the asked needle's value gone
    assert row["answers"][0] not in ", ".join(candidates(row))


def _reads_the_answers(row, rows) -> str:
    return " ".join(row["answers"])


def test_the_command_exits_one_on_a_flag_and_writes_audit_json(needles, tmp_path, monkeypatch):
    monkeypatch.setattr(NeedleGenerator, "baselines", {"reads the answers": _reads_the_answers})
    result = CliRunner().invoke(cli, ["audit", str(needles), "-o", str(tmp_path / "a")])
    assert result.exit_code == 1
    assert "niah_multikey_1/reads the answers" in result.stderr
    written = json.loads((tmp_path / "a" / "audit.json").read_text())
    cell = written["niah_single_1"]["echo input"]
    assert set(cell) == {"score", "n", "ci_low", "ci_high", "flagged", "reason"}
    assert written["niah_multikey_1"]["reads the answers"]["flagged"] is True


def test_a_family_adds_its_own_baseline(needles, monkeypatch):
    """A family declares baselines as it declares validators; one reading the gold is flagged."""
    monkeypatch.setattr(NeedleGenerator, "baselines", {"reads the answers": _reads_the_answers})
    result = audit(needles)
    assert all(result[task]["reads the answers"]["flagged"] for task in result)


def test_a_folder_with_no_flag_exits_zero(tmp_path):
    spec = load_spec(None, tasks="niah_single_1", lengths="1k", depths="50", samples=2)
    out = build(spec, tmp_path / "ds")
    result = CliRunner().invoke(cli, ["audit", str(out)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "gold, text, found",
    [
        ("1234567", "a 7654321 b 12345678 c 1234567 d 7654321", ["7654321", "1234567"]),
        ("0b1c2d3e-1111-2222-3333-444455556666", "x 0b1c2d3e-1111-2222-3333-444455556666 y aaaaaaaa-1111-2222-3333-"
         "444455556666", ["0b1c2d3e-1111-2222-3333-444455556666", "aaaaaaaa-1111-2222-3333-444455556666"]),
        ("Ann Lee", "Ann Lee met Bob Stone and Carl; Ann Lee left.", ["Ann Lee", "Bob Stone"]),
        ("river", 'He said "river" then "stone".', ["river", "stone"]),
    ],
)  # fmt: skip
def test_candidates_have_the_gold_shape_and_come_from_the_input(gold, text, found):
    assert candidates({"answers": [gold], "input": text}) == found


def _ruler_reference(prediction: str, references: list[str], part: bool) -> float:
    """RULER's evaluate.py for one prediction, as RULER writes it: control characters to line breaks,
    stripped; then the share (or any) of references contained, case folded."""
    import re

    prediction = re.sub(r"[\x00-\x1f]", "\n", prediction.strip()).strip()
    hits = [1.0 if r.lower() in prediction.lower() else 0.0 for r in references]
    return max(hits) if part else sum(hits) / len(references)


@pytest.mark.parametrize(
    "prediction",
    ["", "1234567", "The number is 1234567.", "x\x00 1234567\t7654321", " 1234567 and 7654321 ", "1234567" * 3,
     "no digits at all"],
)  # fmt: skip
def test_anchor_score_is_rulers_own_metric(prediction):
    from longsynth.scoring import ruler_string_match_all, ruler_string_match_part

    row = {"answers": ["1234567", "7654321"]}
    assert ruler_string_match_all(row, prediction) == _ruler_reference(prediction, row["answers"], part=False)
    assert ruler_string_match_part(row, prediction) == _ruler_reference(prediction, row["answers"], part=True)


def test_scores_carry_the_anchors_metric_beside_ours(needles, tmp_path):
    """An echo of the input: RULER's metric credits it (the needle is in the echo), ours does not. Both
    numbers are kept: in scores.parquet, summary.json and the report."""
    import polars as pl

    from longsynth.dataset import open_dataset
    from longsynth.scoring import anchor_score, score

    rows = open_dataset(needles).rows("niah_single_1")
    lines = [json.dumps({"id": r["id"], "prediction": r["input"]}) for r in rows]
    (tmp_path / "echo.jsonl").write_text("\n".join(lines) + "\n")
    assert all(anchor_score(r, r["input"]) == 1.0 and score(r, r["input"]) == 0.0 for r in rows)
    result = CliRunner().invoke(cli, ["score", str(needles), str(tmp_path / "echo.jsonl"), "-o", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "anchor's own metric" in result.output
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["tasks"]["niah_single_1"] == 0.0 and summary["anchor"]["tasks"]["niah_single_1"] == 1.0
    scored = pl.read_parquet(tmp_path / "s" / "scores.parquet")
    assert scored.filter(pl.col("task") == "niah_single_1")["anchor_score"].to_list() == [1.0] * len(rows)
    report = CliRunner().invoke(
        cli, ["report", str(needles), str(tmp_path / "echo.jsonl"), "-o", str(tmp_path / "r.html")]
    )
    page = (tmp_path / "r.html").read_text()
    assert report.exit_code == 0 and "anchor's metric" in page and "<td>1.000</td>" in page


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("GOLD", 1.0),
        ("The value is GOLD.", 1.0),
        ("GOLD or OTHER", 0.0),  # a single answer that also names a distractor
        ("OTHER", 0.0),
        ("GOLD, OTHER, THIRD, FOURTH", 0.0),  # every placed value
    ],
)
def test_a_single_answer_naming_a_distractor_scores_zero(needles, reply, expected):
    from longsynth.dataset import open_dataset
    from longsynth.metadata_json import decode_metadata
    from longsynth.scoring import score

    for row in open_dataset(needles).rows("niah_multikey_1"):
        values = [n["value"] for n in decode_metadata(row["metadata"])["needles"]]
        gold, others = row["answers"][0], [v for v in values if v != row["answers"][0]]
        text = reply.replace("GOLD", gold).replace("OTHER", others[0]).replace("THIRD", others[1])
        assert score(row, text.replace("FOURTH", others[2])) == expected, text


def test_a_multi_answer_scores_the_f1_of_the_values_it_names(needles):
    from longsynth.dataset import open_dataset
    from longsynth.scoring import anchor_score, score

    row = open_dataset(needles).rows("niah_multivalue")[0]
    gold = list(row["answers"])
    assert score(row, ", ".join(gold)) == 1.0
    assert score(row, ", ".join(gold[:2])) == pytest.approx(2 * 0.5 / 1.5)  # precision 1, recall 0.5
    assert anchor_score(row, ", ".join(gold[:2])) == 0.5  # RULER's string_match_all: the share found


def test_the_head_and_tail_baselines_equal_a_whole_encode(needles):
    """The head and tail of the input are cut from a window at that end; the tokens are the whole
    input's own (the window is wide enough that no merge reaches its cut)."""
    from longsynth.dataset import open_dataset
    from longsynth.eval.audit import _reserve_slice
    from longsynth.tokenizers import get_tokenizer

    for row in open_dataset(needles).rows("niah_single_1")[:4]:
        tokenizer = get_tokenizer(row["tokenizer"])
        ids, keep = tokenizer.encode(row["input"]), int(row["reserve"])
        assert _reserve_slice(row, end=False) == tokenizer.decode(ids[:keep])
        assert _reserve_slice(row, end=True) == tokenizer.decode(ids[-keep:])


def test_build_audit_puts_the_table_in_the_card_and_keeps_the_build_valid(tmp_path, monkeypatch):
    """`build --audit`: the audit table lands in the card's Audit section, the manifest records the new
    card's sha256 (validate passes), and a flag makes the command exit 1 with the dataset still written."""
    from longsynth.dataset import open_dataset
    from longsynth.eval import audit as audit_module
    from longsynth.inspect import validate_directory

    out = tmp_path / "ds"
    args = ["build", "--generator", "ruler", "--task", "vt,niah_single_1", "--lengths", "2k", "--depths", "50"]
    result = CliRunner().invoke(cli, [*args, "--samples", "3", "-o", str(out), "--audit"])
    assert result.exit_code == 0, result.output
    assert "audit: nothing flagged" in result.output
    card = (out / "README.md").read_text()
    assert "## Audit" in card and "| niah_single_1 | every candidate | 1.00 |" in card and "by design of RULER" in card
    assert validate_directory(out).problems == []
    assert len(open_dataset(out).rows("vt")) == 3
    # A shortcut the family does not declare: the command says so and exits 1.
    monkeypatch.setitem(audit_module.BASELINES, "the gold itself", lambda row, rows: row["answers"][0])
    flagged = CliRunner().invoke(cli, [*args, "--samples", "3", "-o", str(out), "--audit"])
    assert flagged.exit_code == 1 and "flagged" in flagged.output
    assert "**flagged**" in (out / "README.md").read_text()
    assert validate_directory(out).problems == []


def test_a_task_without_depths_gets_a_length_line_not_a_one_row_heatmap():
    """vt, cwe and fwe place their items themselves: their figure is the score-by-length line alone."""
    from longsynth.eval.report import effective_length, task_figure

    cells = [
        {"task": "vt", "target_length": n, "depth": None, "n": 2, "score": s, "anchor_score": s}
        for n, s in ((4096, 0.9), (8192, 0.7))
    ]
    summary = {"tasks": {"vt": 0.8}, "cells": cells}
    assert len(task_figure("vt", [("m", summary)]).axes) == 1
    with_depth = [{**c, "depth": 50.0} for c in cells]
    assert (
        len(task_figure("vt", [("m", {"tasks": {"vt": 0.8}, "cells": with_depth})]).axes) == 3
    )  # map, colour bar, line
    assert effective_length([4096, 8192, 16384], [0.9, 0.86, 0.5], 0.856) == 8192
    assert effective_length([4096], [0.5], 0.856) is None


def test_candidates_are_the_placed_values_where_the_gold_is_a_plain_word(tmp_path):
    """babilong's answers are plain words (rooms, things): the candidates are the rooms and things its
    story placed, in order of first appearance, not every word of the haystack."""
    import polars as pl

    from longsynth.metadata_json import decode_metadata
    from longsynth.pipeline import build
    from longsynth.spec import load_spec

    out = build(load_spec(None, generator="babilong", tasks="qa1", lengths="1k", samples=2), tmp_path / "b")
    for row in pl.read_parquet(sorted(out.glob("qa1/*.parquet"))).to_dicts():
        labels = decode_metadata(row["metadata"])["labels"]
        found = candidates(row)
        assert sorted(found) == sorted(labels) and row["answers"][0] in found
        assert found == sorted(found, key=row["input"].index)


def test_a_rows_placed_values_are_read_once_for_its_replies_and_its_chance(tmp_path, monkeypatch):
    """A family whose chance level comes from the values a row placed (babilong's rooms): the audit
    reads them out of each row once, for the scoring of every baseline, its candidates and its chance
    level (three reads a row before)."""
    from longsynth.dataset import open_dataset
    from longsynth.generators.babilong.generator import BabilongGenerator

    spec = load_spec(None, generator="babilong", tasks="qa1", lengths="2k", depths="0,100", samples=2)
    built = build(spec, tmp_path / "b")
    rows = open_dataset(built, evaluation=True).rows("qa1")
    real = BabilongGenerator.placed_items.__func__
    reads = []
    monkeypatch.setattr(
        BabilongGenerator, "placed_items", classmethod(lambda cls, row: reads.append(row["id"]) or real(cls, row))
    )
    result = audit(built)
    assert sorted(reads) == sorted(row["id"] for row in rows)  # once a row
    assert result["qa1"]["every candidate"]["n"] == len(rows)
