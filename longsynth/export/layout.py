"""Where a build's files go (the Hugging Face Hub layout) and which files are its data."""

from __future__ import annotations

import re
from pathlib import Path

STATE_DIR = ".longsynth"  # resume state: the spec's fingerprint and per-shard stats; never published


def shard_path(out: Path, config: str, split: str, index: int, count: int) -> Path:
    return out / config / f"{split}-{index:05d}-of-{count:05d}.parquet"


SHARD_NAME = re.compile(r"(train|test|validation)-\d{5}-of-\d{5}\.(parquet|jsonl)")  # a shard or its jsonl twin


def data_files(out: Path) -> list[Path]:
    return sorted(
        p
        for p in out.rglob("*")
        if p.is_file()
        and p.suffix in (".parquet", ".jsonl")
        and STATE_DIR not in p.parts
        and not p.name.startswith(".")
    )
