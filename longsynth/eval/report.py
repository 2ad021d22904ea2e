"""`longsynth report`: one self-contained HTML page of a dataset's scores, for one model or several.

Per task: the depth x target-length heatmap of the needle-in-a-haystack test, with each cell's
score written in it, one per model on one colour scale (0 to 1); the score-by-length curve of every
model; and a table of each cell's score, 95% interval, row count and missing predictions.

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
from ..outputs import OutputFolder
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
    run_file = Path(pred) / RUN
    if run_file.is_file():
        try:
            return str(json.loads(run_file.read_text(encoding="utf-8"))["model"])
        except (OSError, ValueError, KeyError, TypeError):  # not a run record (a list, a number, ...)
            pass
    return Path(pred).stem


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


def task_figure(task: str, runs: list[tuple[str, dict[str, Any]]]) -> Any:
    """Heatmaps side by side (one per model, one colour scale) and the score-by-length curves (a
    matplotlib Figure, made without pyplot: no display, no global state)."""
    from matplotlib.figure import Figure  # imported when a report is drawn, not with the CLI

    figure = Figure(figsize=(4.6 * (len(runs) + 1), 3.8), layout="constrained")
    axes = figure.subplots(1, len(runs) + 1, squeeze=False)
    image = None
    for ax, (name, summary) in zip(axes[0], runs, strict=False):
        cells = [c for c in summary["cells"] if c["task"] == task]
        depths, lengths, grid = _grid(cells)
        image = ax.imshow(grid, cmap=COLOURS, vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(lengths)), [_length_label(n) for n in lengths])
        ax.set_yticks(range(len(depths)), ["-" if d is None else f"{d:g}%" for d in depths])
        ax.set_xlabel("target length (tokens)")
        ax.set_ylabel("depth")
        ax.set_title(_plain(name), fontsize=10)
        for (i, j), value in np.ndenumerate(grid):
            if not np.isnan(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="black")
    if image is not None:
        figure.colorbar(image, ax=axes[0][: len(runs)].tolist(), fraction=0.04, label="score")
    curve = axes[0][-1]
    for name, summary in runs:
        cells = [c for c in summary["cells"] if c["task"] == task]
        lengths = sorted({c["target_length"] for c in cells})
        means = [
            sum(c["score"] * c["n"] for c in cells if c["target_length"] == n)
            / max(1, sum(c["n"] for c in cells if c["target_length"] == n))
            for n in lengths
        ]
        curve.plot(range(len(lengths)), means, marker="o", label=_plain(name))
        curve.set_xticks(range(len(lengths)), [_length_label(n) for n in lengths])
    curve.set_ylim(-0.02, 1.02)
    curve.set_xlabel("target length (tokens)")
    curve.set_ylabel("mean score")
    curve.set_title("score by length", fontsize=10)
    curve.legend(fontsize=8)
    figure.suptitle(_plain(task))
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
    return f"<table>{head}{''.join(body)}</table>"


STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
section { margin-bottom: 3em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th { background: #f2f2f2; }
.overall td, .overall th { text-align: left; }
svg { max-width: 100%; height: auto; }
"""


def build_report(directory: Path, preds: list[Path], out: Path, png: Path | None = None) -> list[str]:
    """Write the HTML report (and PNGs); return the tasks shown."""
    out = Path(out)
    page_folder = OutputFolder(out.parent, "the report's folder")
    pngs = OutputFolder(png, "the PNG folder") if png is not None else None
    runs = []
    names = [model_name(Path(pred)) for pred in preds]
    for pred, name in zip(preds, names, strict=True):
        summary = summarize(score_rows(Path(directory), read_predictions(Path(pred))))
        # Two runs of one model are told apart by their folders.
        runs.append((f"{name} ({Path(pred).name})" if names.count(name) > 1 else name, summary))
    tasks = list(runs[0][1]["tasks"])
    overall = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{s['overall']:.3f}</td><td>{_number(s.get('anchor', {}).get('overall'))}"
        f"</td><td>{s['rows']}</td><td>{s['missing']}</td></tr>"
        for name, s in runs
    )
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
        sections.append(
            f'<section id="{html.escape(task)}"><h2>{html.escape(task)}</h2>'
            f'<div class="figure">{_svg(figure)}</div>{_table(task, runs)}</section>'
        )
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>longsynth report: {html.escape(Path(directory).name)}</title><style>{STYLE}</style></head><body>"
        f"<h1>longsynth report</h1><p>Dataset <code>{html.escape(str(directory))}</code>.</p>"
        '<table class="overall"><tr><th>model</th><th>overall</th><th>anchor\'s metric</th><th>rows</th>'
        "<th>missing</th></tr>"
        f"{overall}</table>{apart}{''.join(sections)}</body></html>\n"
    )
    page_folder.write(out.name, page.encode("utf-8"))
    return tasks
