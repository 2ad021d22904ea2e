"""A seeded sweep at the lengths people run: every evaluation task of every registered family, at 64K
and 128K, over many build seeds and depths, makes every row without an abort.

One unlucky draw (unit sizes that no whole-unit fill closes, a prediction that misses by a merge) must
cost a retry, never the build: at RULER's grid (13 tasks x 6 lengths x 500 samples) a failure rate of
one draw in a few hundred would stop every build. The slow sweep makes over 1,000 rows (RULER's whole
grid, 39,000 rows, is `bench/suite.py`'s); the fast one is the same sweep on one seed. Each row's
length is re-measured here, and the draws it took are printed (`pytest -s`).
"""

from __future__ import annotations

import random

import pytest

from longsynth.fitting import length_tolerance
from longsynth.generators.registry import REGISTRY
from longsynth.pipeline import RowStats, generate_rows, make_generator, plan
from longsynth.spec import load_spec
from longsynth.tokenizers import measure

LENGTHS = "64k,128k"
EVALUATION = [name for name in REGISTRY.names() if REGISTRY.get(name).split == "test"]


def _sweep(seeds: list[int]) -> tuple[int, RowStats]:
    """Rows made and the draws they took, over every evaluation task of every family, each seed with
    its own depth."""
    made, totals = 0, RowStats()
    for family in EVALUATION:
        cls = REGISTRY.get(family)
        for seed in seeds:
            depth = random.Random(seed).choice([0, 10, 25, 33, 50, 67, 75, 90, 100])
            spec = load_spec(
                None,
                generator=family,
                tasks=",".join(cls.tasks),
                lengths=LENGTHS,
                depths=str(depth),
                samples=1,
                seed=seed,
            )
            generator = make_generator(spec)
            stats = RowStats()
            for task, cells in plan(spec).items():
                rows = list(generate_rows(generator, cells, stats, threads=2))
                assert all(row is not None for row in rows), f"{family}/{task} seed {seed}: a row was dropped"
                for row in rows:
                    target = row["target_length"]
                    # A task whose context is its items alone (needles-only ATC) has the target as a bound.
                    floor = target - length_tolerance(target) if generator.fills_target(task) else 0
                    assert floor <= row["prompt_length"] + row["reserve"] <= target
                    if made % 97 == 0:  # the recorded length is the tokenizer's
                        assert measure(generator.tokenizer, row["prompt"]).length == row["prompt_length"]
                    made += 1
            for key, value in stats.record().items():
                setattr(totals, key, getattr(totals, key) + value)
    print(f"\nsweep: {made} rows, draws {totals.record()}")
    return made, totals


def test_every_evaluation_task_builds_at_64k_and_128k():
    made, stats = _sweep([11])
    tasks = sum(len(REGISTRY.get(family).tasks) for family in EVALUATION)
    assert made == 2 * tasks
    assert stats.attempts == made + stats.unfit + stats.invalid


@pytest.mark.slow
def test_sweep_of_many_seeds_at_64k_and_128k():
    made, stats = _sweep(list(range(1000, 1011)))  # 94 rows a seed (47 tasks x 2 lengths): 1,034
    assert made >= 1000
    assert stats.attempts == made + stats.unfit + stats.invalid
