"""`longsynth run`: send every row's prompt to an OpenAI-compatible server and keep the replies.

What is sent is the row's `prompt` (the length contract's: the chat-templated input and the answer
prefix), as one user message (`--api chat`) or as the raw prompt (`--api completions`), as RULER's
clients do, with `max_tokens` the row's `reserve` unless set.

Replies are appended to `PRED/predictions.partial.jsonl` as they arrive, one whole line each; a line
cut by a crash is ignored when read. Running the same command again sends only the rows with no
reply yet (or whose request failed), and writes `PRED/predictions.parquet` (atomically) when every
selected row has one. 429 and 5xx answers, timeouts and dropped connections are retried with
exponential backoff and jitter, a bounded number of times; a row that still fails is recorded with
its `error` and the run goes on.

The API key is read from the environment variable `--api-key-env` names: it is sent in the
`Authorization` header and never written, logged or echoed; `run.json` keeps only the variable's name.
Without it, a user and password in the endpoint URL are sent as HTTP basic authentication; run.json
records the endpoint without them (and without its query).
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import polars as pl

from ..dataset import Dataset, open_dataset
from ..errors import OutputError, SpecError
from ..files import read_parquet_file
from ..outputs import OutputFolder
from ..version import __version__
from .reply import (
    MAX_TOKENS_FIELD,
    ReplyError,
    TimeoutError,
    TransportError,
    client,
    completion,
    error_text,
    post,
    reachable,
    scrub,
    secrets_of,
)

PREDICTIONS = "predictions.parquet"
PARTIAL = "predictions.partial.jsonl"
RUN = "run.json"
SCHEMA = {
    "id": pl.String,
    "task": pl.String,
    "prediction": pl.String,
    "error": pl.String,
    "latency_s": pl.Float64,
    "prompt_tokens": pl.Int64,
    "completion_tokens": pl.Int64,
}
RETRIED = (429, 500, 502, 503, 504)


class EndpointError(SpecError):
    """The endpoint cannot be reached or answers nothing usable (a one-line error, exit 2)."""


@dataclass(frozen=True)
class RunSettings:
    endpoint: str
    model: str
    api: str = "chat"  # or "completions"
    concurrency: int = 8
    max_tokens: int | None = None  # None: each row's reserve
    temperature: float = 0.0
    api_key_env: str | None = None
    limit: int | None = None  # rows per task
    tasks: tuple[str, ...] | None = None
    timeout: float = 120.0  # seconds per request
    retries: int = 4  # after the first attempt
    backoff: float = 0.5  # seconds before the first retry; doubled each time, with jitter

    def __post_init__(self) -> None:
        """Settings are checked where they are made, for the library as for the command line: a
        negative retry count recorded rows as answered with nothing; NaN or a huge timeout never ends."""
        _check_text("endpoint", self.endpoint)
        _check_text("model", self.model)
        _check_number("concurrency", self.concurrency, 1, 256, whole=True)
        _check_number("retries", self.retries, 0, 20, whole=True)
        _check_number("timeout", self.timeout, 0.1, 3600)
        _check_number("backoff", self.backoff, 0, 60)
        _check_number("temperature", self.temperature, 0, 2)
        if self.max_tokens is not None:
            _check_number("max_tokens", self.max_tokens, 1, 1_000_000, whole=True)
        if self.limit is not None:
            _check_number("limit", self.limit, 1, 10**9, whole=True)
        if self.api not in ("chat", "completions"):
            raise SpecError(f"--api must be chat or completions, got {str(self.api)[:40]!r}")
        try:
            parts = urlsplit(self.endpoint)
        except ValueError:  # an unclosed [ of an IPv6 address
            raise SpecError("--endpoint must be an http:// or https:// URL (this one cannot be read)") from None
        try:
            parts.port  # noqa: B018 - a bad port raises here
        except ValueError:
            raise SpecError(f"--endpoint {public_endpoint_or_none(self.endpoint)!r} has a bad port") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SpecError(
                f"--endpoint must be an http:// or https:// URL, got {public_endpoint_or_none(self.endpoint)!r}"
            )


def _check_text(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value or not value.isprintable() or len(value) > 2048:
        raise SpecError(f"--{name.replace('_', '-')} must be printable text of at most 2,048 characters")
    try:
        value.encode("ascii" if name == "endpoint" else "utf-8")
    except UnicodeEncodeError:
        raise SpecError(
            f"--{name.replace('_', '-')} must be {'ASCII' if name == 'endpoint' else 'UTF-8'} text"
        ) from None


def _check_number(name: str, value: Any, low: float, high: float, whole: bool = False) -> None:
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not (low <= value <= high):
        raise SpecError(
            f"--{name.replace('_', '-')} must be a {'whole ' if whole else ''}number from {low:g} to {high:g}"
        )


def public_endpoint_or_none(url: str) -> str:
    """`public_endpoint`, or a placeholder when the URL cannot even be split."""
    try:
        return public_endpoint(url)
    except ValueError:
        return "(an unreadable URL)"


def public_endpoint(url: str) -> str:
    """The endpoint as it may be written down: no user, password, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def endpoint_url(base: str, path: str, keep_user: bool = True) -> str:
    """`base` with `path` appended to its path (its query, as Azure's `api-version`, kept); with
    `keep_user` False, without the user and password a URL may carry (a key from the environment
    is sent instead)."""
    parts = urlsplit(base)
    netloc = parts.netloc if keep_user else parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + path, parts.query, ""))


def _api_key(settings: RunSettings) -> str | None:
    if not settings.api_key_env:
        return None
    key = os.environ.get(settings.api_key_env)
    if not key:
        raise SpecError(f"--api-key-env names {settings.api_key_env}, which is not set in the environment")
    if not key.isascii() or not key.isprintable() or len(key) > 8192:
        raise SpecError(f"the key in {settings.api_key_env} is not printable ASCII (an HTTP header cannot hold it)")
    return key


def selected_rows(dataset: Dataset, settings: RunSettings) -> list[dict[str, Any]]:
    """The rows to ask about, in task then shard order: the chosen tasks, at most `limit` each."""
    tasks = list(dataset.tasks)
    if settings.tasks:
        unknown = [t for t in settings.tasks if t not in tasks]
        if unknown:
            raise SpecError(f"task {unknown[0]!r} is not in this build; it holds {', '.join(tasks)}")
        tasks = [t for t in tasks if t in settings.tasks]
    rows = []
    for task in tasks:
        found = dataset.rows(task)
        rows += found[: settings.limit] if settings.limit else found
    return rows


def read_partial(path: Path) -> dict[str, dict[str, Any]]:
    """Records saved so far, by id (the last one of an id wins; a line cut by a crash is skipped)."""
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if _stored_record(record):
            records[record["id"]] = record
    return records


def _stored_record(record: Any) -> bool:
    """Whether a saved line is a record this module writes (a hand-edited or foreign line is asked
    again, never trusted: a `prompt_tokens` of "abc" or NaN crashed every later run)."""
    if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not isinstance(record.get("task"), str):
        return False
    if not all(record.get(k) is None or isinstance(record.get(k), str) for k in ("prediction", "error")):
        return False
    latency = record.get("latency_s")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, int | float)
                                or not math.isfinite(latency) or latency < 0):  # fmt: skip
        return False
    return all(
        record.get(k) is None or (type(record.get(k)) is int and 0 <= record[k] <= MAX_TOKENS_FIELD)
        for k in ("prompt_tokens", "completion_tokens")
    )


def _ends_mid_line(path: Path) -> bool:
    with open(path, "rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def _check_run_file(out: Path, expected: dict[str, Any]) -> None:
    """A folder holding another run (another model, endpoint, API or dataset) is not continued."""
    path = out / RUN
    if not path.exists():
        return
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise OutputError(f"{str(path)!r} is not valid JSON; use another -o folder") from None
    if not isinstance(recorded, dict) or not isinstance(recorded.get("settings"), dict):
        raise OutputError(f"{str(path)!r} is not a longsynth run record; use another -o folder")
    for key in ("model", "endpoint", "dataset_manifest_sha256"):
        if recorded.get(key) != expected[key]:
            raise OutputError(
                f"{str(out)!r} holds a run with another {key.replace('_', ' ')} ({str(recorded.get(key))[:80]!r}); "
                "use another -o folder"
            )
    for key in ("api", "temperature", "max_tokens"):  # what shapes a reply: a resume must not change it
        if recorded["settings"].get(key) != expected["settings"][key]:
            raise OutputError(
                f"{str(out)!r} holds a run made with --{key.replace('_', '-')} {recorded['settings'].get(key)!r}, "
                f"not {expected['settings'][key]!r}; resume it with the same settings or use another -o folder"
            )


def _payload(settings: RunSettings, row: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": settings.model,
        "max_tokens": settings.max_tokens or int(row["reserve"]),
        "temperature": settings.temperature,
    }
    if settings.api == "chat":
        body["messages"] = [{"role": "user", "content": row["prompt"]}]
    else:
        body["prompt"] = row["prompt"]
    return body


async def _ask(
    client: Any, url: str, settings: RunSettings, row: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """One row's request, retried on 429/5xx, timeouts and dropped connections; never raises. The reply
    comes through `reply` (one deadline, a byte cap, checked fields, secrets scrubbed)."""
    record: dict[str, Any] = {"id": row["id"], "task": row["task"], "prediction": None, "error": None}
    secrets = secrets_of(url, headers)
    started = time.perf_counter()
    for attempt in range(settings.retries + 1):
        retry_after = None
        try:
            answer = await post(client, url, _payload(settings, row), headers, settings.timeout)
        except TimeoutError:
            record["error"] = f"timed out after {settings.timeout:g} s"
        except TransportError as exc:
            record["error"] = f"connection failed: {type(exc).__name__}"
        except ReplyError as exc:
            record["error"] = scrub(str(exc), secrets)
            break
        else:
            if answer.status in RETRIED:
                record["error"] = f"HTTP {answer.status}"
                retry_after = answer.retry_after
            elif answer.status >= 400 or answer.status < 200:
                record["error"] = error_text(answer, secrets)
                break
            else:
                try:
                    done = completion(answer.body, chat=settings.api == "chat")
                except ValueError as exc:
                    record["error"] = str(exc)
                    break
                record.update(
                    prediction=done.text,
                    error=None,
                    prompt_tokens=done.prompt_tokens,
                    completion_tokens=done.completion_tokens,
                )
                break
        if attempt < settings.retries:
            wait = settings.backoff * 2**attempt * (0.5 + random.random())  # jitter spreads the retries
            if retry_after and retry_after.replace(".", "", 1).isdigit():
                wait = max(wait, min(float(retry_after), 60.0))
            await asyncio.sleep(min(wait, 60.0))
    record["latency_s"] = round(time.perf_counter() - started, 4)
    return record


def check_endpoint(endpoint: str, headers: dict[str, str], seconds: float = 5.0) -> None:
    """Fail in seconds when nothing answers at the endpoint (any HTTP answer will do)."""
    failure = reachable(endpoint_url(endpoint, "/models", keep_user=not headers), headers, seconds)
    if failure:
        raise EndpointError(
            f"the endpoint {public_endpoint(endpoint)} cannot be reached ({failure}); is the server running?"
        )


def run(
    directory: Path,
    out: Path,
    settings: RunSettings,
    progress: Callable[[int, int, int], None] | None = None,
) -> dict[str, Any]:
    """Ask about every selected row that has no reply yet; write the predictions when all have one.
    Returns counts: rows, asked (this time), answered, errors, seconds."""
    directory, out = Path(directory), Path(out)
    folder = OutputFolder(out, "the predictions folder")
    dataset = open_dataset(directory, evaluation=True)
    rows = selected_rows(dataset, settings)
    key = _api_key(settings)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    about = {
        "model": settings.model,
        "endpoint": public_endpoint(settings.endpoint),
        "dataset": str(directory.resolve()),
        "dataset_manifest_sha256": dataset.manifest_sha256,
        "settings": {k: v for k, v in asdict(settings).items() if k not in ("endpoint", "model")},
        "longsynth_version": __version__,
        # When this run (or its last resume) started, in UTC: the report's run information.
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    about["settings"]["tasks"] = list(settings.tasks) if settings.tasks else None
    folder.path(RUN)  # the folder is made (and checked) before anything is asked
    _check_run_file(out, about)
    done = read_partial(out / PARTIAL)
    if (out / PREDICTIONS).exists() and not done:
        done = {r["id"]: r for r in read_parquet_file(out / PREDICTIONS).to_dicts()}
    todo = [r for r in rows if r["id"] not in done or done[r["id"]].get("error")]
    started = time.perf_counter()
    asked = 0
    if todo:
        check_endpoint(settings.endpoint, headers)
        folder.write(RUN, (json.dumps(about, indent=1) + "\n").encode())
        asked = asyncio.run(_ask_all(folder, settings, todo, headers, done, progress, len(rows)))
    records = [done.get(r["id"]) or {"id": r["id"], "task": r["task"], "error": "no reply"} for r in rows]
    frame = pl.DataFrame([{k: rec.get(k) for k in SCHEMA} for rec in records], schema=SCHEMA)
    if todo or not (out / PREDICTIONS).exists():
        folder.write(PREDICTIONS, _parquet_bytes(frame))
        (out / PARTIAL).unlink(missing_ok=True)
    errors = int(frame["error"].is_not_null().sum())
    first_error = next((e for e in frame["error"].to_list() if e), None)
    return {
        "first_error": first_error,
        "rows": len(rows),
        "asked": asked,
        "answered": len(rows) - errors,
        "errors": errors,
        "seconds": time.perf_counter() - started,
    }


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


async def _ask_all(
    folder: OutputFolder,
    settings: RunSettings,
    todo: list[dict[str, Any]],
    headers: dict[str, str],
    done: dict[str, dict[str, Any]],
    progress: Callable[[int, int, int], None] | None,
    total: int,
) -> int:
    """Ask `todo` with at most `concurrency` requests in flight, saving each reply as it arrives."""
    path = "/chat/completions" if settings.api == "chat" else "/completions"
    url = endpoint_url(settings.endpoint, path, keep_user=not headers)  # a key from the environment wins
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for row in todo:
        queue.put_nowait(row)
    handle = folder.append(PARTIAL)
    if _ends_mid_line(folder.path(PARTIAL)):  # a line cut by a crash or a full disk: the next record starts afresh
        os.write(handle, b"\n")
    finished = 0

    async def worker(session: Any) -> None:
        nonlocal finished
        while not queue.empty():
            row = queue.get_nowait()
            record = await _ask(session, url, settings, row, headers)
            os.write(handle, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))  # one whole line
            done[row["id"]] = record
            finished += 1
            if progress:
                progress(finished, len(todo), total)

    try:
        async with client(settings.concurrency, settings.timeout) as session:
            await asyncio.gather(*(worker(session) for _ in range(min(settings.concurrency, len(todo)))))
    finally:
        os.fsync(handle)
        os.close(handle)
    return finished
