"""Atomic, resumable writing of a build folder in the Hugging Face Hub layout.

Every file is written under a temporary name and renamed into place, so an
interrupted build never leaves half a file; a shard that exists is complete
and a rebuild of the same spec keeps it. A folder holding other output is
refused unless `--overwrite`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from .. import __version__
from ..errors import OutputError
from ..rows import schema_for
from ..spec import Spec

STATE_DIR = ".longsynth"
_OURS = {"README.md", "manifest.json", STATE_DIR}


def shard_path(out: Path, config: str, split: str, index: int, count: int) -> Path:
    return out / config / f"{split}-{index:05d}-of-{count:05d}.parquet"


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


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
    for stale in out.rglob(".*.tmp"):
        stale.unlink()
    _atomic_write(marker, json.dumps({"fingerprint": fingerprint, "spec": spec.to_dict()}, indent=2).encode())


def _stats_path(shard: Path) -> Path:
    return shard.parent.parent / STATE_DIR / "stats" / shard.parent.name / (shard.name + ".json")


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
        lines = [
            json.dumps(
                {
                    "index": first_index + n,
                    "input": r["input"],
                    "outputs": r["answers"],
                    "length": r["length"],
                    "answer_prefix": r["answer_prefix"],
                },
                ensure_ascii=False,
            )
            for n, r in enumerate(rows)
        ]
        _atomic_write(path.with_suffix(".jsonl"), ("\n".join(lines) + "\n").encode("utf-8"))
    _atomic_write(_stats_path(path), json.dumps(info, sort_keys=True).encode())
    frame = pl.DataFrame(rows, schema=schema_for(split, input_ids))
    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(tmp, compression="zstd", compression_level=3, statistics=False)
    os.replace(tmp, path)
    return info


def read_shard_stats(path: Path) -> dict:
    try:
        return json.loads(_stats_path(path).read_text())
    except (OSError, json.JSONDecodeError):
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        return {"rows": rows, "attempts": rows, "refits": 0, "min_length": 0, "max_length": 0}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_files(out: Path) -> list[Path]:
    return sorted(
        p
        for p in out.rglob("*")
        if p.is_file()
        and p.suffix in (".parquet", ".jsonl")
        and STATE_DIR not in p.parts
        and not p.name.startswith(".")
    )


def finish_build(out: Path, spec: Spec, generator, shard_stats: dict[str, list[dict]]) -> None:
    """Write the dataset card, then the manifest with the sha256 of every file."""
    from .card import render_card

    counts = {task: sum(s["rows"] for s in stats) for task, stats in shard_stats.items()}
    card = render_card(spec, generator, shard_stats, out)
    _atomic_write(out / "README.md", card.encode("utf-8"))
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
    _atomic_write(out / "manifest.json", (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
