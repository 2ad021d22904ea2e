"""The dataset card: Hub YAML front matter (`configs:`) plus a human summary."""

from __future__ import annotations

import shlex
import statistics
from pathlib import Path

import yaml

from ..spec import Spec


def rebuild_command(spec: Spec, out: Path | str) -> str:
    """The one CLI command that rebuilds this dataset from scratch."""
    args = ["longsynth", "build", "--generator", spec.generator, "--task", ",".join(spec.tasks)]
    args += ["--lengths", ",".join(str(n) for n in spec.lengths)]
    if spec.depths:
        args += ["--depths", ",".join(f"{d:g}" for d in spec.depths)]
    args += ["--samples", str(spec.samples), "--seed", str(spec.seed), "--tokenizer", spec.tokenizer]
    defaults = Spec()
    for name in ("length_tolerance", "max_attempts", "rows_per_shard", "template_dir", "version", "license"):
        value = getattr(spec, name)
        if value != getattr(defaults, name):
            args += ["--set", f"{name}={value}"]
    for name, value in spec.options.items():
        args += ["--set", f"{name}={value}"]
    for fmt in spec.formats:
        if fmt != "parquet":
            args += ["--format", fmt]
    args += ["-o", str(out)]
    return " ".join(shlex.quote(a) for a in args)


def render_card(spec: Spec, generator, shard_stats: dict[str, list[dict]], out: Path) -> str:
    split = generator.split
    front = {
        "license": spec.license,
        "tags": ["longsynth", "synthetic", "long-context", spec.generator],
        "configs": [
            {"config_name": task, "data_files": [{"split": split, "path": f"{task}/{split}-*.parquet"}]}
            for task in spec.tasks
        ],
    }
    lines = ["---", yaml.safe_dump(front, sort_keys=False).rstrip(), "---", ""]
    lines += [f"# {spec.generator} long-context dataset (version {spec.version})", ""]
    lines += [
        f"Built by longsynth with the `{spec.generator}` generator. Every row's `length` was counted with the "
        f"`{spec.tokenizer}` tokenizer and every answer was re-derived from the text before the row was written.",
        "",
        "| config | rows | target lengths | length range | median length | dropped |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for task in spec.tasks:
        stats = shard_stats.get(task, [])
        rows = sum(s["rows"] for s in stats)
        lengths = sorted(n for s in stats for n in s.get("lengths", []))
        span = f"{lengths[0]}-{lengths[-1]}" if lengths else "-"
        median = statistics.median(lengths) if lengths else "-"
        dropped = sum(s.get("dropped", 0) for s in stats)
        lines.append(
            f"| {task} | {rows} | {', '.join(map(str, spec.lengths))} | {span} | {median:g} | {dropped} |"
            if lengths
            else f"| {task} | {rows} | {', '.join(map(str, spec.lengths))} | - | - | {dropped} |"
        )
    lines += [""]
    if spec.depths:
        lines += [
            f"Depths (percent of context tokens before the needle): {', '.join(f'{d:g}' for d in spec.depths)}",
            "",
        ]
    lines += [
        f"- Version: {spec.version}; license: {spec.license}",
        f"- Tokenizer: `{spec.tokenizer}`",
        f"- Seed: {spec.seed}; samples per cell: {spec.samples}",
        f"- Split: `{split}`",
    ]
    if generator.paper:
        lines += [f"- Method (please cite): {generator.paper}"]
    lines += [
        "",
        "Load it:",
        "",
        "```python",
        "import datasets",
        f'ds = datasets.load_dataset("<this folder or repo>", "{spec.tasks[0]}", split="{split}")',
        "```",
        "",
        "Rebuild it byte for byte:",
        "",
        "```",
        rebuild_command(spec, "OUTPUT_DIR"),
        "```",
        "",
        "Resolved spec:",
        "",
        "```yaml",
        yaml.safe_dump(spec.to_dict(), sort_keys=True).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)
