"""`longsynth report`: one self-contained HTML page of a dataset's scores, for one model or several.

It opens with what a paper reports: per model, RULER's summary table (task x length, the mean of the
task means per length, the overall mean), our score and the anchor's; the effective context length
as RULER defines it (the longest length whose mean is at or above a threshold, RULER's Llama-2-7B
baseline of 85.6 by default); with two or more models, the paired bootstrap difference of each to
the first; run information; and the audit table when one is given. Then per task: the depth x
target-length heatmap of each model (the task's mean in its title, each cell's score written in a
colour that contrasts with the cell), or for a task without a depth grid the score-by-length line
alone; and each cell's score, interval, count and missing predictions, folded in `<details>`.

Figures are drawn with matplotlib and embedded as inline SVG (text kept as text, so the scores are
in the page's DOM); the page has no script, no stylesheet link and no image address, so opening it
makes no network request. `--png DIR` also writes one PNG per task (for papers).
"""

from __future__ import annotations

import html
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import cache_dir
from ..dataset import open_dataset
from ..errors import LongsynthError, SpecError
from ..export.card import audit_markdown
from ..inputs import read_text
from ..outputs import OutputFolder
from ..version import __version__
from .run import RUN
from .score import read_predictions, score_rows, summarize

# matplotlib keeps a font cache in MPLCONFIGDIR (else ~/.cache/matplotlib, outside the output folder and
# our cache): point it into our cache unless the user chose a folder. Set before matplotlib is imported.
os.environ.setdefault("MPLCONFIGDIR", str(cache_dir("matplotlib")))
COLOURS = "RdYlGn"
# SVG text stays text (the DOM holds every number shown); element ids are stable (same scores, same page).
SVG_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "longsynth"}


def model_name(pred: Path) -> str:
    """The model a prediction folder's run.json names, else the folder's (or file's) name."""
    model = _run_record(Path(pred)).get("model")
    return str(model) if model is not None else Path(pred).stem


def _run_record(pred: Path) -> dict[str, Any]:
    """A predictions folder's run.json through the input door (a regular, bounded UTF-8 file), or {}
    where there is none or it is not a run record (a list, a number, not JSON)."""
    run_file = Path(pred) / RUN
    if not run_file.is_file():
        return {}
    try:
        loaded = json.loads(read_text(run_file, "run record", limit=1024 * 1024))
    except (LongsynthError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _plain(text: str, most: int = 80) -> str:
    """A name as matplotlib should draw it: `$` is not the start of mathtext (a model named `gpt$\\foo$`
    crashed the report), and one line of at most `most` characters."""
    line = " ".join(str(text).split())
    return (line[: most - 1] + "…" if len(line) > most else line).replace("$", r"\$")


def _grid(cells: list[dict[str, Any]]) -> tuple[list[float | None], list[int], np.ndarray]:
    depths = sorted({c["depth"] for c in cells}, key=lambda d: -1.0 if d is None else d)
    lengths = sorted({c["target_length"] for c in cells})
    grid = np.full((len(depths), len(lengths)), np.nan)
    for c in cells:
        grid[depths.index(c["depth"]), lengths.index(c["target_length"])] = c["score"]
    return depths, lengths, grid


def _length_label(n: int) -> str:
    return f"{n // 1024}K" if n % 1024 == 0 else str(n)


def _has_depth(cells: list[dict[str, Any]]) -> bool:
    return any(c["depth"] is not None for c in cells)


def _cell_colour(value: float) -> str:
    """Text that reads on its cell: white on the colour map's dark ends, black in its light middle."""
    return "white" if value < 0.25 or value > 0.8 else "black"


def _length_means(cells: list[dict[str, Any]]) -> tuple[list[int], list[float]]:
    lengths = sorted({c["target_length"] for c in cells})
    means = [
        sum(c["score"] * c["n"] for c in cells if c["target_length"] == n)
        / max(1, sum(c["n"] for c in cells if c["target_length"] == n))
        for n in lengths
    ]
    return lengths, means


def task_figure(task: str, runs: list[tuple[str, dict[str, Any]]]) -> Any:
    """Heatmaps side by side (one per model, one colour scale, the task's mean in each title) and the
    score-by-length curves; a task with no depth grid gets the curves alone (a one-row "depth" map says
    nothing). A matplotlib Figure, made without pyplot: no display, no global state."""
    from matplotlib.figure import Figure  # imported when a report is drawn, not with the CLI

    depth_grid = _has_depth([c for _, summary in runs for c in summary["cells"] if c["task"] == task])
    maps = len(runs) if depth_grid else 0
    figure = Figure(figsize=(6.4 * (maps + 1), 4.8), layout="constrained")
    axes = figure.subplots(1, maps + 1, squeeze=False)
    image = None
    for ax, (name, summary) in zip(axes[0][:maps], runs, strict=False):
        cells = [c for c in summary["cells"] if c["task"] == task]
        depths, lengths, grid = _grid(cells)
        image = ax.imshow(grid, cmap=COLOURS, vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(lengths)), [_length_label(n) for n in lengths], fontsize=11)
        ax.set_yticks(range(len(depths)), ["-" if d is None else f"{d:g}%" for d in depths], fontsize=11)
        ax.set_xlabel("target length (tokens)", fontsize=11)
        ax.set_ylabel("depth", fontsize=11)
        ax.set_title(f"{_plain(name)}: mean {summary['tasks'][task]:.3f}", fontsize=12)
        for (i, j), value in np.ndenumerate(grid):
            if not np.isnan(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=11, color=_cell_colour(value))
    if image is not None:
        figure.colorbar(image, ax=axes[0][:maps].tolist(), fraction=0.04, label="score")
    curve = axes[0][-1]
    for name, summary in runs:
        lengths, means = _length_means([c for c in summary["cells"] if c["task"] == task])
        label = f"{_plain(name)} (mean {summary['tasks'][task]:.3f})"
        curve.plot(range(len(lengths)), means, marker="o", label=label)
        curve.set_xticks(range(len(lengths)), [_length_label(n) for n in lengths], fontsize=11)
    curve.set_ylim(-0.02, 1.02)
    curve.set_xlabel("target length (tokens)", fontsize=11)
    curve.set_ylabel("mean score", fontsize=11)
    curve.set_title("score by length", fontsize=12)
    curve.legend(fontsize=10)
    figure.suptitle(_plain(task), fontsize=14)
    return figure


def _svg(figure: Any) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context(SVG_STYLE):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML prolog or doctype


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table(task: str, runs: list[tuple[str, dict[str, Any]]]) -> str:
    columns = ("model", "length", "depth", "n", "score", "95% interval", "anchor's metric", "missing")
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>"
    body = []
    for name, summary in runs:
        for c in (c for c in summary["cells"] if c["task"] == task):
            depth = "-" if c["depth"] is None else f"{c['depth']:g}%"
            anchor = "-" if c.get("anchor_score") is None else f"{c['anchor_score']:.3f}"
            body.append(
                f"<tr><td>{html.escape(name)}</td><td>{c['target_length']}</td><td>{depth}</td><td>{c['n']}</td>"
                f"<td>{c['score']:.3f}</td><td>{c['ci_low']:.3f} to {c['ci_high']:.3f}</td><td>{anchor}</td>"
                f"<td>{c['missing']}</td></tr>"
            )
    rows = sum(1 for _, summary in runs for c in summary["cells"] if c["task"] == task)
    return f"<details><summary>Per-cell scores ({rows} cells)</summary><table>{head}{''.join(body)}</table></details>"


RULER_BASELINE = 0.856  # RULER's Llama-2-7B score at 4K: its threshold for the effective context length


def length_table(summary: dict[str, Any], key: str = "score") -> tuple[list[int], dict[str, list[float | None]]]:
    """RULER's summary table for one model: per task, its mean at each length (`key`: our score, or
    "anchor_score"); the lengths."""
    lengths = sorted({c["target_length"] for c in summary["cells"]})
    table: dict[str, list[float | None]] = {}
    for task in summary["tasks"]:
        row: list[float | None] = []
        for n in lengths:
            cells = [c for c in summary["cells"] if c["task"] == task and c["target_length"] == n]
            values = [(c[key], c["n"]) for c in cells if c.get(key) is not None]
            total = sum(count for _, count in values)
            row.append(sum(v * count for v, count in values) / total if total else None)
        if any(v is not None for v in row):
            table[task] = row
    return lengths, table


def length_means(table: dict[str, list[float | None]], lengths: list[int]) -> list[float | None]:
    """The mean of the task means at each length (RULER's "Avg." row)."""
    out: list[float | None] = []
    for j in range(len(lengths)):
        values = [row[j] for row in table.values() if row[j] is not None]
        out.append(float(np.mean(values)) if values else None)
    return out


def effective_length(lengths: list[int], means: list[float | None], threshold: float) -> int | None:
    """RULER's effective context length: the longest length whose mean over tasks is at or above the
    threshold (None when no length reaches it)."""
    passing = [n for n, mean in zip(lengths, means, strict=True) if mean is not None and mean >= threshold]
    return max(passing) if passing else None


def _models_html(runs: list[tuple[str, dict[str, Any]]], threshold: float) -> str:
    """RULER's headline table: one row per model, its mean of tasks at each length, the overall mean, the
    effective context length, and the anchors' overall."""
    lengths = sorted({c["target_length"] for _, s in runs for c in s["cells"]})
    head = "".join(f"<th>{_length_label(n)}</th>" for n in lengths)
    rows = []
    for name, summary in runs:
        own_lengths, table = length_table(summary)
        means = dict(zip(own_lengths, length_means(table, own_lengths), strict=True))
        effective = effective_length(own_lengths, [means[n] for n in own_lengths], threshold)
        cells = "".join(f"<td>{_number(means.get(n))}</td>" for n in lengths)
        rows.append(
            f"<tr><th>{html.escape(name)}</th>{cells}<td><b>{summary['overall']:.3f}</b></td>"
            f"<td class='effective'>{_length_label(effective) if effective is not None else 'none'}</td>"
            f"<td>{_number(summary.get('anchor', {}).get('overall'))}</td></tr>"
        )
    return (
        "<table class='models'><tr><th>model</th>"
        f"{head}<th>overall</th><th>effective length</th><th>anchors' overall</th></tr>{''.join(rows)}</table>"
        f"<p>Each length's score is the mean of the task means at that length; overall is the mean of the task "
        f"means (RULER's convention). Effective context length: the longest length whose score is at or above "
        f"{threshold:.3f} (RULER's Llama-2-7B baseline by default; `--threshold`).</p>"
    )


def _summary_html(name: str, summary: dict[str, Any]) -> str:
    """One model's task x length table (ours, with the anchor's overall per task beside it), and the
    anchor's own task x length table folded."""
    lengths, table = length_table(summary)
    means = length_means(table, lengths)
    _, anchors = length_table(summary, "anchor_score")
    head = "".join(f"<th>{_length_label(n)}</th>" for n in lengths)
    rows = [
        f"<tr><th>{html.escape(task)}</th>{''.join(f'<td>{_number(v)}</td>' for v in values)}"
        f"<td><b>{summary['tasks'][task]:.3f}</b></td><td class='anchor'>"
        f"{_number(summary.get('anchor', {}).get('tasks', {}).get(task))}</td></tr>"
        for task, values in table.items()
    ]
    mean_cells = "".join(f"<td><b>{_number(v)}</b></td>" for v in means)
    rows.append(
        f"<tr class='mean'><th>mean of tasks</th>{mean_cells}<td><b>{summary['overall']:.3f}</b></td><td></td></tr>"
    )
    anchor_rows = "".join(
        f"<tr><th>{html.escape(task)}</th>{''.join(f'<td>{_number(v)}</td>' for v in values)}</tr>"
        for task, values in anchors.items()
    )
    folded = (
        f"<details><summary>The anchors' metrics by length ({html.escape(name)})</summary>"
        f"<table class='summary anchor'><tr><th>task</th>{head}</tr>{anchor_rows}</table></details>"
        if anchors
        else ""
    )
    return (
        f"<div class='model'><h3>{html.escape(name)}</h3>"
        f"<table class='summary'><tr><th>task</th>{head}<th>all</th><th>anchor's</th></tr>{''.join(rows)}</table>"
        f"{folded}</div>"
    )


def paired_difference(a: Any, b: Any, draws: int = 2000) -> dict[str, tuple[float, float, float]]:
    """Model b minus model a on the rows both were scored on: per task and overall (the mean of task
    means, as `overall` is), each (difference, 95% low, 95% high) from a seeded paired bootstrap that
    resamples rows within each task."""
    import polars as pl

    joined = a.select("id", "task", "score").join(b.select("id", pl.col("score").alias("other")), on="id")
    rng = np.random.default_rng(0)
    out: dict[str, tuple[float, float, float]] = {}
    per_task_draws = []
    for (task,), group in joined.group_by(["task"], maintain_order=True):
        diff = (group["other"] - group["score"]).to_numpy()
        picks = rng.integers(0, len(diff), size=(draws, len(diff)))
        means = diff[picks].mean(axis=1)
        per_task_draws.append(means)
        out[task] = (float(diff.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)))
    if per_task_draws:
        overall = np.mean(per_task_draws, axis=0)
        point = float(np.mean([v[0] for v in out.values()]))
        out["overall"] = (point, float(np.quantile(overall, 0.025)), float(np.quantile(overall, 0.975)))
    return out


def _differences_html(runs: list[tuple[str, dict[str, Any]]], frames: list[Any]) -> str:
    if len(runs) < 2:
        return ""
    parts = []
    base = runs[0][0]
    for (name, _), frame in zip(runs[1:], frames[1:], strict=True):
        diff = paired_difference(frames[0], frame)
        rows = "".join(
            f"<tr><th>{html.escape(task)}</th><td>{d:+.3f}</td><td>{lo:+.3f} to {hi:+.3f}</td>"
            f"<td>{'yes' if lo > 0 or hi < 0 else 'no'}</td></tr>"
            for task, (d, lo, hi) in diff.items()
        )
        parts.append(
            f"<h3>{html.escape(name)} minus {html.escape(base)}</h3><table class='diff'><tr><th>task</th>"
            "<th>difference</th><th>95% interval (paired bootstrap)</th><th>interval excludes 0</th></tr>"
            f"{rows}</table>"
        )
    return "<h2 id='differences'>Differences between models</h2>" + "".join(parts)


def _host(endpoint: Any) -> str:
    from urllib.parse import urlsplit

    try:
        return urlsplit(str(endpoint)).hostname or "-"
    except ValueError:
        return "-"


def _run_info_html(directory: Path, preds: list[Path], names: list[str]) -> str:
    dataset = open_dataset(directory, evaluation=True)
    spec = dataset.spec()
    rows = []
    for pred, name in zip(preds, names, strict=True):
        run = _run_record(Path(pred))
        rows.append(
            f"<tr><th>{html.escape(name)}</th><td>{html.escape(str(run.get('model', '-')))}</td>"
            f"<td>{html.escape(_host(run.get('endpoint', '')))}</td><td>{html.escape(str(run.get('date', '-')))}</td>"
            f"<td>{html.escape(str(run.get('longsynth_version', '-')))}</td></tr>"
        )
    return (
        "<h2 id='run-information'>Run information</h2>"
        f"<p>Dataset <code>{html.escape(str(directory))}</code>: generator {html.escape(spec.generator)}, "
        f"tokenizer <code>{html.escape(spec.tokenizer)}</code>, {spec.samples} samples per cell, seed {spec.seed}, "
        f"fingerprint <code>{spec.fingerprint()[:16]}</code>, "
        f"manifest sha256 <code>{dataset.manifest_sha256[:16]}</code>. "
        f"Report by longsynth {html.escape(__version__)}.</p>"
        "<table class='overall'><tr><th>predictions</th><th>model</th><th>endpoint host</th><th>date</th>"
        f"<th>run by longsynth</th></tr>{''.join(rows)}</table>"
    )


_AUDIT_CELL = {"score": (int, float), "n": int, "ci_low": (int, float), "ci_high": (int, float), "flagged": bool}


def read_audit(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """An audit.json through the input door, checked to have the shape `longsynth audit` writes (task ->
    baseline -> {score, n, ci_low, ci_high, flagged, reason}); anything else is one line."""
    bad = SpecError(f"{str(path)!r} is not an audit.json written by `longsynth audit -o`")
    try:
        result = json.loads(read_text(path, "audit file", limit=16 * 1024 * 1024))
    except json.JSONDecodeError:
        raise bad from None
    if not isinstance(result, dict):
        raise bad
    for found in result.values():
        if not isinstance(found, dict):
            raise bad
        for cell in found.values():
            if not isinstance(cell, dict) or not isinstance(cell.get("reason"), str):
                raise bad
            if any(not isinstance(cell.get(key), kind) for key, kind in _AUDIT_CELL.items()):
                raise bad
    return result


def _audit_html(audit: Path | None, result: dict[str, dict[str, dict[str, Any]]] | None) -> str:
    if audit is None or result is None:
        return ""
    lines = [line for line in audit_markdown(result).splitlines() if line.startswith("| ") and "---" not in line]
    cells = ["".join(f"<td>{html.escape(c.strip())}</td>" for c in line.strip("|").split("|")) for line in lines[1:]]
    head = "".join(f"<th>{html.escape(c.strip())}</th>" for c in lines[0].strip("|").split("|")) if lines else ""
    body = "".join(f"<tr>{c}</tr>" for c in cells)
    flagged = sum(cell["flagged"] for found in result.values() for cell in found.values())
    return (
        "<h2 id='audit'>Audit: model-free baselines</h2>"
        f"<p>From <code>{html.escape(str(audit))}</code> (`longsynth audit`): {flagged} flagged.</p>"
        f"<details><summary>Baselines that scored or are declared ({len(cells)})</summary>"
        f"<table class='overall'>{head}{body}</table></details>"
    )


STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1600px; }
section { margin-bottom: 3em; }
table { border-collapse: collapse; font-size: 0.9em; margin-bottom: 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: right; }
th { background: #f2f2f2; text-align: left; }
.overall td, .overall th { text-align: left; }
tr.mean td, tr.mean th { border-top: 2px solid #888; }
nav ul { columns: 3; }
.models-side { display: flex; flex-wrap: wrap; gap: 2em; }
td.anchor { color: #666; }
td.effective { font-weight: bold; }
details { margin: 0.5em 0 1em; }
svg { width: 100%; height: auto; }
"""


def build_report(
    directory: Path,
    preds: list[Path],
    out: Path,
    png: Path | None = None,
    threshold: float = RULER_BASELINE,
    audit: Path | None = None,
) -> list[str]:
    """Write the HTML report (and PNGs); return the tasks shown."""
    out = Path(out)
    audit_result = read_audit(audit) if audit is not None else None  # a bad file fails before any work
    page_folder = OutputFolder(out.parent, "the report's folder")
    pngs = OutputFolder(png, "the PNG folder") if png is not None else None
    runs, frames = [], []
    names = [model_name(Path(pred)) for pred in preds]
    shown = []
    for pred, name in zip(preds, names, strict=True):
        frame = score_rows(Path(directory), read_predictions(Path(pred)))
        # Two runs of one model are told apart by their folders.
        shown.append(f"{name} ({Path(pred).name})" if names.count(name) > 1 else name)
        runs.append((shown[-1], summarize(frame)))
        frames.append(frame)
    tasks = list(runs[0][1]["tasks"])
    apart = "".join(
        f"<p>{html.escape(name)}, {html.escape(task)}: {html.escape(extra['name'])} {_number(extra['mean'])} "
        "(reported apart by the anchor).</p>"
        for name, s in runs
        for task, extra in s.get("anchor", {}).get("extra", {}).items()
    )
    sections = []
    for task in tasks:
        figure = task_figure(task, runs)
        if pngs is not None:
            drawn = io.BytesIO()
            figure.savefig(drawn, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
            pngs.write(f"{task}.png", drawn.getvalue())
        means = ", ".join(f"{html.escape(name)} {s['tasks'][task]:.3f}" for name, s in runs)
        sections.append(
            f'<section id="{html.escape(task)}"><h2>{html.escape(task)}</h2><p>Mean: {means}.</p>'
            f'<div class="figure">{_svg(figure)}</div>{_table(task, runs)}</section>'
        )
    contents = [("summary", "Summary"), ("run-information", "Run information")]
    if len(runs) > 1:
        contents.append(("differences", "Differences between models"))
    if audit is not None:
        contents.append(("audit", "Audit"))
    contents += [(task, task) for task in tasks]
    nav = "".join(f'<li><a href="#{html.escape(anchor)}">{html.escape(label)}</a></li>' for anchor, label in contents)
    summaries = _models_html(runs, threshold) + (
        "<div class='models-side'>" + "".join(_summary_html(name, s) for name, s in runs) + "</div>"
    )
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>longsynth report: {html.escape(Path(directory).name)}</title><style>{STYLE}</style></head><body>"
        f"<h1>longsynth report</h1><nav><h2>Contents</h2><ul>{nav}</ul></nav>"
        f"<h2 id='summary'>Summary</h2><p>Scores are ours (the strict scoring policy); \"anchor's\" columns are the "
        f"anchors' own metrics on the same replies (RULER's, NeedleBench's, ...).</p>{summaries}{apart}"
        f"{_run_info_html(Path(directory), [Path(p) for p in preds], shown)}"
        f"{_differences_html(runs, frames)}{_audit_html(audit, audit_result)}{''.join(sections)}</body></html>\n"
    )
    page_folder.write(out.name, page.encode("utf-8"))
    return tasks
