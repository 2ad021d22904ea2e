"""CLI contract: one-line errors with exit code 2, validate/inspect/list, resume and overwrite."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from longsynth.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args), obj={})


def _one_line_error(result, needle: str):
    assert result.exit_code == 2, result.output
    lines = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0], result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--task", "niah_nope"], "unknown task 'niah_nope'"),
        (["--generator", "haystacker"], "unknown generator 'haystacker'"),
        (["--tokenizer", "gpt9"], "unknown tokenizer 'gpt9'"),
        (["--depths", "0,150"], "depth 150 is outside 0..100"),
        (["--depths", "nan"], "depth nan is outside 0..100"),
        (
            [
                "--generator",
                "nextlong",
                "--task",
                "nextlong",
                "--set",
                "retriever=dense",
                "--set",
                "encoder=/etc/passwd",
            ],
            "encoder '/etc/passwd' is not wordllama or a local model folder",
        ),
        (["--samples", "-3"], "samples must be at least 1"),
        (["--set", "num_keys=-1"], "num_keys must be at least 1"),
        (["--set", "colour=blue"], "unknown spec field 'colour'"),
        (["--lengths", "32"], "keeps 128 tokens for the answer"),
        (["--lengths", "4q"], "length '4q' is not a whole number"),
        (["--depths", "linspace:0,100"], "expected linspace:START,END,COUNT"),
        (["--set", "haystack=corpus", "--set", "corpus=/nonexistent/file.jsonl"], "does not exist"),
        (["--set", "num_queries=3"], "num_queries (3) exceeds num_keys (1)"),
    ],
)
def test_user_mistakes_are_one_line_errors(tmp_path, args, needle):
    _one_line_error(run("build", "--samples", "1", "-o", str(tmp_path / "o"), *args), needle)


def test_bad_yaml_and_missing_spec_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("generator: needle\ntasks: [niah_single_1\n")
    _one_line_error(run("build", str(bad), "-o", str(tmp_path / "o")), "not valid YAML")
    _one_line_error(run("build", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "o")), "does not exist")


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_line_error(run("build", "--lengths", "1k", "-o", str(blocker / "sub")), "cannot write to output folder")
    _one_line_error(run("build", "--lengths", "1k", "-o", str(blocker)), "is a file")


def test_yaml_spec_with_flag_overrides(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("generator: needle\ntasks: [niah_single_1]\nlengths: [1k]\ndepths: sigmoid:0,100,4\nsamples: 1\n")
    result = run("build", str(spec), "--samples", "2", "-o", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["spec"]["samples"] == 2 and manifest["counts"]["niah_single_1"] == 8
    assert manifest["spec"]["depths"][0] == 0 and manifest["spec"]["depths"][-1] == 100
    # --set wins over the file, a flag over --set (as `build --help` says)
    result = run(
        "build", str(spec), "--set", "samples=3", "--set", "seed=5", "--samples", "2", "-o", str(tmp_path / "p")
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["spec"]["samples"] == 2 and manifest["spec"]["seed"] == 5


def test_validate_inspect_list(tmp_path):
    out = tmp_path / "o"
    assert run("build", "--task", "niah_multikey_1", "--lengths", "2k", "-o", str(out)).exit_code == 0
    result = run("validate", str(out))
    assert result.exit_code == 0 and "0 failed" in result.output
    shown = run("inspect", str(out), "--task", "niah_multikey_1", "--index", "1")
    assert shown.exit_code == 0 and shown.output.count(">>> Keep in mind") == 4
    listing = run("list")
    assert listing.exit_code == 0 and "niah_multiquery" in listing.output and "num_values" in listing.output
    _one_line_error(run("inspect", str(out), "--index", "99"), "out of range")


def test_validate_exits_1_on_a_tampered_row(tmp_path):
    import polars as pl

    out = tmp_path / "o"
    assert run("build", "--lengths", "1k", "-o", str(out)).exit_code == 0
    shard = out / "niah_single_1" / "test-00000-of-00001.parquet"
    frame = pl.read_parquet(shard).with_columns(pl.col("length") + 1)
    frame.write_parquet(shard)
    result = run("validate", str(out))
    assert result.exit_code == 1 and "recorded length" in result.output and "sha256 differs" in result.output
    # the card's num_bytes are the shard's size when it was written: not reported as an edited card
    assert "front matter" not in result.output and "README.md" not in result.output
    card = out / "README.md"
    card.write_text(card.read_text().replace("config_name: niah_single_1", "config_name: other"))
    result = run("validate", str(out))
    assert result.exit_code == 1 and "README.md: its front matter is not the one this manifest renders" in result.output


def test_validate_measures_rows_ahead_on_other_threads_with_the_same_report(tmp_path, monkeypatch):
    """`validate` encodes rows on worker threads while the oracles run: the report (every problem, in
    order, across shards) is the one a row-by-row run gives, tampered rows and a damaged shard included."""
    import threading

    import polars as pl

    import longsynth.inspect as inspect_module
    from longsynth.validators import measure_written

    out = tmp_path / "o"
    args = ["build", "--task", "niah_single_1,niah_multikey_1", "--lengths", "1k,2k", "--samples", "3"]
    assert run(*args, "-o", str(out)).exit_code == 0
    first = out / "niah_single_1" / "test-00000-of-00001.parquet"
    frame = pl.read_parquet(first)
    lengths = frame["length"].to_list()
    lengths[1] += 1
    lengths[4] -= 2
    frame.with_columns(pl.Series("length", lengths)).write_parquet(first)
    (out / "niah_multikey_1" / "test-00000-of-00001.parquet").write_bytes(b"not parquet")
    threads = set()

    def recorded(row, tokenizer):
        threads.add(threading.current_thread().name)
        return measure_written(row, tokenizer)

    monkeypatch.setattr(inspect_module, "measure_written", recorded)
    calls = []
    ahead = inspect_module.validate_directory(out, progress=lambda rows, planned: calls.append((rows, planned)))
    assert calls == [
        (n, 2 * len(lengths)) for n in range(1, len(lengths) + 1)
    ]  # one a row; the damaged shard's never come
    assert any(name.startswith("longsynth-ordered") for name in threads)
    monkeypatch.setattr(inspect_module, "ordered_map", lambda fn, items, workers: map(fn, items))
    threads.clear()
    one_by_one = inspect_module.validate_directory(out)
    assert threads == {threading.current_thread().name}
    assert ahead.problems == one_by_one.problems and ahead.rows == one_by_one.rows == len(lengths)
    assert sum("recorded length" in p for p in ahead.problems) == 2 and ahead.failed_rows == 2
    assert any("niah_multikey_1" in p and "parquet" in p.lower() for p in ahead.file_problems)


def test_other_spec_refused_then_overwritten(tmp_path):
    out = tmp_path / "o"
    assert run("build", "--lengths", "1k", "-o", str(out)).exit_code == 0
    _one_line_error(run("build", "--lengths", "1k", "--seed", "3", "-o", str(out)), "--overwrite")
    assert run("build", "--lengths", "1k", "--seed", "3", "-o", str(out), "--overwrite").exit_code == 0
    assert json.loads((out / "manifest.json").read_text())["spec"]["seed"] == 3


def test_overwrite_rebuilds_the_same_spec(tmp_path):
    """--overwrite on the same spec rebuilds from scratch (it once printed "wrote N rows" and kept the
    finished shards); without it the same command resumes and keeps them. The bytes are the same."""
    out = tmp_path / "o"
    args = ("build", "--lengths", "1k", "-o", str(out))
    assert run(*args).exit_code == 0
    shard = out / "niah_single_1" / "test-00000-of-00001.parquet"
    first = shard.read_bytes()
    before = shard.stat().st_ino, shard.stat().st_mtime_ns
    assert run(*args).exit_code == 0
    assert (shard.stat().st_ino, shard.stat().st_mtime_ns) == before  # resumed: kept
    assert run(*args, "--overwrite").exit_code == 0
    assert (shard.stat().st_ino, shard.stat().st_mtime_ns) != before  # rebuilt
    assert shard.read_bytes() == first


def test_overwrite_replaces_only_a_longsynth_build(tmp_path):
    """--overwrite into a folder of someone's own files (a README, notes, a folder of .jsonl data)
    deletes nothing and says which files are not ours; into a build, it replaces the build, and a file
    a user added to a build stops it too."""
    project = tmp_path / "project"
    (project / "mydata").mkdir(parents=True)
    mine = {"README.md": "my notes\n", "notes.txt": "keep\n", "mydata/corpus.jsonl": '{"text": "precious"}\n'}
    for name, text in mine.items():
        (project / name).write_text(text)
    _one_line_error(run("build", "--lengths", "1k", "-o", str(project), "--overwrite"), "did not write")
    assert {str(p.relative_to(project)): p.read_text() for p in project.rglob("*") if p.is_file()} == mine

    out = tmp_path / "build"
    assert run("build", "--task", "niah_single_1,niah_multikey_1", "--lengths", "1k", "-o", str(out)).exit_code == 0
    assert run("build", "--task", "niah_single_1", "--lengths", "1k", "-o", str(out), "--overwrite").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [".longsynth", "README.md", "manifest.json", "niah_single_1"]
    assert run("validate", str(out)).exit_code == 0
    (out / "notes.txt").write_text("mine\n")
    result = run("build", "--task", "niah_single_1", "--lengths", "1k", "--seed", "9", "-o", str(out), "--overwrite")
    _one_line_error(result, "notes.txt")
    assert (out / "notes.txt").read_text() == "mine\n" and (out / "manifest.json").exists()


def test_resume_finishes_missing_shards_byte_identically(tmp_path):
    args = ["build", "--task", "niah_single_1", "--lengths", "1k", "--samples", "4", "--set", "rows_per_shard=4"]
    out = tmp_path / "o"
    assert run(*args, "-o", str(out)).exit_code == 0
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*.parquet")}
    assert len(before) == 3
    victim = sorted(out.rglob("*.parquet"))[1]
    victim.unlink()
    (out / "manifest.json").unlink()
    assert run(*args, "-o", str(out)).exit_code == 0
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*.parquet")}
    assert after == before
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_console_script_reports_errors_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "longsynth.cli", "build", "--task", "nope", "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: unknown task")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_an_installed_family_lists_builds_and_validates(tmp_path, plugin_env):
    """The example family, pip-installed for the session, through the real console entry point."""

    def longsynth(*args):
        command = [sys.executable, "-m", "longsynth.cli", *args]
        return subprocess.run(command, env=plugin_env, capture_output=True, text=True, timeout=300)

    listed = longsynth("list")
    assert listed.returncode == 0 and "toy_colour" in listed.stdout
    built = longsynth("build", "--generator", "toy", "--lengths", "1k", "--depths", "0,100", "-o", str(tmp_path / "t"))
    assert built.returncode == 0, built.stderr
    checked = longsynth("validate", str(tmp_path / "t"))
    assert checked.returncode == 0 and "4 rows checked in 1 file: 0 failed" in checked.stdout


@pytest.mark.parametrize(
    "args, says",
    [
        (("--task", "niah_single_2", "--set", "corpus_text_field=body", "--set", "haystack=prose"), "corpus is set"),
        (("--generator", "ruler", "--task", "vt", "--set", "num_cw=5"), "task cwe"),
        (("--generator", "ruler", "--task", "niah_single_1", "--set", "corpus=x.txt"), "haystack=corpus"),
        (("--generator", "ruler", "--task", "qa_1", "--set", "qa_split=train"), "qa_data is set"),
        (("--generator", "holobench", "--set", "row_templates=rows"), "database is a user database"),
        (("--generator", "holobench", "--set", "info_amount=500", "--set", "info_density=0.3"), "info_amount=0"),
        (("--generator", "holobench", "--task", "holo_group", "--set", "empty_share=0.2"), "task holo_filter"),
        (("--generator", "holobench", "--set", "question=Which?"), "sql is set"),
        (("--generator", "nextlong", "--set", "corpus_text_field=body"), "corpus is a file, folder"),
        (("--generator", "nextlong", "--set", "corpus=c.jsonl", "--set", "corpus_split=dev"), "corpus is hf:"),
        (("--generator", "nextlong", "--set", "encoder=minilm"), "retriever=dense"),
        (("--generator", "nextlong", "--set", "chunk_tokens=512", "--set", "chunk_size=900"), "chunk_tokens=0"),
    ],
)
def test_an_option_with_no_effect_is_refused(tmp_path, args, says):
    """An option that counts for no task of the build (a corpus field without a corpus, a cwe setting on a
    vt build) is a one-line error naming what would make it count, not silently ignored."""
    result = run("build", *args, "--lengths", "1k", "-o", str(tmp_path / "o"))
    _one_line_error(result, "has no effect here")
    assert says in result.output and not (tmp_path / "o").exists()


def test_a_previous_that_is_not_a_build_fails_before_building(tmp_path):
    """`build --previous DIR` with a DIR that is no build: one line, and nothing is built (it was noticed
    only after the whole build had been written)."""
    (tmp_path / "prev").mkdir()
    result = run("build", "--lengths", "1k", "-o", str(tmp_path / "o"), "--previous", str(tmp_path / "prev"))
    _one_line_error(result, "has no manifest.json")
    assert not (tmp_path / "o").exists()
