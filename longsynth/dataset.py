"""The one door to a built dataset folder: every command that reads one (validate, inspect, score, run,
report, export, push, `to_hf_dataset`) opens it with `open_dataset`.

A folder may come from someone else, and its manifest may be edited by hand. Trusting it piecemeal,
command by command, is how a task named `../X` came to be written outside an export folder and a
folder named `o[1]` stopped reading (its shard paths were expanded as glob patterns). So this module
checks once, for everyone:

- the manifest has the shape longsynth writes (`read_manifest`);
- every task name is a plain name (letters, digits, `_ . -`; no separator, no `..`), and every file
  name a relative path inside the folder;
- every file matches its sha256 (the card included) and no file is unlisted (`file_problems`);
- shards are the manifest's own names, read as literal paths, never patterns.

Publishing (`push`, `export`) also needs the rows to pass `validate`: `inspect.require_valid` runs it, unless
this machine's cache holds a record that a build or a `validate` found this very manifest's rows
valid (the record is keyed by the manifest's sha256, and the files are bound to the manifest by
their hashes, so an edited row or card has no record).
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl

from .cache import cache_dir, store_bytes
from .errors import DamagedOutput, OutputError, SpecError
from .export.layout import SHARD_NAME
from .export.manifest import MANIFEST, file_problems, read_manifest, safe_name
from .files import read_parquet_file, read_parquet_schema_file, sha256_file
from .rows import TOKEN_COLUMNS, schema_for
from .spec import Spec, spec_from_dict

TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


def plain_task_name(name: Any) -> bool:
    """A task name that is one plain folder name: it can never reach outside a folder it is joined to."""
    return isinstance(name, str) and bool(TASK_NAME.match(name)) and ".." not in name


@dataclass(frozen=True)
class Dataset:
    """A built folder whose manifest passed the door's checks; shards by task, as literal paths."""

    folder: Path
    manifest: dict[str, Any]
    tasks: tuple[str, ...]
    shards: dict[str, tuple[Path, ...]]
    problems: tuple[str, ...]  # files that do not match the manifest (empty when opened verified)

    @property
    def split(self) -> str:
        return str(self.manifest.get("split", ""))

    @property
    def manifest_sha256(self) -> str:
        return sha256_file(self.folder / MANIFEST)

    def spec(self) -> Spec:
        try:
            return spec_from_dict(self.manifest["spec"])
        except (SpecError, TypeError, AttributeError, ValueError) as exc:
            raise OutputError(f"the manifest's spec is not usable: {exc}") from None

    def frame(self, task: str, columns: list[str] | None = None) -> pl.DataFrame:
        """One task's rows, its shards concatenated in order (a damaged shard, or one whose columns are
        not the row schema's, is a one-line error)."""
        frames = []
        for path in self.shards.get(task, ()):
            frame = read_shard(path, columns)
            problem = shard_schema_problem(frame, self.split, columns)
            if problem:
                raise DamagedOutput(f"{task}/{path.name}: {problem}; longsynth validate lists such problems")
            frames.append(frame)
        return pl.concat(frames) if frames else pl.DataFrame()

    def rows(self, task: str) -> list[dict[str, Any]]:
        return self.frame(task).to_dicts()

    def checked_shards(self, task: str) -> tuple[Path, ...]:
        """A task's shards for a reader that takes the files itself (`to_hf_dataset`), each one's column
        names and types checked against the row schema first, from its footer (as `frame` does)."""
        for path in self.shards.get(task, ()):
            try:
                schema = read_parquet_schema_file(path)
            except Exception:  # polars raises several kinds for a damaged file
                raise DamagedOutput(f"{path.name}: not a readable Parquet file") from None
            problem = schema_problem(schema, self.split)
            if problem:
                raise DamagedOutput(f"{task}/{path.name}: {problem}; longsynth validate lists such problems")
        return self.shards.get(task, ())


def as_pattern(path: Path) -> str:
    """A literal path for a library that reads file names as glob patterns (`datasets`' `data_files`,
    lm-eval's YAML): its pattern characters escaped, so `o[1]` names the folder `o[1]`."""
    return glob.escape(str(path))


def read_shard(path: Path, columns: list[str] | None = None) -> pl.DataFrame:
    """One Parquet shard, by its literal path; a file that is not one is a one-line error."""
    try:
        return read_parquet_file(path, columns)
    except OSError:
        raise DamagedOutput(f"{path.name}: cannot be read") from None
    except Exception:  # polars raises several kinds for a damaged file
        raise DamagedOutput(f"{path.name}: not a readable Parquet file") from None


def shard_schema_problem(
    frame: pl.DataFrame, split: str, columns: list[str] | None = None, nulls: bool = True
) -> str | None:
    """Why a shard's rows are not rows of the row schema (`rows.schema_for`), or None: a column
    missing, holding another type, or holding a null (no family writes one). A shard edited by
    someone else and rehashed passes the manifest's checks; without this, every command that reads
    its rows failed wherever it first used the odd value, with a traceback. With `columns` (a command
    that reads some), only those are checked; without `nulls`, nulls are left to the caller
    (`validate` names each such row)."""
    problem = schema_problem(dict(frame.schema), split, columns)
    if problem or not nulls:
        return problem
    for name in schema_for(split):
        if name in frame.columns and (columns is None or name in columns) and frame[name].null_count():
            return f"its column {name!r} holds a null"
    return None


def schema_problem(schema: dict[str, Any], split: str, columns: list[str] | None = None) -> str | None:
    """Why a shard's column names and types are not the row schema's, or None (see
    `shard_schema_problem`)."""
    expected = schema_for(split, tuple(name for name in TOKEN_COLUMNS if name in schema))
    for name, dtype in expected.items():
        if columns is not None and name not in columns:
            continue
        if name not in schema:
            return f"not a longsynth shard (no column {name!r})"
        if schema[name] != dtype:
            return f"its column {name!r} holds {schema[name]}, not {dtype}"
    return None


def open_dataset(folder: str | Path, *, verified: bool = True, evaluation: bool = False) -> Dataset:
    """Open a built folder through the door. With `verified` (the default), a file that does not match
    the manifest is a one-line error; without it (`validate`, which reports every problem), the
    problems are returned in `Dataset.problems`. With `evaluation`, training folders are refused."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    path = folder / MANIFEST
    tasks = manifest["spec"].get("tasks")
    if not isinstance(tasks, list) or not tasks or not all(plain_task_name(t) for t in tasks):
        raise OutputError(
            f"{str(path)!r} is not a longsynth manifest: its spec's tasks must be a list of plain names "
            f"(got {str(tasks)[:80]!r}); rebuild the folder"
        )
    if len(set(tasks)) != len(tasks):
        raise OutputError(f"{str(path)!r} names a task twice; rebuild the folder")
    files = manifest["files"]
    if not all(isinstance(digest, str) for digest in files.values()):
        raise OutputError(f"{str(path)!r} is not a longsynth manifest (a file's sha256 is not a string); rebuild it")
    problems = file_problems(folder, manifest)
    shards: dict[str, list[Path]] = {task: [] for task in tasks}
    for name in sorted(n for n in files if safe_name(n) and n.endswith(".parquet")):
        parts = PurePosixPath(name).parts
        if len(parts) != 2 or parts[0] not in shards or not SHARD_NAME.fullmatch(parts[1]):
            problems.append(f"{name}: not a shard of any task of this build")
            continue
        shards[parts[0]].append(folder / parts[0] / parts[1])
    if verified and problems:
        raise OutputError(f"{str(folder)!r} does not match its manifest ({problems[0]}); rebuild it first")
    if evaluation and manifest.get("split") != "test":
        raise SpecError(f"{str(folder)!r} holds training text, not evaluation rows")
    return Dataset(folder, manifest, tuple(tasks), {t: tuple(p) for t, p in shards.items()}, tuple(problems))


def _record_path(folder: Path) -> Path:
    return cache_dir("validated", sha256_file(folder / MANIFEST))


def record_valid(folder: Path) -> None:
    """Note in this machine's cache that every row of the folder's manifest passed validation (a build,
    whose rows were validated as they were made, or a clean `validate`)."""
    store_bytes(_record_path(folder), b"valid\n")


def known_valid(dataset: Dataset) -> bool:
    """Whether this machine found this very manifest's rows valid (its files were checked against it
    when the dataset was opened)."""
    return not dataset.problems and _record_path(dataset.folder).is_file()
