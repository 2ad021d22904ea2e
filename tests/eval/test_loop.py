"""The loop after a build, against a real HTTP server on 127.0.0.1: run (faults, resume, keys), score
(our own, jsonl and RULER prediction files), report (in a real headless browser) and the lm-eval
export (run by lm-eval itself)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from loopback import WRONG, Faults, Loopback, State

from longsynth.cli import cli
from longsynth.export.ruler import export_ruler
from longsynth.pipeline import build
from longsynth.spec import load_spec

TASKS = "niah_single_1,niah_multikey_1"
FAST = ["--backoff", "0.01", "--timeout", "2"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """2 tasks x 3 lengths x 3 depths x 2 samples of needles."""
    spec = load_spec(None, generator="needle", tasks=TASKS, lengths="1k,2k,4k", depths="0,25,75", samples=2)
    return build(spec, tmp_path_factory.mktemp("loop") / "ds")


def _invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


def _predictions(pred: Path) -> list[dict]:
    frame = pl.read_parquet(pred / "predictions.parquet")
    return frame.select("id", "task", "prediction", "error").sort("id").to_dicts()


def test_run_score_report_through_faults(dataset, tmp_path):
    pred = tmp_path / "pred"
    # Every prompt's first two requests fail (429, then the retry is answered 500 once more below).
    state = State(faults=Faults(status=429, first=2))
    with Loopback(state) as server:
        result = _invoke(
            "run", str(dataset), "--endpoint", server.url, "--model", "needle-reader", "-o", str(pred), *FAST
        )
        assert result.exit_code == 0, result.output
        assert state.requests == 36 * 3  # two 429s, then an answer, for each of the 36 rows
    assert "36 of 36 answered, 0 errors" in result.output
    rows = _predictions(pred)
    assert len(rows) == 36 and all(r["error"] is None for r in rows)
    frame = pl.read_parquet(pred / "predictions.parquet")
    assert frame.columns == ["id", "task", "prediction", "error", "latency_s", "prompt_tokens", "completion_tokens"]
    run = json.loads((pred / "run.json").read_text())
    assert run["model"] == "needle-reader" and run["endpoint"] == server.url and run["longsynth_version"]
    assert len(run["dataset_manifest_sha256"]) == 64

    result = _invoke("score", str(dataset), str(pred))
    assert result.exit_code == 0, result.output
    summary = json.loads((pred / "summary.json").read_text())
    assert len(summary["cells"]) == 2 * 3 * 3
    for cell in summary["cells"]:
        # the "model" answers right only when the needle is in the first half of the prompt
        assert cell["score"] == (1.0 if cell["depth"] < 50 else 0.0), cell
        assert cell["n"] == 2 and 0.0 <= cell["ci_low"] <= cell["score"] <= cell["ci_high"] <= 1.0
    assert summary["overall"] == pytest.approx(2 / 3, abs=1e-4) and summary["missing"] == 0
    scores = pl.read_parquet(pred / "scores.parquet")
    columns = ["id", "task", "target_length", "depth", "score", "anchor_score", "anchor_extra"]
    assert scores.columns == columns and len(scores) == 36
    assert "niah_single_1" in result.output and "overall 0.667" in result.output


def test_score_refuses_another_datasets_run_and_never_overwrites_its_scores(dataset, tmp_path):
    """run.json names the dataset a run was made on: scoring it against another build is refused in one
    line (it once exited 0 with "306 missing" and overwrote that run's scores); --force overrides, and
    a scores folder holding another dataset's summary is not replaced without it."""
    pred = tmp_path / "pred"
    with Loopback(State()) as server:
        assert (
            _invoke("run", str(dataset), "--endpoint", server.url, "--model", "m", "-o", str(pred), *FAST).exit_code
            == 0
        )
    other = build(
        load_spec(None, generator="needle", tasks="niah_single_1", lengths="1k", samples=2), tmp_path / "other"
    )
    refused = _invoke("score", str(other), str(pred))
    assert refused.exit_code == 2 and "is a run on another dataset" in refused.output
    assert "Traceback" not in refused.output and not (pred / "summary.json").exists()
    assert _invoke("score", str(dataset), str(pred)).exit_code == 0
    kept = (pred / "summary.json").read_bytes()
    forced = _invoke("score", str(other), str(pred), "--force")  # both guards overridden, on purpose
    assert forced.exit_code == 0, forced.output
    assert (
        json.loads((pred / "summary.json").read_text())["dataset_manifest_sha256"]
        != json.loads(kept)["dataset_manifest_sha256"]
    )
    # A jsonl of predictions scored into a folder holding this dataset's scores, against another dataset:
    lines = pl.read_parquet(pred / "predictions.parquet").select("id", "prediction").to_dicts()
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (tmp_path / "summary.json").write_bytes(kept)
    overwrite = _invoke("score", str(other), str(tmp_path / "p.jsonl"))
    assert overwrite.exit_code != 0 and "holds scores of another dataset" in overwrite.output
    assert (tmp_path / "summary.json").read_bytes() == kept


def test_overall_is_the_mean_of_task_means():
    """RULER's convention: a task of 4 rows weighs as much as one of 40; the row mean is given beside it."""
    from longsynth.eval.score import summarize

    rows = [("a", 1.0)] * 40 + [("b", 0.0)] * 4
    frame = pl.DataFrame(
        {
            "id": [f"r{n}" for n in range(len(rows))],
            "task": [t for t, _ in rows],
            "target_length": [1024] * len(rows),
            "depth": [None] * len(rows),
            "score": [v for _, v in rows],
            "anchor_score": [v for _, v in rows],
            "anchor_extra": [None] * len(rows),
            "anchor_extra_name": [""] * len(rows),
            "missing": [False] * len(rows),
        },
        schema_overrides={"depth": pl.Float64, "anchor_extra": pl.Float64},
    )
    summary = summarize(frame)
    assert summary["overall"] == 0.5 and summary["overall_rows"] == pytest.approx(40 / 44, abs=1e-4)
    assert summary["anchor"]["overall"] == 0.5


def test_timeouts_and_dropped_connections_are_retried(dataset, tmp_path):
    for faults in (Faults(hang=3.0, first=1), Faults(drop=True, first=1), Faults(status=503, first=1)):
        pred = tmp_path / f"pred-{faults.hang}-{faults.drop}-{faults.status}"
        state = State(faults=faults)
        with Loopback(state) as server:
            args = ["run", str(dataset), "--endpoint", server.url, "--model", "m", "-o", str(pred)]
            result = _invoke(*args, "--limit", "2", "--task", "niah_single_1", "--concurrency", "2", *FAST)
        assert result.exit_code == 0, result.output
        rows = _predictions(pred)
        assert len(rows) == 2 and all(r["error"] is None and r["prediction"] for r in rows), (faults, rows)


def test_a_row_that_keeps_failing_is_recorded_and_the_run_goes_on(dataset, tmp_path):
    first = pl.read_parquet(sorted((dataset / "niah_single_1").glob("*.parquet"))[0]).row(0, named=True)
    marker = re.search(r"hidden number for ([a-z]+-[a-z]+) is", first["input"]).group(1)
    state = State(faults=Faults(status=500, always_marker=marker))
    pred = tmp_path / "pred"
    with Loopback(state) as server:
        args = ["run", str(dataset), "--endpoint", server.url, "--model", "m", "-o", str(pred), "--retries", "2"]
        result = _invoke(*args, *FAST)
        assert result.exit_code == 0, result.output
        assert "35 of 36 answered, 1 errors" in result.output
        failed = [r for r in _predictions(pred) if r["error"]]
        assert [r["id"] for r in failed] == [first["id"]] and failed[0]["error"] == "HTTP 500"
        # scoring counts the failed row as missing (score 0), never drops it
        _invoke("score", str(dataset), str(pred))
        summary = json.loads((pred / "summary.json").read_text())
        assert summary["rows"] == 36 and summary["missing"] == 1
        # a re-run retries only the failed row; the server is healthy now
        state.faults = Faults()
        before = state.requests
        result = _invoke(*args, *FAST)
        assert result.exit_code == 0 and state.requests == before + 1
        assert "36 of 36 answered" in result.output
        # a finished run re-run does nothing
        result = _invoke(*args, *FAST)
        assert result.exit_code == 0 and "nothing to do" in result.output and state.requests == before + 1


def test_the_key_is_sent_and_never_written(dataset, tmp_path):
    secret = "sk-test-9f8e7d6c5b4a"
    state = State(key=secret)
    pred = tmp_path / "pred"
    with Loopback(state) as server:
        endpoint = server.url.replace("http://", "http://user:hunter2@")
        args = ["run", str(dataset), "--endpoint", endpoint, "--model", "m", "-o", str(pred), "--limit", "1"]
        refused = _invoke(*args, "--api-key-env", "MY_KEY")
        assert refused.exit_code == 2 and "MY_KEY, which is not set" in refused.output
        result = _invoke(*args, "--api-key-env", "MY_KEY", *FAST, env={"MY_KEY": secret})
    assert result.exit_code == 0, result.output
    assert all(a == f"Bearer {secret}" for a in state.authorizations) and state.authorizations
    assert all(r["error"] is None for r in _predictions(pred))
    _invoke("score", str(dataset), str(pred))
    for path in pred.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data and b"hunter2" not in data, path
    assert secret not in result.output and "hunter2" not in result.output
    assert json.loads((pred / "run.json").read_text())["endpoint"] == server.url  # no credentials


def test_a_dead_endpoint_fails_in_seconds(dataset, tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    result = _invoke(
        "run", str(dataset), "--endpoint", f"http://127.0.0.1:{port}/v1", "--model", "m", "-o", str(tmp_path / "p")
    )
    assert time.monotonic() - start < 10
    assert result.exit_code == 2 and result.output.startswith("error:") and "cannot be reached" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_another_model_into_the_same_folder_is_refused(dataset, tmp_path):
    pred = tmp_path / "pred"
    with Loopback() as server:
        base = ["run", str(dataset), "--endpoint", server.url, "-o", str(pred), "--limit", "1", *FAST]
        assert _invoke(*base, "--model", "a").exit_code == 0
        refused = _invoke(*base, "--model", "b")
    assert refused.exit_code == 2 and "holds a run with another model" in refused.output


def test_completions_api(dataset, tmp_path):
    pred = tmp_path / "pred"
    with Loopback() as server:
        args = ["run", str(dataset), "--endpoint", server.url, "--model", "m", "-o", str(pred), "--api", "completions"]
        assert _invoke(*args, "--limit", "3", *FAST).exit_code == 0
    rows = _predictions(pred)
    assert len(rows) == 6 and all(r["prediction"].startswith("The number is") for r in rows)


def test_resume_after_sigkill_gives_the_same_predictions(dataset, tmp_path, plugin_env):
    with Loopback(State(faults=Faults(delay=0.05))) as server:
        whole = tmp_path / "whole"
        args = ["run", str(dataset), "--endpoint", server.url, "--model", "m", "--concurrency", "2", *FAST]
        assert _invoke(*args, "-o", str(whole)).exit_code == 0
        cut = tmp_path / "cut"
        command = [sys.executable, "-c", "from longsynth.cli import main; main()", *args, "-o", str(cut)]
        process = subprocess.Popen(command, env=plugin_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        partial = cut / "predictions.partial.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not partial.exists() or len(partial.read_text().splitlines()) < 8):
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        saved = len(partial.read_text().splitlines())
        assert 8 <= saved < 36 and not (cut / "predictions.parquet").exists()
        before = server.state.requests
        result = _invoke(*args, "-o", str(cut))
        assert result.exit_code == 0, result.output
        assert server.state.requests - before <= 36 - saved + 2  # only the missing rows (and those in flight)
    assert _predictions(cut) == _predictions(whole)
    assert not partial.exists()


def test_a_line_cut_by_a_crash_is_not_joined_to_the_next_reply(dataset, tmp_path):
    """A partial file whose last line was cut (a crash or a full disk mid-write): the resumed run
    starts its first reply on a fresh line, so no saved reply is lost to a merged line."""
    from longsynth.eval.run import PARTIAL, RunSettings, read_partial
    from longsynth.eval.run import run as run_predictions

    pred = tmp_path / "pred"
    with Loopback() as server:
        settings = RunSettings(endpoint=server.url, model="m", concurrency=1, timeout=2, backoff=0.01)

        def stop_after_five(finished: int, todo: int, total: int) -> None:
            if finished == 5:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            run_predictions(dataset, pred, settings, progress=stop_after_five)
        partial = pred / PARTIAL
        saved = partial.read_bytes()
        assert saved.count(b"\n") == 5
        partial.write_bytes(saved + b'{"id": "cut-by-a-cra')  # the sixth line, cut mid-write

        def stop_after_three(finished: int, todo: int, total: int) -> None:
            if finished == 3:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            run_predictions(dataset, pred, settings, progress=stop_after_three)
    lines = partial.read_text().splitlines()
    assert lines[5] == '{"id": "cut-by-a-cra' and len(lines) == 9
    for line in lines[:5] + lines[6:]:
        json.loads(line)  # every whole reply is still a whole line
    assert len(read_partial(partial)) == 8


def test_score_reads_jsonl_and_ruler_predictions(dataset, tmp_path):
    rows = pl.concat([pl.read_parquet(p) for p in sorted(dataset.glob("*/*.parquet"))]).to_dicts()
    ours = tmp_path / "ours.jsonl"
    ours.write_text(
        "".join(json.dumps({"id": r["id"], "prediction": f"It is {r['answers'][0]}."}) + "\n" for r in rows[:-3])
    )
    result = _invoke("score", str(dataset), str(ours))
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["missing"] == 3 and summary["overall"] == pytest.approx(33 / 36, abs=1e-4)
    export_ruler(dataset, tmp_path / "ruler")
    lines = []
    for path in sorted((tmp_path / "ruler").glob("*/validation.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            lines.append({"index": record["index"], "pred": " ".join(record["outputs"]), "others": record["others"]})
    ruler_preds = tmp_path / "ruler-preds" / "niah.jsonl"
    ruler_preds.parent.mkdir()
    ruler_preds.write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = _invoke("score", str(dataset), str(ruler_preds))
    assert result.exit_code == 0, result.output
    assert json.loads((ruler_preds.parent / "summary.json").read_text())["overall"] == 1.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"nothing": 1}\n')
    result = _invoke("score", str(dataset), str(bad))
    assert result.exit_code == 2 and 'needs "id" and "prediction"' in result.output


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def _browser(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    # its caches and settings (dconf's among them) in the test's folder, not the user's home
    env = {**os.environ, "XDG_CACHE_HOME": str(profile / "cache"), "XDG_CONFIG_HOME": str(profile / "config")}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_report_renders_in_a_headless_browser(dataset, tmp_path):
    preds = []
    for name, faults in (("first-half-reader", Faults()), ("other-run", Faults(status=500, always_marker="1024"))):
        pred = tmp_path / name
        with Loopback(State(faults=faults)) as server:
            args = ["run", str(dataset), "--endpoint", server.url, "--model", name, "-o", str(pred), "--retries", "0"]
            assert _invoke(*args, *FAST).exit_code == 0
        preds.append(str(pred))
    page = tmp_path / "report.html"
    result = _invoke("report", str(dataset), *preds, "-o", str(page), "--png", str(tmp_path / "png"))
    assert result.exit_code == 0, result.output
    text = page.read_text()
    # self-contained: no script, no stylesheet or image fetched from anywhere
    assert "<script" not in text and not re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:|//)', text)
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["niah_multikey_1.png", "niah_single_1.png"]

    shot = tmp_path / "shot.png"
    run = _browser(page, tmp_path / "profile-1", f"--screenshot={shot}", "--window-size=1400,2400")
    assert shot.exists() and shot.stat().st_size > 20_000, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "error" in line.lower()], console
    dom = _browser(page, tmp_path / "profile-2", "--dump-dom").stdout
    assert dom.count("<svg") == 2  # one figure per task
    # What a paper needs first: contents, RULER's summary table per model with the mean per length, the
    # effective context length, run information, the paired difference of two models; cells folded.
    assert "<nav>" in dom and 'href="#summary"' in dom and 'href="#niah_single_1"' in dom
    assert dom.count('class="summary"') == 2 and "mean of tasks" in dom
    assert "Effective context length" in dom and "Run information" in dom and "endpoint host" in dom
    assert "127.0.0.1" in dom and "Differences between models" in dom and "paired bootstrap" in dom
    assert dom.count("<summary>Per-cell scores") == 2 and "anchors' metrics by length" in dom
    for task in TASKS.split(","):
        assert f'id="{task}"' in dom and f">{task}<" in dom
    assert "first-half-reader" in dom and "other-run" in dom
    for value in ("1.00", "0.00"):  # cell scores written in the heatmaps, as text
        assert re.search(rf"<text[^>]*>\s*{re.escape(value)}\s*</text>", dom) or f">{value}<" in dom
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels[..., :3].std() > 0.05  # the page drew something, not a blank screen


def _lm_eval(out: Path, tmp_path: Path, limit: int) -> dict:
    """lm-eval itself, offline, with its `dummy` model on the exported niah_single_1 task: its results."""
    command = [
        sys.executable, "-m", "lm_eval", "--model", "dummy", "--include_path", str(out),
        "--tasks", "longsynth_niah_single_1", "--limit", str(limit), "--output_path", str(tmp_path / "results"),
    ]  # fmt: skip
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(next((tmp_path / "results").rglob("results_*.json")).read_text())


def test_lm_eval_runs_the_exported_tasks(dataset, tmp_path):
    pytest.importorskip("lm_eval")
    out = tmp_path / "lm"
    result = _invoke("export", "lm-eval", str(dataset), str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "longsynth_niah_multikey_1.yaml",
        "longsynth_niah_single_1.yaml",
        "longsynth_utils.py",
    ]
    sys.path.insert(0, str(out))
    try:
        import longsynth_utils

        row = pl.read_parquet(sorted((dataset / "niah_single_1").glob("*.parquet"))[0]).row(0, named=True)
        assert longsynth_utils.process_results(row, [row["answers"][0]]) == {"score": 1.0}
        assert longsynth_utils.process_results(row, [WRONG]) == {"score": 0.0}
    finally:
        sys.path.remove(str(out))
    results = _lm_eval(out, tmp_path, limit=3)
    scored = results["results"]["longsynth_niah_single_1"]
    assert scored["score,none"] == 0.0  # the dummy model answers "lol"
    assert results["n-samples"]["longsynth_niah_single_1"]["effective"] == 3


def test_lm_eval_api_model_against_the_loopback_server(dataset, tmp_path):
    """lm-eval's own OpenAI-compatible client (`local-completions`, from the `lm-eval[api]` extra) on the
    exported task, talking HTTP to the loopback server on 127.0.0.1: its needle-reading model answers
    when the needle sits in the first half, and lm-eval's score is ours (process_results)."""
    pytest.importorskip("tenacity")  # lm-eval[api]
    out = tmp_path / "lm"
    assert _invoke("export", "lm-eval", str(dataset), str(out)).exit_code == 0
    state = State()
    with Loopback(state) as server:
        args = (
            f"model=needle-reader,base_url={server.url}/completions,num_concurrent=1,max_retries=1,"
            "tokenized_requests=False,tokenizer_backend=None"
        )
        command = [
            sys.executable, "-m", "lm_eval", "--model", "local-completions", "--model_args", args,
            "--include_path", str(out), "--tasks", "longsynth_niah_single_1", "--output_path", str(tmp_path / "res"),
        ]  # fmt: skip
        env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": "unused"}
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert state.requests >= 18  # every niah_single_1 row went over HTTP
    results = json.loads(next((tmp_path / "res").rglob("results_*.json")).read_text())
    rows = pl.read_parquet(sorted((dataset / "niah_single_1").glob("*.parquet"))).to_dicts()
    expected = sum(1.0 for r in rows if float(r["id"].split("-d")[1].split("-")[0]) < 50) / len(rows)
    assert results["results"]["longsynth_niah_single_1"]["score,none"] == pytest.approx(expected)


def test_lm_eval_export_of_a_folder_named_like_a_pattern_and_a_tag(dataset, tmp_path):
    """A folder whose name holds glob characters and lm-eval's tag text: the YAML still names its
    shards literally (escaped for `datasets`' pattern matching) and keeps its tags as tags."""
    pytest.importorskip("lm_eval")
    odd = tmp_path / "o[1] '!function doc_to_target' *"
    shutil.copytree(dataset, odd)
    out = tmp_path / "lm"
    assert _invoke("export", "lm-eval", str(odd), str(out)).exit_code == 0
    config = (out / "longsynth_niah_single_1.yaml").read_text()
    assert "doc_to_target: !function " in config and "process_results: !function " in config
    results = _lm_eval(out, tmp_path, limit=2)
    assert results["n-samples"]["longsynth_niah_single_1"]["effective"] == 2
