"""`longsynth audit`: model-free baselines scored like a model's replies, flagged unless declared."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from longsynth.cli import cli
from longsynth.eval.audit import BASELINES, audit, candidates, flagged
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


def test_a_declared_baseline_is_shown_not_flagged_and_a_shortcut_is_flagged(needles):
    result = audit(needles)
    single = result["niah_single_1"]["every candidate"]
    assert single["score"] == 1.0 and not single["flagged"] and single["reason"].startswith("by design of RULER")
    # Four needles with different keys, one asked: listing every value is not the task.
    multikey = result["niah_multikey_1"]["every candidate"]
    assert multikey["score"] == 1.0 and multikey["flagged"] and multikey["reason"] == ""
    assert ("niah_multikey_1", "every candidate") in flagged(result)


def test_the_command_exits_one_on_a_flag_and_writes_audit_json(needles, tmp_path):
    result = CliRunner().invoke(cli, ["audit", str(needles), "-o", str(tmp_path / "a")])
    assert result.exit_code == 1
    assert "niah_multikey_1/every candidate" in result.stderr
    written = json.loads((tmp_path / "a" / "audit.json").read_text())
    cell = written["niah_single_1"]["echo input"]
    assert set(cell) == {"score", "n", "ci_low", "ci_high", "flagged", "reason"}


def test_a_family_adds_its_own_baseline(needles, monkeypatch):
    """A family declares baselines as it declares validators; one reading the gold is flagged."""
    monkeypatch.setattr(NeedleGenerator, "baselines", {"reads the answers": lambda row, rows: " ".join(row["answers"])})
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
