"""Atomic, resumable writing of a build folder in the Hugging Face Hub layout.

Every file is written under a temporary name and renamed into place (`files.write_atomically`), so
an interrupted build never leaves half a file; a shard that exists is complete and a rebuild of the
same spec keeps it. A folder holding other output is refused unless `--overwrite`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import OutputError
from ..files import sha256_file, stale_temporaries, write_atomically, write_bytes_atomically
from ..rows import schema_for
from ..spec import Spec
from ..version import __version__
from .card import render_card
from .layout import STATE_DIR, data_files, shard_path
from .manifest import MANIFEST

_OURS = {"README.md", MANIFEST, STATE_DIR}


def _is_our_data_dir(path: Path) -> bool:
    return path.is_dir() and all(p.is_file() and p.suffix in (".parquet", ".jsonl", ".tmp") for p in path.iterdir())


def prepare_output(out: Path, spec: Spec, overwrite: bool) -> None:
    """Make `out` ready: create it, resume the same spec, or refuse other output."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"output {str(out)!r} is a file; give a folder with -o")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".longsynth-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to output folder {str(out)!r}: {exc.strerror or exc}") from None
    marker = out / STATE_DIR / "spec.json"
    fingerprint = spec.fingerprint()
    existing = [p for p in out.iterdir()]
    if existing:
        same = marker.exists() and json.loads(marker.read_text()).get("fingerprint") == fingerprint
        if not same:
            if not overwrite:
                raise OutputError(
                    f"{str(out)!r} already holds other output; pass --overwrite to replace it or choose another -o"
                )
            for path in existing:
                if path.name in _OURS or _is_our_data_dir(path):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
    for stale in stale_temporaries(out):
        stale.unlink()
    state = {"fingerprint": fingerprint, "spec": spec.to_dict()}
    write_bytes_atomically(marker, json.dumps(state, indent=2).encode())


def _stats_path(shard: Path) -> Path:
    return shard.parent.parent / STATE_DIR / "stats" / shard.parent.name / (shard.name + ".json")


def _ruler_line(index: int, row: dict[str, Any]) -> str:
    """A row as RULER's scripts read it (their `validation.jsonl` fields)."""
    fields = {
        "index": index,
        "input": row["input"],
        "outputs": row["answers"],
        "length": row["length"],
        "answer_prefix": row["answer_prefix"],
    }
    return json.dumps(fields, ensure_ascii=False)


def write_shard(
    path: Path,
    rows: list[dict[str, Any]],
    split: str,
    formats: list[str],
    first_index: int,
    stats,
    input_ids: bool = False,
) -> dict:
    """Write one shard (and its jsonl twin); the Parquet file lands last, as the completion mark."""
    info = {"rows": len(rows), "attempts": stats.attempts, "refits": stats.refits, "dropped": stats.dropped}
    lengths = [r["length"] for r in rows]
    info.update(min_length=min(lengths, default=0), max_length=max(lengths, default=0), lengths=sorted(lengths))
    if "jsonl" in formats and split == "test":
        lines = [_ruler_line(first_index + n, r) for n, r in enumerate(rows)]
        write_bytes_atomically(path.with_suffix(".jsonl"), ("\n".join(lines) + "\n").encode("utf-8"))
    write_bytes_atomically(_stats_path(path), json.dumps(info, sort_keys=True).encode())
    frame = pl.DataFrame(rows, schema=schema_for(split, input_ids))
    write_atomically(
        path, lambda tmp: frame.write_parquet(tmp, compression="zstd", compression_level=3, statistics=False)
    )
    return info


def read_shard_stats(path: Path) -> dict:
    try:
        return json.loads(_stats_path(path).read_text())
    except (OSError, json.JSONDecodeError):
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        return {"rows": rows, "attempts": rows, "refits": 0, "min_length": 0, "max_length": 0}


def finish_build(out: Path, spec: Spec, generator, shard_stats: dict[str, list[dict]]) -> None:
    """Write the dataset card, then the manifest with the sha256 of every file."""
    counts = {task: sum(s["rows"] for s in stats) for task, stats in shard_stats.items()}
    card = render_card(spec, generator, shard_stats, out)
    write_bytes_atomically(out / "README.md", card.encode("utf-8"))
    files = {str(p.relative_to(out)): sha256_file(p) for p in [*data_files(out), out / "README.md"]}
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


__all__ = ["STATE_DIR", "data_files", "finish_build", "prepare_output", "read_shard_stats", "shard_path", "write_shard"]
