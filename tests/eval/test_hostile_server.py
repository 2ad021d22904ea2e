"""`longsynth run` against a hostile server on 127.0.0.1: every reply comes through one door (one
deadline per request, a byte cap counted after decompression, checked fields, scrubbed errors).

Each server misbehaves in one way; the run must end in bounded time and memory, store nothing it did
not check, never store or print the key, and exit 1 when no row got a reply.
"""

from __future__ import annotations

import functools
import json
import resource
import time
import zlib
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from loopback import Faults, Loopback, State

from longsynth.cli import cli
from longsynth.errors import SpecError
from longsynth.eval.run import PARTIAL, PREDICTIONS, RunSettings, read_partial
from longsynth.pipeline import build
from longsynth.spec import load_spec

KEY = "sk-test-SECRET-0123456789"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    spec = load_spec(None, tasks="niah_single_1", lengths="1k", depths="50", samples=2)
    return build(spec, tmp_path_factory.mktemp("hostile-server") / "ds")


def _ok(handler, text: str = "The number is 1.", usage=None) -> None:
    body = {"choices": [{"message": {"role": "assistant", "content": text}}]}
    if usage is not None:
        body["usage"] = usage
    data = json.dumps(body).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def endless_chunks(handler, body) -> None:
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"x" * 65536
    try:
        for _ in range(200_000):  # 13 GB if nobody stops reading
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        pass


def trickle(handler, body) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    try:
        for _ in range(100_000):  # one byte a tenth of a second: every read is quick, the reply endless
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.1)
    except OSError:
        pass


@functools.lru_cache(maxsize=1)
def _bomb() -> bytes:
    """1 GiB of spaces, gzipped to about 1 MB, made a MiB at a time (the test must not hold 1 GiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * (1 << 20)
    return b"".join(packer.compress(block) for _ in range(1024)) + packer.flush()


def gzip_bomb(handler, body) -> None:
    data = _bomb()
    handler.send_response(200)
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    try:
        handler.wfile.write(data)
    except OSError:
        pass


def brotli_reply(handler, body) -> None:
    handler.send_response(200)
    handler.send_header("Content-Encoding", "br")
    handler.send_header("Content-Length", "4")
    handler.end_headers()
    handler.wfile.write(b"abcd")


def echo_key_401(handler, body) -> None:
    data = json.dumps({"error": f"bad key, you sent {handler.headers.get('Authorization')}"}).encode()
    handler.send_response(401)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def usage(value):
    return lambda handler, body: _ok(handler, usage=value)


def text_is(value):
    def answer(handler, body):
        data = json.dumps({"choices": [{"message": {"content": value}}]}).encode()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


def _run(dataset: Path, server: Loopback, out: Path, *extra: str):
    args = ["run", str(dataset), "--endpoint", server.url, "--model", "m", "-o", str(out), "--retries", "0"]
    return CliRunner().invoke(cli, [*args, "--api-key-env", "HOSTILE_KEY", *extra], env={"HOSTILE_KEY": KEY})


def _stored_text(out: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file() and p.suffix != ".parquet") + (
        str(pl.read_parquet(out / "predictions.parquet").to_dicts()) if (out / "predictions.parquet").exists() else ""
    )


BOUNDED = {  # server -> (words of the stored error)
    "an endless chunked reply": (endless_chunks, "larger than 4 MiB"),
    "a reply of one byte a tenth of a second": (trickle, "timed out after 3 s"),
    "a gzip bomb": (gzip_bomb, "larger than 4 MiB"),
    "an encoding we do not read": (brotli_reply, "content encoding 'br'"),
}


@pytest.mark.parametrize("what", BOUNDED)
def test_a_reply_is_bounded_in_time_and_bytes(dataset, tmp_path, what):
    raw, says = BOUNDED[what]
    _bomb()  # made before the server answers (and before memory is measured)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with Loopback(State(faults=Faults(raw=raw))) as server:
        result = _run(dataset, server, tmp_path / "pred", "--timeout", "3")
    seconds = time.monotonic() - started
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"bounded reply: {what}: {seconds:.2f} s, peak memory +{grown_mib:.0f} MiB")  # pytest -s
    assert seconds < 20
    assert grown_mib < 200, f"peak memory grew by {grown_mib:.0f} MiB"
    assert result.exit_code == 1 and "no row got a reply" in result.stderr
    errors = pl.read_parquet(tmp_path / "pred" / "predictions.parquet")["error"].to_list()
    assert errors and all(says in e for e in errors), errors


def test_a_401_echoing_the_key_stores_and_prints_no_key(dataset, tmp_path):
    with Loopback(State(faults=Faults(raw=echo_key_401))) as server:
        result = _run(dataset, server, tmp_path / "pred")
    assert result.exit_code == 1
    assert KEY not in result.output and KEY not in _stored_text(tmp_path / "pred")
    errors = pl.read_parquet(tmp_path / "pred" / "predictions.parquet")["error"].to_list()
    assert all(e.startswith("HTTP 401") and "***" in e for e in errors), errors


@pytest.mark.parametrize(
    "value",
    [
        [1, 2],
        "abc",
        {"prompt_tokens": "abc"},
        {"prompt_tokens": 1e23},
        {"prompt_tokens": float("nan")},
        {"prompt_tokens": -5, "completion_tokens": True},
        {"prompt_tokens": 2.5},
    ],  # fmt: skip
    ids=["a list", "a string", "a word", "1e23", "NaN", "negative and boolean", "a fraction"],
)
def test_usage_that_is_not_counts_is_stored_as_unknown(dataset, tmp_path, value):
    """A bad `usage` crashed the run and stayed in the partial file; the text is still the reply."""
    with Loopback(State(faults=Faults(raw=usage(value)))) as server:
        result = _run(dataset, server, tmp_path / "pred")
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(tmp_path / "pred" / "predictions.parquet")
    assert frame["prediction"].to_list() == ["The number is 1."] * frame.height
    assert frame["prompt_tokens"].to_list() == [None] * frame.height


@pytest.mark.parametrize("value", [["a list"], {"a": 1}, 5])
def test_a_reply_whose_text_is_not_text_is_an_error(dataset, tmp_path, value):
    with Loopback(State(faults=Faults(raw=text_is(value)))) as server:
        result = _run(dataset, server, tmp_path / "pred")
    assert result.exit_code == 1
    errors = pl.read_parquet(tmp_path / "pred" / "predictions.parquet")["error"].to_list()
    assert all("not a string" in e for e in errors), errors


def test_a_foreign_record_in_the_partial_file_is_asked_again(dataset, tmp_path):
    """A hand-edited partial line (prompt_tokens "abc") crashed every later run; it is now not trusted."""
    out = tmp_path / "pred"
    out.mkdir()
    bad = {"id": "niah_single_1-1024-d50-00000", "task": "niah_single_1", "prediction": "x", "error": None}
    lines = [{**bad, "prompt_tokens": "abc"}, {**bad, "latency_s": float("inf")}, {**bad, "prediction": 5}]
    (out / PARTIAL).write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert read_partial(out / PARTIAL) == {}
    with Loopback(State()) as server:
        result = _run(dataset, server, out)
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out / "predictions.parquet")["error"].null_count() == 2


def test_a_resume_with_other_reply_settings_is_refused(dataset, tmp_path):
    out = tmp_path / "pred"
    with Loopback(State(faults=Faults(status=500, always_marker="hidden"))) as server:
        assert _run(dataset, server, out).exit_code == 1  # every row failed: a resume would ask again
        for flag, value in (("--temperature", "0.7"), ("--max-tokens", "7"), ("--api", "completions")):
            result = _run(dataset, server, out, flag, value)
            assert result.exit_code == 2 and f"made with {flag}" in result.stderr, result.output
    recorded = json.loads((out / "run.json").read_text())["settings"]
    assert (recorded["temperature"], recorded["max_tokens"], recorded["api"]) == (0.0, None, "chat")


@pytest.mark.parametrize(
    "change",
    [
        {"retries": -1},
        {"concurrency": 0},
        {"timeout": float("nan")},
        {"timeout": 1e9},
        {"temperature": float("inf")},
        {"backoff": -1.0},
        {"max_tokens": 0},
        {"model": ""},
        {"model": "bad\udcff"},
        {"endpoint": "http://h:99999/v1"},
        {"endpoint": "http://[::1/v1"},
        {"endpoint": "ftp://h/v1"},
        {"api": "other"},
    ],  # fmt: skip
)
def test_library_settings_are_checked_when_made(change):
    settings = {"endpoint": "http://127.0.0.1:9/v1", "model": "m", **change}
    with pytest.raises(SpecError):
        RunSettings(**settings)


@pytest.mark.parametrize(
    "args, says",
    [
        (["--endpoint", "http://127.0.0.1:99999/v1"], "bad port"),
        (["--endpoint", "http://[::1/v1"], "must be an http"),
        (["--temperature", "nan"], "temperature"),
        (["--model", "m\udcff"], "--model must be"),
    ],
)
def test_bad_run_flags_are_one_line(dataset, tmp_path, args, says):
    base = ["run", str(dataset), "--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "-o", str(tmp_path / "p")]
    result = CliRunner().invoke(cli, [*base, *args])
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


def test_a_key_that_is_not_ascii_is_one_line(dataset, tmp_path):
    base = ["run", str(dataset), "--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "-o", str(tmp_path / "p")]
    result = CliRunner().invoke(cli, [*base, "--api-key-env", "K"], env={"K": "clé-secrète"})
    assert result.exit_code == 2 and "not printable ASCII" in result.stderr and "clé" not in result.output


@pytest.mark.parametrize("name", ["gpt$\\foo$", "a$b", "$\\frac{1}{0}$", "x" * 500])
def test_a_report_draws_any_model_name(dataset, tmp_path, name):
    """A model named like mathtext (`gpt$\\foo$`) crashed matplotlib; the report draws it as text."""
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "run.json").write_text(json.dumps({"model": name}))
    replies = {"id": ["niah_single_1-1024-d50-00000"], "task": ["niah_single_1"], "prediction": ["1"], "error": [None]}
    pl.DataFrame(replies, schema_overrides={"error": pl.String}).write_parquet(tmp_path / "p" / PREDICTIONS)
    result = CliRunner().invoke(cli, ["report", str(dataset), str(tmp_path / "p"), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.html").stat().st_size > 1000


def test_a_run_record_that_is_a_list_names_the_folder(dataset, tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "run.json").write_text("[1, 2]")
    (tmp_path / "p.jsonl").write_text('{"id": "niah_single_1-1024-d50-00000", "prediction": "1"}\n')
    result = CliRunner().invoke(
        cli, ["report", str(dataset), str(tmp_path / "p.jsonl"), "-o", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_a_report_writes_nothing_in_the_home_folder(dataset, tmp_path):
    """matplotlib's font cache went to ~/.cache/matplotlib: outside the output folder and our cache."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "p.jsonl").write_text('{"id": "niah_single_1-1024-d50-00000", "prediction": "1"}\n')
    env = {k: v for k, v in os.environ.items() if k != "MPLCONFIGDIR"}
    env.update(HOME=str(home), LONGSYNTH_CACHE=str(tmp_path / "cache"), XDG_CACHE_HOME=str(home / ".cache"))
    command = [sys.executable, "-m", "longsynth.cli", "report", str(dataset), str(tmp_path / "p.jsonl"), "-o",
               str(tmp_path / "out" / "r.html"), "--png", str(tmp_path / "out" / "png")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert list(home.rglob("*")) == []
    assert (tmp_path / "cache" / "matplotlib").is_dir()


@pytest.mark.parametrize("record", ["[1, 2]", "5", '{"model": "m", "settings": [1]}', "{oops"])
def test_a_run_folder_whose_record_is_not_ours_is_one_line(dataset, tmp_path, record):
    out = tmp_path / "pred"
    out.mkdir()
    (out / "run.json").write_text(record)
    with Loopback(State()) as server:
        result = _run(dataset, server, out)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "use another -o folder" in result.stderr
