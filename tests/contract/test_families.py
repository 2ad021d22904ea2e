"""The contract every registered family keeps: built-in ones and installed ones (the example toy family
is installed for the session by conftest), checked the same way.

For each family, a tiny grid from its `example` spec: it builds and every row validates; a row
regenerates byte for byte from its id; each of its validators passes the valid rows and rejects the
defect it declares; a gold answer scores 1 and a wrong one less.
"""

from __future__ import annotations

import copy
import json

import polars as pl
import pytest

from longsynth import regenerate
from longsynth.errors import SpecError
from longsynth.generators.options import options_of
from longsynth.generators.registry import REGISTRY
from longsynth.inspect import validate_directory
from longsynth.metadata_json import decode_metadata, encode_metadata
from longsynth.pipeline import build, make_generator
from longsynth.scoring import score
from longsynth.spec import load_spec
from longsynth.validators import run_validator, validate_row

FAMILIES = REGISTRY.names()
WRONG = "zzz"  # names no value, number, person or row of any family


@pytest.fixture(scope="module", params=FAMILIES)
def family(request, tmp_path_factory):
    """(generator, spec, rows) of a tiny build of one family."""
    cache = tmp_path_factory.mktemp("cache")
    monkey = pytest.MonkeyPatch()
    monkey.setenv("LONGSYNTH_CACHE", str(cache))
    cls = REGISTRY.get(request.param)
    spec = load_spec(None, generator=cls.name, samples=2, rows_per_shard=3, **cls.example)
    out = build(spec, tmp_path_factory.mktemp(cls.name) / "ds")
    rows = pl.concat([pl.read_parquet(p) for p in sorted(out.rglob("*.parquet"))]).to_dicts()
    yield make_generator(spec), spec, out, rows
    monkey.undo()


def test_declares_what_shared_code_needs(family):
    generator, spec, _, _ = family
    cls = type(generator)
    assert cls.default_tasks and set(cls.default_tasks) <= set(cls.tasks)
    assert cls.validators, "a family re-derives its answers with at least one validator"
    for name, info in options_of(cls.Options).items():
        assert info.help, f"option {name} has no help text"
    for name, task in cls.tasks.items():
        assert task.help, f"task {name} has no help text"
        assert (task.metric is None) == (cls.split == "train"), f"task {name}: evaluation tasks need a metric"


def test_tiny_grid_builds_and_validates(family):
    generator, spec, out, rows = family
    report = validate_directory(out)
    assert report.problems == []
    assert report.rows == len(rows) > 0
    assert {r["task"] for r in rows} == set(spec.tasks)


def test_a_row_regenerates_byte_identically_from_its_id(family):
    _, spec, _, rows = family
    for row in rows[:: max(1, len(rows) // 3)]:
        again = regenerate(spec, row["id"])
        assert json.dumps(again, sort_keys=True) == json.dumps(row, sort_keys=True)


def test_each_validator_rejects_its_planted_defect(family):
    generator, _, _, rows = family
    for validator in generator.validators:
        tried = 0
        for row in rows:
            if validator.tasks is not None and row["task"] not in validator.tasks:
                continue
            assert run_validator(validator, generator, row, decode_metadata(row["metadata"])) == []
            planted = validator.plant(dict(row))
            problems = run_validator(validator, generator, planted, decode_metadata(planted["metadata"]))
            assert problems, f"{validator.name!r} accepted its planted defect in {row['id']}"
            tried += 1
        assert tried, f"no row to plant a defect for {validator.name!r}"


def test_a_span_written_as_counted_from_the_end_is_refused(family):
    """Recorded offsets are offsets into the text: an item's end, or a prompt's input span, written as
    the same place counted from the end (a negative number, which Python's slices read back to the
    same text, so every check of the text passed) is a problem of the row."""
    generator, _, _, rows = family
    tried = 0
    for row in rows:
        metadata = decode_metadata(row["metadata"])
        key = metadata.get("item_key", "items")
        size = len(row["input"] if "input" in row else row["text"])
        forgeries = []
        if metadata.get(key):
            forged = copy.deepcopy(metadata)
            items = forged[key]
            if isinstance(items, dict):
                items["char_end"][0] -= size
            else:
                items[0]["char_end"] -= size
            forgeries.append(forged)
        if "prompt" in row:
            forged = copy.deepcopy(metadata)
            forged["input_span"][1] -= len(row["prompt"])
            forgeries.append(forged)
        for forged in forgeries:
            problems = validate_row({**row, "metadata": encode_metadata(forged)}, generator, generator.tokenizer)
            assert problems, row["id"]
            tried += 1
    if not tried:
        pytest.skip(f"{generator.name} records no item span and no prompt")


def test_gold_scores_one_and_a_wrong_answer_less(family):
    generator, _, _, rows = family
    if generator.split == "train":
        with pytest.raises(SpecError, match="no metric"):
            score(rows[0], "anything")
        return
    for row in rows:
        gold = "\n".join(row["answers"])
        assert score(row, gold) == 1.0, (row["id"], gold)
        assert score(row, WRONG) < 1.0, row["id"]


def test_a_natural_correct_answer_scores_one(family):
    """A sentence a model would write around the gold scores 1 (the family's own shape where its answer
    is structured: HoloBench's result rows, one per line)."""
    generator, _, _, rows = family
    if generator.split == "train":
        return
    for row in rows:
        reply = type(generator).natural_reply(row)
        assert score(row, reply) == 1.0, (row["id"], reply)


def test_an_echo_of_the_input_scores_zero(family):
    """The scoring policy runs before every family's metric (`scoring.score`): a reply that repeats
    the input, or the whole prompt, scores 0 on every task. The needle and longbio metrics once read
    the raw reply, so an echo scored 1.0 there."""
    generator, _, _, rows = family
    if generator.split == "train":
        return
    for row in rows:
        assert score(row, row["input"]) == 0.0, row["id"]
        assert score(row, row["prompt"]) == 0.0, row["id"]


def test_every_task_declares_a_known_answer_rule(family):
    from longsynth.scoring import ANSWER_RULES

    generator = family[0]
    for name, task in type(generator).tasks.items():
        assert task.answer in ANSWER_RULES, (name, task.answer)


def test_a_correct_answer_after_reasoning_scores_one(family):
    """The final answer is read as the task declares, so reasoning before it does not cost: the gold
    after a line of thought, and the gold in a box for boxed tasks, score 1."""
    generator, _, _, rows = family
    if generator.split == "train":
        return
    for row in rows:
        gold = "\n".join(row["answers"])
        task = type(generator).tasks[row["task"]]
        thought = "Let me read the text carefully.\n"
        reply = f"{thought}Answer: {gold}" if task.answer != "boxed" else f"{thought}\\boxed{{{gold}}}"
        assert score(row, reply) == 1.0, (row["id"], reply)


def test_the_audit_flags_no_shortcut(family, tmp_path):
    """`longsynth audit` on the family's example build: no model-free baseline scores without doing the
    task, except the ones the family declares (shown with their reason, not flagged). A family, third-
    party ones included, cannot ship a shortcut. Training families have no metric and are skipped."""
    from longsynth.eval.audit import audit, flagged, table

    generator, _, _, _ = family
    cls = type(generator)
    if cls.split == "train":
        pytest.skip("training data: no metric to audit")
    # The example's grid with more samples: two rows a cell cannot tell a shortcut from luck.
    spec = load_spec(None, generator=cls.name, **{**cls.example, "samples": 8})
    result = audit(build(spec, tmp_path / "ds"))
    assert set(result) == set(spec.tasks)
    assert flagged(result) == [], table(result)
