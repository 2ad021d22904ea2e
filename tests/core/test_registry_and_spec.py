"""The registry finds built-in and installed families, lazily, and refuses two with one name; the
spec's fields are declared once, and the card's rebuild command round-trips every one of them."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import shlex
import subprocess
import sys

import pytest
from click.testing import CliRunner

from longsynth.cli import cli, spec_from_cli
from longsynth.errors import PluginError, SpecError
from longsynth.export.card import rebuild_command
from longsynth.generators.registry import GROUP, REGISTRY
from longsynth.spec import Spec, load_spec

FLAGS = ("generator", "tasks", "lengths", "depths", "samples", "seed", "tokenizer", "template_dir")


@pytest.fixture
def extra_entry_points(monkeypatch):
    """Declare more entry points in the group, as another installed package would."""
    real = importlib.metadata.entry_points

    def declare(*pairs: tuple[str, str]) -> None:
        fakes = [importlib.metadata.EntryPoint(name, value, GROUP) for name, value in pairs]
        monkeypatch.setattr(
            importlib.metadata,
            "entry_points",
            lambda **kw: [*real(**kw), *fakes] if kw.get("group") == GROUP else real(**kw),
        )
        REGISTRY.refresh()

    yield declare
    monkeypatch.undo()
    REGISTRY.refresh()


def test_built_in_and_installed_families_are_found():
    assert {"needle", "longbio", "holobench", "nextlong", "toy"} <= set(REGISTRY.names())
    assert REGISTRY.get("toy").__module__.startswith("toy_family")


def test_two_families_with_one_name_are_refused_in_one_line(extra_entry_points):
    extra_entry_points(("toy", "somebody_else:Generator"))
    with pytest.raises(PluginError, match="two families are named 'toy'"):
        REGISTRY.get("toy")
    result = CliRunner().invoke(cli, ["list"], obj={})
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: two families are named 'toy'")
    assert "somebody_else:Generator" in result.output and "toy_family:ToyGenerator" in result.output
    assert REGISTRY.get("needle").name == "needle"  # the other families still work


def test_a_family_that_does_not_load_is_a_clear_error(extra_entry_points):
    extra_entry_points(("broken", "no_such_module_anywhere:Gen"), ("stranger", "json:dumps"))
    with pytest.raises(PluginError, match="family 'broken' .* does not load"):
        REGISTRY.get("broken")
    with pytest.raises(PluginError, match="not a longsynth Generator"):
        REGISTRY.get("stranger")


def test_the_same_target_declared_twice_is_one_family(extra_entry_points):
    extra_entry_points(("needle", "longsynth.generators.needle:NeedleGenerator"))
    assert REGISTRY.get("needle").name == "needle"


@pytest.mark.slow
def test_listing_families_imports_none_of_them():
    code = (
        "import sys\nfrom longsynth.generators.registry import REGISTRY\nnames = REGISTRY.names()\n"
        "print(sorted(m for m in sys.modules if m.startswith('longsynth.generators.') and m.count('.') >= 2"
        " and m.split('.')[2] in names))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_option_errors_come_from_the_options_dataclass():
    with pytest.raises(SpecError, match="density must be at most 1"):
        load_spec(None, generator="longbio", density=1.5)
    with pytest.raises(SpecError, match="info_density must be greater than 0"):
        load_spec(None, generator="holobench", info_density=0)
    with pytest.raises(SpecError, match="placement must be one of uniform, begin"):
        load_spec(None, generator="holobench", placement="sideways")
    with pytest.raises(SpecError, match="input_ids must be true or false"):
        load_spec(None, generator="nextlong", input_ids="maybe")
    assert load_spec(None, generator="nextlong", input_ids="true").options == {"input_ids": True}


def test_list_shows_every_option_and_every_spec_field():
    output = CliRunner().invoke(cli, ["list"], obj={}).output
    for field in dataclasses.fields(Spec):
        assert f"    {field.name} " in output
    assert "info_density" in output and "(> 0, <= 1)" in output
    assert "toy_colour" in output


def test_the_rebuild_command_round_trips_every_spec_field(tmp_path):
    spec = load_spec(
        None,
        generator="longbio",
        tasks="bio_rank,bio_standard",
        lengths="1k,3000",
        depths="12.5,33.3333333",
        samples=3,
        seed=7,
        tokenizer="o200k_base",
        length_tolerance=40,
        max_attempts=2,
        rows_per_shard=5,
        max_shard_bytes=12345678,
        formats="jsonl",
        template_dir=str(tmp_path / "my templates"),
        reserve=64,
        chat_template=str(tmp_path / "chat.jinja"),
        version="007",
        license="yes",
        attribute="hobby",
        density=0.5,
        depth_min=10,
        shots=1,
    )
    defaults = Spec()
    unchanged = [f.name for f in dataclasses.fields(Spec) if getattr(spec, f.name) == getattr(defaults, f.name)]
    # longbio reads its options for every task; per-task options are round-tripped below.
    assert unchanged == ["task_options"], "every field must be off its default for this test to mean something"
    args = shlex.split(rebuild_command(spec, tmp_path / "out"))
    assert args[:2] == ["longsynth", "build"]
    params = cli.commands["build"].make_context("build", args[2:]).params
    again = spec_from_cli(
        params["spec_file"], params["assignments"], params["formats"], **{k: params[k] for k in FLAGS}
    )
    assert again.to_dict() == spec.to_dict()


def test_per_task_options_apply_to_their_task_round_trip_and_keep_old_fingerprints(tmp_path):
    """`--set TASK.OPTION=VALUE` (or `task_options:` in YAML) sets an option for one task on top of the
    build's; the rebuild command carries it; a spec without it keeps the fingerprint it had before
    the field existed; a task not in the build, or a family that reads options for every task, is a
    one-line error."""
    from longsynth.pipeline import make_generator

    spec = load_spec(None, generator="ruler", tasks="niah_single_1,vt", **{"niah_single_1.num_keys": 4})
    assert spec.task_options == {"niah_single_1": {"num_keys": 4}}
    generator = make_generator(spec)
    assert (
        generator.task_options("niah_single_1").num_keys == 4
        and generator.needle.task_options("niah_single_1").num_keys == 4
    )
    assert generator.task_options("vt").num_keys == 1
    args = shlex.split(rebuild_command(spec, tmp_path / "out"))
    assert "niah_single_1.num_keys=4" in args
    params = cli.commands["build"].make_context("build", args[2:]).params
    again = spec_from_cli(
        params["spec_file"], params["assignments"], params["formats"], **{k: params[k] for k in FLAGS}
    )
    assert again.to_dict() == spec.to_dict()
    plain = load_spec(None, generator="ruler", tasks="vt")
    assert "task_options" not in plain.to_dict()
    with pytest.raises(SpecError, match="not a task of family"):
        load_spec(None, generator="ruler", tasks="vt", **{"qa_9.num_keys": 2})
    # A setting for a task this build does not make (a suite's, with --task narrowing it) is dropped.
    assert load_spec(None, generator="ruler", tasks="vt", **{"qa_1.num_keys": 2}).to_dict() == plain.to_dict()
    with pytest.raises(SpecError, match="takes no per-task options"):
        load_spec(None, generator="longbio", tasks="bio_standard", **{"bio_standard.density": 0.5})
    with pytest.raises(SpecError):
        load_spec(None, generator="ruler", tasks="vt", **{"vt.no_such_option": 2})


def test_every_numeric_option_of_every_family_declares_a_maximum():
    """An unbounded number is work without end: ruler's freq_cw=1e9 ran past 60 s, vocab_size=1e8
    reached 8.8 GB, short_freq_ucw=99999 3.7 GB for one 1K row. Every family, installed ones too."""
    from longsynth.generators.options import options_of
    from longsynth.generators.registry import REGISTRY

    unbounded = [
        f"{family}.{info.name}"
        for family in REGISTRY.names()
        for info in options_of(REGISTRY.get(family).Options).values()
        if info.kind in (int, float) and info.maximum is None
    ]
    assert unbounded == []


def test_option_bounds_read_as_numbers():
    from longsynth.generators.holobench import HoloBenchGenerator
    from longsynth.generators.options import options_of

    described = options_of(HoloBenchGenerator.Options)["info_amount"].describe()
    assert "<= 2,097,152" in described and "e+" not in described
