"""A build never aborts on one unlucky draw: the fitter converges where a fit exists, and a draw that
cannot be fitted is one failed attempt, retried from the next attempt seed and counted."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from longsynth.cli import cli
from longsynth.errors import BudgetError
from longsynth.fitting import length_tolerance
from longsynth.pipeline import RowStats, attempt_seed, build, generate_row, make_generator, plan
from longsynth.seeding import rng_for
from longsynth.spec import load_spec
from longsynth.tokenizers import measure


def test_the_qa_draw_that_aborted_ruler_at_64k_now_fits_first_time():
    """qa_2 at 64K, default seed, cell d50 #1: whole documents numbered "Document k:" came out 4 tokens
    above the fitter's count; the old loop lowered its aim one token a fit, gave up after four, and
    the BudgetError stopped the whole build. Now its first draw fits, within the contract."""
    spec = load_spec(None, generator="ruler", tasks="qa_2", lengths="64k", samples=2)
    generator = make_generator(spec)
    cell = next(c for c in plan(spec)["qa_2"] if c.id == "qa_2-65536-d50-00001")
    sample = generator.sample(cell, rng_for(attempt_seed(spec, cell)))
    length = measure(generator.tokenizer, sample.fitted.text).length
    budget = cell.target_length - generator.reserve_for("qa_2")
    assert budget - length_tolerance(cell.target_length) <= length <= budget
    stats = RowStats()
    row = generate_row(generator, cell, stats)
    assert json.loads(row["metadata"])["attempt"] == 0
    assert (stats.attempts, stats.unfit, stats.invalid) == (1, 0, 0)


def _first_draw_unfit(generator) -> None:
    """Make each cell's first draw raise BudgetError, as a draw no fit exists for would."""
    real = generator.sample
    seen: set[str] = set()

    def sample(cell, rng, budget_adjust=0):
        if cell.id not in seen:
            seen.add(cell.id)
            raise BudgetError("no fit for this draw")
        return real(cell, rng, budget_adjust)

    generator.sample = sample


@pytest.mark.parametrize("threads", [1, 2])
def test_an_unfittable_draw_is_retried_and_counted(tmp_path, threads):
    spec = load_spec(None, tasks="niah_single_2", lengths="1k", depths="50", samples=3)
    generator = make_generator(spec)
    _first_draw_unfit(generator)
    out = build(spec, tmp_path / "b", generator=generator, threads=threads)
    rows = pl.read_parquet(out / "niah_single_2").to_dicts()
    assert [json.loads(r["metadata"])["attempt"] for r in rows] == [1, 1, 1]
    assert [r["seed"] for r in rows] == [attempt_seed(spec, c, 1) for c in plan(spec)["niah_single_2"]]
    shards = json.loads((out / "manifest.json").read_text())["shards"]["niah_single_2"]
    assert sum(s["unfit"] for s in shards) == 3 and sum(s["attempts"] for s in shards) == 6
    assert "6 draws for 3 rows" in (out / "README.md").read_text()
    assert "3 draws retried because they could not be fitted" in (out / "README.md").read_text()


def _build(out, *flags: str):
    """`longsynth build` of niah_single_2 at 1K, depth 50, into `out`, with more flags."""
    args = ["build", "--task", "niah_single_2", "--lengths", "1k", "--depths", "50", *flags, "-o", str(out)]
    return CliRunner().invoke(cli, args)


def test_a_cell_whose_every_draw_is_unfit_fails_in_one_line_naming_cell_and_seeds(tmp_path, monkeypatch):
    from longsynth.generators.needle import NeedleGenerator

    def never(self, cell, rng, budget_adjust=0):
        raise BudgetError("no fit for this draw")

    monkeypatch.setattr(NeedleGenerator, "sample", never)
    result = _build(tmp_path / "x", "--samples", "1", "--seed", "7", "--set", "max_attempts=3")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    spec = load_spec(None, tasks="niah_single_2", lengths="1k", depths="50", samples=1, seed=7)
    cell = plan(spec)["niah_single_2"][0]
    assert lines[0].startswith(f"error: sample {cell.id} failed all 3 draws")
    assert "build seed 7" in lines[0] and str(attempt_seed(spec, cell, 2)) in lines[0]
    assert "no fit for this draw" in lines[0]


def test_the_build_line_says_how_many_draws_were_retried(tmp_path, monkeypatch):
    from longsynth.generators.needle import NeedleGenerator

    real = NeedleGenerator.sample
    calls = []

    def first_draw_unfit(self, cell, rng, budget_adjust=0):
        calls.append(cell.id)
        if calls.count(cell.id) == 1:
            raise BudgetError("no fit for this draw")
        return real(self, cell, rng, budget_adjust)

    monkeypatch.setattr(NeedleGenerator, "sample", first_draw_unfit)
    result = _build(tmp_path / "y", "--samples", "2", "--threads", "1")
    assert result.exit_code == 0, result.output
    assert "wrote 2 rows" in result.stdout and "2 draws retried: 2 could not be fitted" in result.stdout


@pytest.mark.parametrize("threads", [1, 2])
def test_a_draw_whose_text_tiktoken_cannot_take_is_retried_and_counted(tmp_path, threads):
    """A draw whose text holds 100,000 whitespace characters in a row (a corpus document's padding)
    is refused by the measurement, with the helper (two threads) or without: one failed draw, retried
    from the next attempt seed and counted, never the end of the build."""
    import dataclasses

    from longsynth.tokenizers import BLANK_RUN_LIMIT

    spec = load_spec(None, tasks="niah_single_2", lengths="1k", depths="50", samples=3)
    generator = make_generator(spec)
    real = generator.sample
    seen: set[str] = set()

    def sample(cell, rng, budget_adjust=0):
        made = real(cell, rng, budget_adjust)
        if cell.id in seen:
            return made
        seen.add(cell.id)
        padded = made.fitted.text + " " * BLANK_RUN_LIMIT + "."
        return dataclasses.replace(made, fitted=dataclasses.replace(made.fitted, text=padded))

    generator.sample = sample
    out = build(spec, tmp_path / "b", generator=generator, threads=threads)
    rows = pl.read_parquet(out / "niah_single_2").to_dicts()
    assert [json.loads(r["metadata"])["attempt"] for r in rows] == [1, 1, 1]
    assert all(len(r["input"]) < BLANK_RUN_LIMIT for r in rows)
    shards = json.loads((out / "manifest.json").read_text())["shards"]["niah_single_2"]
    assert sum(s["invalid"] for s in shards) == 3 and sum(s["attempts"] for s in shards) == 6
    assert "3 because a validator or the tokenizer refused them" in (out / "README.md").read_text()
