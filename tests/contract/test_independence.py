"""A row depends only on its own cell: never on which other lengths, depths, tasks or sample counts
share its spec. For every registered family, random grids are built and some of their rows rebuilt
from a spec holding that one cell; the two must be equal, byte for byte."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from longsynth.generators.registry import REGISTRY
from longsynth.pipeline import cell_from_id, generate
from longsynth.spec import load_spec

FAMILIES = REGISTRY.names()
DEPTHS = [0.0, 37.5, 100.0]


def _lengths(cls) -> list[int]:
    """Short lengths to compare rows at; each grid also holds a long one, which grows the shared
    haystack pools (the dependence this test exists to catch only shows when a pool grows)."""
    return [2048, 3072] if cls.name == "holobench" else [1024, 2048]


LONG = [24576, 49152]


def _base(cls) -> dict:
    """The family's example spec without its grid (its options: a small corpus, ...)."""
    return {k: v for k, v in cls.example.items() if k not in ("tasks", "lengths", "depths")}


def _json(row: dict) -> str:
    """A row as compared: its dataset's canary GUID left out (it names the whole build, by design, so a
    one-cell build has its own; `regenerate` from the full spec reproduces it)."""
    metadata = json.loads(row["metadata"]) if isinstance(row.get("metadata"), str) else row.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("canary", None)
        row = {**row, "metadata": metadata}
    return json.dumps(row, sort_keys=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_row_equals_the_row_built_alone(family, tmp_path_factory):
    cls = REGISTRY.get(family)
    cache = tmp_path_factory.mktemp("cache")

    @settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        tasks=st.lists(st.sampled_from(sorted(cls.tasks)), min_size=1, max_size=2, unique=True),
        short=st.sampled_from(_lengths(cls)),
        long=st.sampled_from(LONG),
        depths=st.lists(st.sampled_from(DEPTHS), min_size=1, max_size=2, unique=True),
        samples=st.integers(1, 2),
        seed=st.integers(0, 3),
        picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=2),
    )
    def check(tasks, short, long, depths, samples, seed, picks):
        grid = load_spec(
            None,
            generator=family,
            tasks=tasks,
            lengths=[short, long],
            depths=depths,
            samples=samples,
            seed=seed,
            **_base(cls),
        )
        rows = [row for row in generate(grid) if row["target_length"] == short]
        assume(rows)  # a training family may drop every sample of a tiny corpus
        for pick in picks:
            row = rows[pick % len(rows)]
            cell = cell_from_id(grid, row["id"])
            alone = load_spec(
                None,
                generator=family,
                tasks=[cell.task],
                lengths=[cell.target_length],
                depths=[cell.depth] if cell.depth is not None else None,
                samples=cell.index + 1,
                seed=seed,
                **_base(cls),
            )
            same = [r for r in generate(alone) if r["id"] == row["id"]]
            assert len(same) == 1 and _json(same[0]) == _json(row), f"{row['id']} differs when built alone"

    with pytest.MonkeyPatch.context() as monkey:
        monkey.setenv("LONGSYNTH_CACHE", str(cache))
        check()


@pytest.mark.parametrize(
    "options",
    [{"haystack": "prose"}, {"haystack": "needle"}, {"haystack": "corpus"}],
    ids=["prose", "distractor needles", "user corpus"],
)
def test_needle_haystacks_do_not_depend_on_the_other_lengths(options, tmp_path, monkeypatch):
    """Every needle haystack, the user corpus included (read only as far as the longest length needs)."""
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))
    if options["haystack"] == "corpus":
        words = "river stone lantern meadow harbour clerk ledger window orchard bridge".split()
        lines = [
            {"text": " ".join(f"The {words[(n + k) % 10]} was quiet on day {n} and {k}." for k in range(40))}
            for n in range(400)
        ]
        (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
        options = {**options, "corpus": str(tmp_path / "c.jsonl")}
    common = dict(tasks="niah_single_2", depths="0,50,100", samples=2, **options)
    grid = {r["id"]: r for r in generate(load_spec(None, lengths="2k,48k", **common)) if r["target_length"] == 2048}
    alone = {r["id"]: r for r in generate(load_spec(None, lengths="2k", **common))}
    assert set(grid) == set(alone)
    assert all(_json(grid[k]) == _json(alone[k]) for k in alone)
