"""The dataset card: Hub YAML front matter (`configs:`) plus a human summary, rendered from the
shared `card.md.j2` template; and the one CLI command that rebuilds the dataset byte for byte."""

from __future__ import annotations

import copy
import dataclasses
import shlex
import statistics
from pathlib import Path
from typing import Any

import yaml

from ..cache import cached_json
from ..rows import schema_for
from ..spec import Spec, parse_set
from ..templating import SHARED


def _depth_text(depth: float) -> str:
    short = f"{depth:g}"
    return short if float(short) == depth else repr(depth)


def _set_value(value: Any) -> str:
    """A value as `--set` reads it back (a YAML scalar): text is quoted only where YAML would read
    it as something else ("true", "007", "")."""
    text = str(value)
    if isinstance(value, str) and parse_set([f"x={text}"])["x"] != text:
        return yaml.safe_dump(value, default_style="'").strip()
    return text


_SHOW = {
    "tasks": ",".join,
    "lengths": lambda lengths: ",".join(str(n) for n in lengths),
    "depths": lambda depths: ",".join(_depth_text(d) for d in depths),
}


def rebuild_command(spec: Spec, out: Path | str) -> str:
    """The one CLI command that rebuilds this dataset from scratch: every spec field that has a flag
    is given with it, every other field that is off its default with `--set`, then the options."""
    defaults = Spec()
    args = ["longsynth", "build"]
    repeated: list[str] = []
    sets: list[str] = []
    for field in dataclasses.fields(Spec):
        name, flag, value = field.name, field.metadata.get("flag"), getattr(spec, field.name)
        if name in ("options", "task_options"):
            continue
        if name == "formats":
            repeated += [a for fmt in value if fmt not in defaults.formats for a in (flag, fmt)]
        elif flag:
            if value != [] or name != "depths":
                args += [flag, _SHOW.get(name, str)(value)]
        elif value != getattr(defaults, name):
            sets += ["--set", f"{name}={_set_value(value)}"]
    for name, value in spec.options.items():
        sets += ["--set", f"{name}={_set_value(value)}"]
    for task, values in spec.task_options.items():
        sets += [a for name, value in values.items() for a in ("--set", f"{task}.{name}={_set_value(value)}")]
    args += sets + repeated + ["-o", str(out)]
    return " ".join(shlex.quote(a) for a in args)


def _config_row(task: str, spec: Spec, stats: list[dict]) -> dict[str, Any]:
    lengths = sorted(n for s in stats for n in s.get("lengths", []))
    return {
        "task": task,
        "rows": sum(s["rows"] for s in stats),
        "lengths": ", ".join(map(str, spec.lengths)),
        "span": f"{lengths[0]}-{lengths[-1]}" if lengths else "-",
        "median": f"{statistics.median(lengths):g}" if lengths else "-",
        "dropped": sum(s.get("dropped", 0) for s in stats),
    }


def _effort(stats: list[dict]) -> str:
    """One line of what the rows took: draws, re-fits after a measured miss, draws retried and why."""
    total = {key: sum(s.get(key, 0) for s in stats) for key in ("rows", "attempts", "refits", "unfit", "invalid")}
    return (
        f"Building took {total['attempts']} draws for {total['rows']} rows: {total['refits']} re-fits after a "
        f"measured length missed its budget; {total['unfit']} draws retried because they could not be fitted "
        f"to the budget, {total['invalid']} because a validator or the tokenizer refused them."
    )


def audit_markdown(result: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The audit (`longsynth audit`'s result) as a card section: every baseline that scored or is
    declared, with its interval and why it may score; the rest counted."""
    lines = [
        "| task | baseline | score | 95% interval | n | verdict |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    quiet = sum(cell["score"] == 0 for found in result.values() for cell in found.values())
    for task, found in result.items():
        for name, cell in found.items():
            if cell["score"] == 0 and not cell["reason"]:
                continue
            verdict = "**flagged**" if cell["flagged"] else (cell["reason"] or "below the bar")
            lines.append(
                f"| {task} | {name} | {cell['score']:.2f} | {cell['ci_low']:.2f} to {cell['ci_high']:.2f} "
                f"| {cell['n']} | {verdict.replace('|', '/')} |"
            )
    flags = sum(cell["flagged"] for found in result.values() for cell in found.values())
    lines += ["", f"{quiet} task x baseline pairs scored 0; {flags} flagged."]
    return "\n".join(lines)


def size_category(rows: int) -> str:
    """The Hub's size bucket for a row count."""
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < bound:
            return name
    return "1M<n<10M" if rows < 10_000_000 else "n>10M"


def features_yaml(split: str, token_columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows' columns as the Hub's `dataset_info.features` lists them (from the Parquet schema).

    Kept in the cache by schema and `datasets` version: importing `datasets` costs about 0.6 s, a
    quarter of a small build."""
    from importlib.metadata import version

    def make() -> list[dict[str, Any]]:
        import datasets
        import polars as pl

        arrow = pl.DataFrame(schema=schema_for(split, token_columns)).to_arrow().schema
        return datasets.Features.from_arrow_schema(arrow)._to_yaml_list()

    key = {"schema": repr(schema_for(split, token_columns)), "datasets": version("datasets")}
    return cached_json("features", key, make)


def _shard_bytes(out: Path, task: str, split: str) -> int:
    """The bytes of a task's Parquet shards (the Hub's `num_bytes` of its split)."""
    folder = Path(out) / task
    return sum(p.stat().st_size for p in folder.glob(f"{split}-*.parquet")) if folder.is_dir() else 0


def front_matter(spec: Spec, generator, shard_stats: dict[str, list[dict]], out: Path) -> dict[str, Any]:
    """The card's YAML, as the Hub's dataset cards have it: name, language, license, task category,
    size, tags, one config per task with its files, and `dataset_info` (features and row counts)."""
    split = generator.split
    counts = {task: sum(s["rows"] for s in shard_stats.get(task, [])) for task in spec.tasks}
    features = features_yaml(split, tuple(generator.token_columns(spec)))
    return {
        "pretty_name": f"longsynth {spec.generator} ({', '.join(spec.tasks)})"[:120],
        "language": ["en"],
        "license": spec.license,
        "task_categories": ["question-answering" if split == "test" else "text-generation"],
        "size_categories": [size_category(sum(counts.values()))],
        "tags": ["longsynth", "synthetic", "long-context", spec.generator],
        "configs": [
            {"config_name": task, "data_files": [{"split": split, "path": f"{task}/{split}-*.parquet"}]}
            for task in spec.tasks
        ],
        "dataset_info": [
            # A copy per config: one shared list would be written as a YAML anchor and aliases.
            {
                "config_name": task,
                "features": copy.deepcopy(features),
                "splits": [{"name": split, "num_bytes": _shard_bytes(out, task, split), "num_examples": counts[task]}],
            }
            for task in spec.tasks
        ],
    }


def render_card(
    spec: Spec, generator, shard_stats: dict[str, list[dict]], out: Path, audit: str = "", changes: str = ""
) -> str:
    split = generator.split
    front = front_matter(spec, generator, shard_stats, out)
    text = SHARED.render(
        "card.md.j2",
        spec=spec,
        split=split,
        paper=generator.paper,
        front_matter=yaml.safe_dump(front, sort_keys=False).rstrip(),
        configs=[_config_row(task, spec, shard_stats.get(task, [])) for task in spec.tasks],
        depths=", ".join(f"{d:g}" for d in spec.depths),
        rebuild=rebuild_command(spec, "OUTPUT_DIR"),
        tolerance=(
            f"{spec.length_tolerance} tokens"
            if spec.length_tolerance is not None
            else "max(16, 0.2% of the target) tokens"
        ),
        resolved=yaml.safe_dump(spec.to_dict(), sort_keys=True).rstrip(),
        effort=_effort([s for task in spec.tasks for s in shard_stats.get(task, [])]),
        notes=generator.card_notes(
            [facts for task in spec.tasks for s in shard_stats.get(task, []) for facts in s.get("family", [])]
        ),
        audit=audit,
        changes=changes,
        canary=spec.canary() if split == "test" else "",
    )
    return text + "\n"


__all__ = ["audit_markdown", "rebuild_command", "render_card"]
