"""Hypothesis fuzz of spec resolution and of the build command line: whatever is typed, the answer is
a spec or one `LongsynthError` line, never a crash, a hang or a file outside the output folder."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from longsynth.cli import cli
from longsynth.errors import LongsynthError
from longsynth.generators.options import options_of
from longsynth.generators.registry import REGISTRY
from longsynth.spec import FIELDS, Spec, resolve

OPTION_NAMES = sorted({name for cls in REGISTRY.all().values() for name in options_of(cls.Options)})
KEYS = sorted(FIELDS) + OPTION_NAMES + ["task", "length", "depth", "format", "colour", ""]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        ["4k", "128k", "0,50,100", "linspace:0,100,5", "sigmoid:0,100,3", "needle", "holobench", "builtin:10"]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6))
def test_spec_resolution_gives_a_spec_or_a_one_line_error(raw):
    try:
        spec = resolve(raw)
    except LongsynthError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        return
    assert isinstance(spec, Spec)
    assert all(0 < n <= 2 * 1024 * 1024 for n in spec.lengths)
    assert all(0 <= d <= 100 and not math.isnan(d) for d in spec.depths)


FLAG_VALUES = {
    "--generator": ["needle", "longbio", "holobench", "toy", "nope", ""],
    "--task": ["niah_single_1", "niah_multikey_3", "bio_standard", "holo_filter", "toy_colour", ",", "x"],
    "--lengths": ["1k", "2k", "1k,2k", "0", "-1", "4q", "99999999", "1k,1024", ""],
    "--depths": ["0", "50", "0,100", "linspace:0,100,3", "sigmoid:0,100,2", "150", "50,50", "nan", "x:1,2,3"],
    "--samples": ["1", "2", "0", "-1", "abc", "1000000000"],
    "--seed": ["0", "7", "-1", "1e3", "99999999999999999999999"],
    "--tokenizer": ["cl100k_base", "o200k_base", "gpt9", "hf:"],
    "--set": [
        "num_keys=2",
        "num_keys=-1",
        "density=0.5",
        "density=2",
        "shots=1",
        "placement=end",
        "sql=DROP TABLE x",
        "haystack=needle",
        "boxes=2",
        "boxes=99",
        "version=2.0",
        "x=y",
        "=",
        "novalue",
        "rows_per_shard=1",
    ],
    "--format": ["jsonl", "parquet", "xml"],
    "--threads": ["1", "2", "0"],
}


@st.composite
def command_lines(draw):
    flags = draw(st.lists(st.sampled_from(sorted(FLAG_VALUES)), max_size=6))
    args = ["build"]
    for flag in flags:
        args += [flag, draw(st.sampled_from(FLAG_VALUES[flag]))]
    return args


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).parts[0] not in ("out", "cache")
    }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(command_lines())
def test_the_build_command_line_exits_0_or_with_one_error_line(tmp_path, args):
    out = tmp_path / "out"
    before = _files(tmp_path)
    result = CliRunner().invoke(
        cli, [*args, "--overwrite", "-o", str(out)], env={"LONGSYNTH_CACHE": str(tmp_path / "cache")}
    )
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        errors = result.stderr.strip().splitlines()
        assert len(errors) == 1 and errors[0].startswith("error: "), result.stderr
    assert _files(tmp_path) == before
