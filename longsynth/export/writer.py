"""Atomic, resumable writing of a build folder in the Hugging Face Hub layout.

Every file is written under a temporary name and renamed into place (`files.write_atomically`), so
an interrupted build never leaves half a file; a shard that exists is complete and a rebuild of the
same spec keeps it. A folder holding other output is refused unless `--overwrite`, which replaces
only a longsynth build: it deletes the files a build writes and refuses a folder holding any other.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import OutputError
from ..files import (
    FolderBusy,
    file_record,
    locked_folder,
    matches_record,
    sha256_file,
    stale_temporaries,
    temporary_name,
    write_atomically,
    write_bytes_atomically,
)
from ..read_ahead import WriteBehind
from ..rows import schema_for
from ..spec import Spec
from ..version import __version__
from .card import render_card
from .layout import SHARD_NAME, STATE_DIR, shard_path
from .manifest import MANIFEST, read_manifest
from .ruler_jsonl import ruler_line


def _is_longsynth_build(out: Path) -> bool:
    """Whether `out` holds a longsynth build, finished (a manifest of our shape) or not (our resume state)."""
    if (out / STATE_DIR / "spec.json").is_file():
        return True
    try:
        read_manifest(out)
    except OutputError:
        return False
    return True


def _build_files(out: Path) -> tuple[list[Path], list[Path]]:
    """(the files of a previous build that `--overwrite` may delete, the files it must not): the card
    and manifest of a longsynth build, shards named as we name them one folder down, and our
    temporaries; anything else (a user's README, notes, a folder of their own data, a link) is not
    ours, whatever its name."""
    build = _is_longsynth_build(out)
    ours, foreign = [], []
    for path in sorted(out.rglob("*")):
        relative = path.relative_to(out)
        if relative.parts[0] == STATE_DIR or (path.is_dir() and not path.is_symlink()):
            continue
        temporary = path.name.startswith(".") and path.name.endswith(".tmp") and not path.is_symlink()
        if path.is_symlink() or not path.is_file():
            foreign.append(relative)
        elif temporary or (build and len(relative.parts) == 1 and path.name in ("README.md", MANIFEST)):
            ours.append(path)
        elif len(relative.parts) == 2 and SHARD_NAME.fullmatch(path.name):
            ours.append(path)
        else:
            foreign.append(relative)
    return ours, foreign


@contextmanager
def writing_into(out: Path) -> Iterator[None]:
    """A failed write (disk full, permissions, a file where a folder goes) as a one-line error naming
    the folder. The temporary file is already gone (`write_atomically`), so the same command, run
    again once there is room, finishes the build."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
    except pl.exceptions.PolarsError as exc:  # polars reports its own IO failures this way
        reason = str(exc).rpartition("underlying IO error: ")[2] or str(exc)
    else:
        return
    raise OutputError(
        f"cannot write to output folder {str(out)!r}: {reason}; free space or fix it, then run the same "
        "command again to finish"
    ) from None


def _recorded_fingerprint(marker: Path) -> str | None:
    try:
        return json.loads(marker.read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


def _holds_anything(out: Path) -> bool:
    """Whether the folder holds anything besides resume state, leftovers of an interrupted write and
    empty folders: a build that failed before finishing a shard leaves nothing that needs protecting."""
    for path in out.iterdir():
        if path.name == STATE_DIR or (path.is_file() and path.name.startswith(".") and path.suffix == ".tmp"):
            continue
        if path.is_dir() and not path.is_symlink() and all(p.is_dir() for p in path.rglob("*")):
            continue
        return True
    return False


@contextmanager
def building_into(out: Path) -> Iterator[None]:
    """Create the output folder and hold its writer lock for the whole build: a second build into the
    same -o while this one runs is refused in one line (two at once mixed their shards)."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"output {str(out)!r} is a file; give a folder with -o")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".longsynth-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to output folder {str(out)!r}: {exc.strerror or exc}") from None
    try:
        with locked_folder(out):
            yield
    except FolderBusy:
        raise OutputError(
            f"another longsynth build is writing into {str(out)!r}; wait for it to finish or choose another -o"
        ) from None


def prepare_output(out: Path, spec: Spec, overwrite: bool) -> None:
    """Make `out` (created and locked by `building_into`) ready: resume the same spec, or refuse other
    output. `overwrite` replaces a longsynth build, the same spec's too (a rebuild from scratch: a
    resume keeps finished shards, which is not what --overwrite asks for)."""
    marker = out / STATE_DIR / "spec.json"
    fingerprint = spec.fingerprint()
    if overwrite or _recorded_fingerprint(marker) != fingerprint:
        if _holds_anything(out):
            if not overwrite:
                raise OutputError(
                    f"{str(out)!r} already holds other output; pass --overwrite to replace it or choose another -o"
                )
            ours, foreign = _build_files(out)
            if foreign:
                named = ", ".join(str(p) for p in foreign[:3]) + (", ..." if len(foreign) > 3 else "")
                raise OutputError(
                    f"{str(out)!r} holds files longsynth did not write ({named}); --overwrite replaces only a "
                    "longsynth build: move them away or choose another -o"
                )
            for path in ours:
                path.unlink()
            for folder in sorted((p for p in out.iterdir() if p.is_dir() and p.name != STATE_DIR), reverse=True):
                if not any(folder.rglob("*")):
                    folder.rmdir()
        shutil.rmtree(out / STATE_DIR, ignore_errors=True)  # another spec's resume state
    for task in spec.tasks:
        if (out / task).exists() and not (out / task).is_dir():
            raise OutputError(
                f"{str(out / task)!r} is a file where the {task} shards go; move it away or choose another -o"
            )
    with writing_into(out):
        for stale in stale_temporaries(out):
            stale.unlink()
        state = {"fingerprint": fingerprint, "spec": spec.to_dict()}
        write_bytes_atomically(marker, json.dumps(state, indent=2).encode())


def _record_path(shard: Path) -> Path:
    """Where a shard's record lives: its stats and the size and sha256 of each file it wrote."""
    return shard.parent.parent / STATE_DIR / "stats" / shard.parent.name / (shard.name + ".json")


def _jsonl_line(index: int, row: dict[str, Any]) -> str:
    """An evaluation row as RULER's scripts read it (see `ruler.py`); a training row as its text,
    source and length."""
    if "prompt" in row:
        return ruler_line(index, row)
    fields = {
        "index": index,
        "id": row["id"],
        "text": row["text"],
        "source_id": row["source_id"],
        "length": row["length"],
    }
    return json.dumps(fields, ensure_ascii=False)


def write_shard(
    path: Path,
    rows: Iterable[dict[str, Any]],
    split: str,
    formats: list[str],
    first_index: int,
    stats,
    token_columns: tuple[str, ...] = (),
    family: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
    group_rows: int = 64,
) -> dict:
    """Write one shard (and its jsonl twin) and its record; the Parquet file lands last, as the
    completion mark, after the record of its size and sha256 (so a finished shard always has one).

    Rows are consumed as they come and written `group_rows` at a time (a Parquet row group), so
    memory holds one row group, not the shard (a 128K needle shard of 256 rows is 300 MB of text).
    `stats` is read once the rows are consumed; `family` (`Generator.shard_stats`) sees each group."""
    with writing_into(path.parent.parent):
        return _write_shard(path, rows, split, formats, first_index, stats, token_columns, family, group_rows)


def _write_shard(path, rows, split, formats, first_index, stats, token_columns, family, group_rows) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = path.parent.parent
    files: dict[str, dict] = {}
    lengths: list[int] = []
    facts: list[dict[str, Any]] = []
    schema = schema_for(split, token_columns)
    twin = path.with_suffix(".jsonl") if "jsonl" in formats else None

    def write(tmp: Path) -> None:
        twin_tmp = temporary_name(twin) if twin else None
        handle = open(twin_tmp, "w", encoding="utf-8") if twin_tmp else None
        writer = sink = None
        written = 0
        try:
            # Row groups are compressed and written behind the build thread (pyarrow lets go of the
            # interpreter lock while it compresses), in order, one at a time.
            with WriteBehind(depth=1, name="longsynth-parquet") as behind:
                for batch in _groups(rows, group_rows):
                    table = pl.DataFrame(batch, schema=schema).to_arrow()
                    if writer is None:
                        # The file is ours to close: pyarrow leaves it open when closing the writer fails
                        # (a full disk), which would hold a deleted file's space for the life of the process.
                        sink = pa.OSFile(str(tmp), "wb")
                        # No dictionary encoding: a row's texts are unique, and building a dictionary of
                        # them copied every text of the row group into pyarrow's memory pool before
                        # giving up on it (6 MB of a 32K build's 50 rows; files are no larger without).
                        writer = pq.ParquetWriter(
                            sink,
                            table.schema,
                            compression="zstd",
                            compression_level=3,
                            write_statistics=False,
                            use_dictionary=False,
                        )
                    behind.put(writer.write_table, table)
                    # The length the contract bounds: prompt plus reserve for evaluation rows, the text
                    # for training rows.
                    lengths.extend(r["prompt_length"] + r["reserve"] if "prompt" in r else r["length"] for r in batch)
                    if handle:
                        handle.write(
                            "".join(_jsonl_line(first_index + written + n, r) + "\n" for n, r in enumerate(batch))
                        )
                    if family:
                        found = family(batch)
                        if found:
                            facts.append(found)
                    written += len(batch)
            if writer is None:  # every sample dropped: an empty shard, with the schema
                pl.DataFrame([], schema=schema).write_parquet(
                    tmp, compression="zstd", compression_level=3, statistics=False
                )
            if twin and twin_tmp:
                handle.close()
                if not written:
                    twin_tmp.write_text("\n", encoding="utf-8")
                with open(twin_tmp, "rb") as fsynced:
                    os.fsync(fsynced.fileno())
                os.replace(twin_tmp, twin)
                files[str(twin.relative_to(out))] = file_record(twin)
        finally:
            with ExitStack() as closing:  # each one closed even if closing another fails; the writer first
                for opened in (handle, sink, writer):
                    if opened is not None:
                        closing.callback(opened.close)
            if twin_tmp and twin_tmp.exists():  # a failed write leaves nothing behind
                twin_tmp.unlink()

    info: dict[str, Any] = {}
    record = {"stats": info, "files": files}

    def record_then_finish(tmp: Path) -> None:
        info.update({"rows": len(lengths), **stats.record()})
        info.update(min_length=min(lengths, default=0), max_length=max(lengths, default=0), lengths=sorted(lengths))
        if facts:
            info["family"] = facts
        files[str(path.relative_to(out))] = file_record(tmp)
        write_bytes_atomically(_record_path(path), json.dumps(record, sort_keys=True).encode())

    write_atomically(path, write, before_rename=record_then_finish)
    return record


def _groups(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def kept_shard(path: Path) -> dict | None:
    """The record of a finished shard whose files all still match it (size and sha256), or None:
    a shard that was truncated, edited, or has no record is rebuilt, never trusted."""
    try:
        record = json.loads(_record_path(path).read_text())
        files = record["files"]
        if not isinstance(record["stats"], dict) or str(path.relative_to(path.parent.parent)) not in files:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    out = path.parent.parent
    return record if all(matches_record(out / name, expected) for name, expected in files.items()) else None


def finish_build(
    out: Path, spec: Spec, generator, shard_stats: dict[str, list[dict]], shard_files: dict[str, dict]
) -> None:
    """Write the dataset card, then the manifest with the sha256 of every file: the shards' from
    their verified records (never a hash of whatever lies in the folder), and the card's."""
    with writing_into(out):
        _finish_build(out, spec, generator, shard_stats, shard_files)


def _finish_build(out, spec, generator, shard_stats, shard_files) -> None:
    counts = {task: sum(s["rows"] for s in stats) for task, stats in shard_stats.items()}
    card = render_card(spec, generator, shard_stats, out)
    write_bytes_atomically(out / "README.md", card.encode("utf-8"))
    files = {name: record["sha256"] for name, record in shard_files.items()}
    files["README.md"] = sha256_file(out / "README.md")
    manifest = {
        "longsynth_version": __version__,
        "version": spec.version,
        "spec": spec.to_dict(),
        "fingerprint": spec.fingerprint(),
        "split": generator.split,
        "versions": {"longsynth": __version__, "tokenizer": generator.tokenizer.version, "polars": pl.__version__},
        "counts": counts,
        "dropped": {task: sum(s.get("dropped", 0) for s in stats) for task, stats in shard_stats.items()},
        "generator_stats": generator.report(),
        "shards": shard_stats,
        "files": dict(sorted(files.items())),
    }
    write_bytes_atomically(out / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


def add_card_sections(out: Path, spec: Spec, generator, audit: str = "", changes: str = "") -> None:
    """Re-render a finished build's card with its audit section (`build --audit`) and its changelog
    (`build --previous`), and record the card's new sha256 in the manifest; the rows, the front matter
    and the rest of the card stay as they are."""
    with building_into(out), writing_into(out):
        manifest = read_manifest(out)
        card = render_card(spec, generator, manifest["shards"], out, audit=audit, changes=changes)
        write_bytes_atomically(out / "README.md", card.encode("utf-8"))
        manifest["files"]["README.md"] = sha256_file(out / "README.md")
        write_bytes_atomically(out / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


__all__ = [
    "STATE_DIR",
    "add_card_sections",
    "building_into",
    "finish_build",
    "kept_shard",
    "prepare_output",
    "shard_path",
    "write_shard",
]
