"""The `longsynth` command line: list, build, validate, inspect.

User mistakes print one line `error: ...` on stderr and exit 2 (`--debug`
shows the traceback). `validate` exits 1 when any row fails.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import json
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import click

from .compare import changes_markdown, compare
from .dataset import open_dataset
from .errors import CorpusError, LongsynthError, SpecError
from .eval.audit import audit as run_audit
from .eval.audit import flagged as audit_flagged
from .eval.audit import table as audit_table
from .eval.report import RULER_BASELINE, build_report
from .eval.run import RunSettings
from .eval.run import run as run_predictions
from .eval.score import score_run
from .eval.score import table as score_table
from .export.card import audit_markdown
from .export.hub import plan_upload
from .export.hub import push as run_push
from .export.lm_eval import export_lm_eval
from .export.manifest import read_manifest
from .export.ruler import export_ruler
from .export.writer import add_card_sections
from .generators.options import options_of
from .generators.registry import REGISTRY
from .inspect import load_row, render_row, validate_directory
from .outputs import OutputFolder
from .pipeline import build as run_build
from .pipeline import make_generator, plan
from .spec import Spec, load_spec, parse_set
from .suites import describe, load_suite, suite_names
from .terminal import printable
from .tokenizers import BLANK_RUN_LIMIT


def one_line(text: str) -> str:
    """A message on one line (library messages can span several: polars hints, DuckDB carets), safe to
    print (it may quote someone else's input: `terminal.printable`)."""
    return printable(" ".join(str(text).split()))


def _friendly(func):
    """Turn LongsynthError into one line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        debug = kwargs.pop("debug", False) or (click.get_current_context().obj or {}).get("debug", False)
        try:
            return func(*args, **kwargs)
        except LongsynthError as exc:
            if debug:
                raise
            click.echo(f"error: {one_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted; run the same command again to finish the missing shards", err=True)
            sys.exit(130)
        except OSError as exc:
            if debug or exc.errno not in STORAGE_ERRORS:
                raise
            where = f" ({exc.filename})" if exc.filename else ""
            click.echo(
                f"error: {exc.strerror}{where}; free space or fix the folder's permissions, then run the same "
                "command again",
                err=True,
            )
            sys.exit(2)

    return wrapper


# A full disk, a quota, a read-only folder, no permission: the machine's state, not a bug, so one
# line. (`build` names its output folder itself; run, score, report and export end up here.)
STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}


_debug_option = click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")


class OneLineErrors(click.Group):
    """Click's usage errors (a bad flag value, a missing argument, an unknown command) as one
    `error:` line and exit code 2, like every other user mistake, instead of click's usage block."""

    def main(self, *args: Any, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **extra)
        try:
            result = super().main(*args, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `longsynth`: the help, as usual
            exc.show()
            sys.exit(0)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "longsynth"
            click.echo(f"error: {one_line(exc.format_message())} (see `{command} --help`)", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(f"error: {one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="longsynth")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Build synthetic long-context datasets: token-exact, answerable, reproducible.

    \b
    Quick start:
      longsynth list                                   what can be built
      longsynth build -o outputs/quickstart            a small needle set on defaults
      longsynth build --task niah_single_1,niah_multikey_1 --lengths 4k,16k \\
                      --depths 0,50,100 --samples 5 -o outputs/niah
      longsynth validate outputs/niah                  re-check every row
      longsynth build --suite ruler --lengths 4k,16k --samples 2 -o outputs/ruler
                                                       RULER's 13 tasks
      longsynth inspect outputs/niah --task niah_single_1 --index 0
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command("list")
@_debug_option
@_friendly
def list_cmd() -> None:
    """Generators, their tasks and the options `--set` accepts."""
    for name, gen in REGISTRY.all().items():
        click.echo(
            click.style(f"{name}", bold=True) + f"  (split: {gen.split}; depth: {'yes' if gen.uses_depth else 'no'})"
        )
        if gen.paper:
            click.echo(textwrap.fill(gen.paper, 96, initial_indent="  paper: ", subsequent_indent="    "))
        click.echo("  tasks:")
        for task_name, task in gen.tasks.items():
            default = " (default)" if task_name in gen.default_tasks else ""
            click.echo(f"    {task_name:<18} {task.help}{default}")
            if task.preset:
                click.echo(f"    {'':<18} {', '.join(f'{k}={v}' for k, v in task.preset.items())}")
        click.echo("  options (--set NAME=VALUE):")
        for opt_name, info in options_of(gen.Options).items():
            click.echo(f"    {opt_name:<18} {info.describe()}")
    click.echo("\nsuites (longsynth build --suite NAME):")
    for suite in suite_names():
        click.echo(f"    {suite:<18} {describe(suite)}")
    click.echo("\ncommon spec fields (YAML, or --set NAME=VALUE):")
    defaults = Spec()
    for field in dataclasses.fields(Spec):
        flag = f" ({field.metadata['flag']})" if field.metadata.get("flag") else ""
        default = getattr(defaults, field.name)
        shown = f"; default {default!r}" if default not in ([], {}, None) else ""
        click.echo(f"    {field.name:<18} {field.metadata['help']}{flag}{shown}")


def _build_summary(manifest: dict[str, Any], out: Path) -> str:
    """What a finished build wrote, and the draws it retried (each retry is a fresh seed, not a failure)."""
    shards = [s for stats in manifest.get("shards", {}).values() for s in stats]
    rows = sum(s.get("rows", 0) for s in shards)
    unfit, invalid = (sum(s.get(key, 0) for s in shards) for key in ("unfit", "invalid"))
    line = f"wrote {_count(rows, 'row')} to {out}"
    if unfit or invalid:
        line += (
            f" ({unfit + invalid} draws retried: {unfit} could not be fitted, {invalid} refused by a validator "
            "or the tokenizer)"
        )
    dropped = sum(manifest.get("dropped", {}).values())
    if dropped and not rows:  # a build that made nothing is an error, whatever the cause
        raise CorpusError(
            f"every sample was dropped ({dropped}): the corpus could not fill one to its length; use a larger "
            "corpus, chunks of a few hundred tokens (chunk_size, chunk_tokens: tiny chunks, or chunks near a "
            "document's whole share of the length, leave samples short), or another length; a document with "
            f"{BLANK_RUN_LIMIT:,} whitespace characters in a row is never a source"
        )
    if dropped:
        line += (
            f"; {_count(dropped, 'sample')} dropped (the corpus could not fill them to their length, or their "
            f"source held {BLANK_RUN_LIMIT:,} whitespace characters in a row)"
        )
    return line


@cli.command()
@click.argument("spec_file", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--suite",
    help="A named suite (see `longsynth list`; ruler: RULER's 13 tasks) or a suite .yaml; flags override it.",
)
@click.option("--generator", help="Generator family (see `longsynth list`). Default: needle.")
@click.option("--task", "tasks", help="Task name(s), comma separated. Default: the generator's default task.")
@click.option("--lengths", help="Target lengths in tokens, comma separated; 4k = 4096. Default: 4k.")
@click.option("--depths", help="Depths in percent: 0,50,100 or linspace:0,100,11 or sigmoid:0,100,10.")
@click.option("--samples", type=int, help="Samples per (task, length, depth) cell. Default: 2.")
@click.option("--seed", type=int, help="Build seed; same spec and seed give byte-identical files. Default: 0.")
@click.option("--tokenizer", help="cl100k_base (default), o200k_base, or hf:<local path or hub id>.")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set any spec field or option; repeatable. A flag (--samples 5) wins over the same field here "
    "(--set samples=9), and both over SPEC_FILE.",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["parquet", "jsonl"]),
    help="Also write RULER-style jsonl with --format jsonl (Parquet is always written).",
)
@click.option("--template-dir", type=click.Path(file_okay=False), help="Folder of .j2 templates overriding ours.")
@click.option(
    "-o",
    "--output",
    default="outputs/longsynth",
    show_default=True,
    type=click.Path(),
    help="Output folder (Hub layout: README.md, manifest.json, <task>/test-*.parquet).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace the longsynth build in the folder, the same spec's too (rebuilt from scratch); without it "
    "the same spec resumes and another is refused.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    default=1,
    show_default=True,
    help="Shards built in parallel: Ray tasks (at most 1024), or local processes (at most one per core); "
    "the output bytes do not change.",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where shards run: local processes, or Ray (pip install 'longsynth[ray]').",
)
@click.option(
    "--ray-address",
    help="Ray cluster address (default: $RAY_ADDRESS, else a private local Ray instance, never one running here).",
)
@click.option(
    "--shared-cache",
    is_flag=True,
    help="With --backend ray: every node sees the cache folder ($LONGSYNTH_CACHE) at the same path (a "
    "shared filesystem), so a corpus index is built there, in parts, and read in place instead of sent "
    "through Ray's object store.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 16),
    help="Tokenizing threads per process, working while samples are generated [default: the cores "
    "per worker, at most 4, with tiktoken; 1 with hf: tokenizers]; 1: no overlap. The output bytes do not change.",
)
@click.option(
    "--audit",
    "with_audit",
    is_flag=True,
    help="Then run `longsynth audit` on the build and put its table in the card (exit 1 if it flags a shortcut).",
)
@click.option(
    "--previous",
    type=click.Path(file_okay=False),
    help="The previous version's build folder: the card gets a changelog (spec differences, rows per task).",
)
@_debug_option
@_friendly
def build(
    spec_file,
    suite,
    tasks,
    lengths,
    depths,
    samples,
    seed,
    tokenizer,
    assignments,
    formats,
    template_dir,
    output,
    overwrite,
    generator,
    workers,
    backend,
    ray_address,
    shared_cache,
    threads,
    with_audit,
    previous,
) -> None:
    """Build a dataset into OUTPUT from SPEC_FILE (YAML) and/or flags; flags win over the file.

    Re-running the same command into the same folder keeps finished shards and
    completes the rest.
    """
    if suite and spec_file:
        raise SpecError("give a spec file or --suite, not both")
    spec = spec_from_cli(
        spec_file,
        assignments,
        formats,
        suite=suite,
        generator=generator,
        tasks=tasks,
        lengths=lengths,
        depths=depths,
        samples=samples,
        seed=seed,
        tokenizer=tokenizer,
        template_dir=template_dir,
    )
    if previous:
        open_dataset(Path(previous))  # a --previous that is not a finished build fails before any work
    generator = make_generator(spec)  # unknown tokenizers and bad options fail before any work
    if shared_cache and backend != "ray":
        raise SpecError("--shared-cache is for --backend ray (a local build reads its own cache)")
    if backend != "ray":  # (on Ray, the build makes it, in parts, as Ray tasks)
        generator.prepare()  # so do unreadable corpora (a corpus index is built here, once)
    total = sum(len(cells) for cells in plan(spec).values())
    # The bar is for a person at a terminal; a script's stderr holds nothing but a failure's one line.
    hidden = not sys.stderr.isatty()
    with click.progressbar(length=total, label=f"building {total} samples", file=sys.stderr, hidden=hidden) as bar:
        out = run_build(
            spec,
            output,
            overwrite=overwrite,
            progress=bar.update,
            generator=generator,
            workers=workers,
            backend=backend,
            ray_address=ray_address,
            threads=threads,
            shared_cache=shared_cache,
        )
    click.echo(_build_summary(read_manifest(out), out))
    changes = changes_markdown(compare(Path(previous), out)) if previous else ""
    result = None
    if with_audit and generator.split == "train":
        click.echo("audit: skipped, training data has no metric to audit")
    elif with_audit:
        result = run_audit(out)
    if changes or result is not None:
        add_card_sections(out, spec, generator, audit_markdown(result) if result else "", changes)
    if changes:
        click.echo(f"changelog against {previous} written to the card's Changes section")
    if result is not None:
        click.echo(audit_table(result))
        found = audit_flagged(result)
        if found:
            click.echo(f"audit: {len(found)} flagged (in the card's Audit section); see `longsynth audit --help`")
            sys.exit(1)
        click.echo("audit: nothing flagged (table in the card's Audit section)")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--quiet", is_flag=True, help="Print only the summary.")
@_debug_option
@_friendly
def validate(directory, quiet) -> None:
    """Re-validate every row of a built DIRECTORY (exit 1 if any row or file fails).

    Each row's text is re-encoded, its depths re-measured and its answers
    re-derived from the text alone; every file's sha256 is checked against the
    manifest.
    """
    hidden = not sys.stderr.isatty()  # (as for `build`: a bar for a person at a terminal)
    bar = click.progressbar(length=1, label="validating", file=sys.stderr, hidden=hidden, show_eta=True)

    def progress(rows: int, planned: int) -> None:
        if bar.length != planned:
            bar.length = planned
        bar.update(1)

    with bar:
        report = validate_directory(Path(directory), progress=progress)
    if not quiet:
        for line in report.problems[:50]:
            click.echo(printable(line))  # (a problem may quote the row's text)
        if len(report.problems) > 50:
            click.echo(f"... and {len(report.problems) - 50} more problems")
    click.echo(
        f"{_count(report.rows, 'row')} checked in {_count(report.files, 'file')}: {report.failed_rows} failed, "
        f"{_count(len(report.file_problems), 'file problem')}"
    )
    sys.exit(1 if report.problems else 0)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--task", help="Config (task) to show. Default: the first.")
@click.option("--index", type=int, default=0, show_default=True, help="Row number within the task.")
@click.option("--full", is_flag=True, help="Print the whole input instead of the parts around the needles.")
@click.option("--json", "as_json", is_flag=True, help="Print the row as JSON.")
@_debug_option
@_friendly
def inspect(directory, task, index, full, as_json) -> None:
    """Show one sample with its needles (relevant items) marked >>> like this <<<."""
    row = load_row(Path(directory), task, index)
    if as_json:
        click.echo(printable(json.dumps(row, indent=2, ensure_ascii=False)))  # (still JSON: \uXXXX escapes)
        return
    click.echo(render_row(row, full=full, color=sys.stdout.isatty()))


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.argument("repo_id")
@click.option("--private", is_flag=True, help="Create the dataset repo as private.")
@click.option("--revision", help="Branch to commit to (created if missing). Default: main.")
@click.option("--token", help="Hugging Face token. Default: HF_TOKEN or the stored login.")
@click.option("--message", help="Commit message. Default: 'longsynth dataset version <version>'.")
@click.option("--tag", help="Tag the upload's commit (a release, e.g. v1.0): load_dataset(repo, config, revision=TAG).")
@click.option("--dry-run", is_flag=True, help="List what would be uploaded; send nothing.")
@_debug_option
@_friendly
def push(directory, repo_id, private, revision, token, message, tag, dry_run) -> None:
    """Upload a built DIRECTORY to the Hub dataset REPO_ID in one commit.

    The folder must match its manifest (sha256 of every file); resume state is never uploaded.
    """
    if dry_run:
        plan = plan_upload(directory)
        for name in plan.files:
            click.echo(name)
        click.echo(f"{len(plan.files)} files, {plan.bytes:,} bytes would be uploaded to {repo_id} (dry run)")
        return
    url = run_push(directory, repo_id, token=token, private=private, revision=revision, message=message, tag=tag)
    click.echo(f"pushed {directory} to {repo_id}: {url}" + (f" (tagged {tag})" if tag else ""))


@cli.group()
def export() -> None:
    """Write a build in another tool's layout."""


@export.command("ruler")
@click.argument("directory", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@_debug_option
@_friendly
def export_ruler_cmd(directory, out) -> None:
    """Write OUT/<task>/validation.jsonl from a built DIRECTORY, as RULER's scripts read them.

    `input` is the chat-templated input (RULER's client sends input + answer_prefix, which is the
    row's prompt); `length` is the prompt's tokens plus the tokens kept for the answer.
    """
    written = export_ruler(Path(directory), Path(out))
    for task, count in written.items():
        click.echo(f"{Path(out) / task / 'validation.jsonl'}: {count} rows")


@export.command("lm-eval")
@click.argument("directory", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@_debug_option
@_friendly
def export_lm_eval_cmd(directory, out) -> None:
    """Write an lm-evaluation-harness task folder OUT for a built DIRECTORY: one YAML per config
    (reading the Parquet shards), scored by longsynth's metrics.

    Then: lm_eval --model ... --include_path OUT --tasks longsynth_<task>
    """
    for task, path in export_lm_eval(Path(directory), Path(out)).items():
        click.echo(f"{path}: task longsynth_{task}")


@cli.command("run")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--endpoint", required=True, help="Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1.")
@click.option("--model", required=True, help="Model name the server knows.")
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False), help="Predictions folder.")
@click.option(
    "--api",
    type=click.Choice(["chat", "completions"]),
    default="chat",
    show_default=True,
    help="chat: the prompt as one user message; completions: the raw prompt.",
)
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True, help="Requests in flight.")
@click.option("--max-tokens", type=click.IntRange(1), help="Reply budget [default: each row's reserve].")
@click.option("--temperature", type=click.FloatRange(0.0, 2.0), default=0.0, show_default=True)
@click.option("--api-key-env", metavar="VAR", help="Environment variable holding the API key (never a flag).")
@click.option("--limit", type=click.IntRange(1), help="At most N rows per task.")
@click.option("--task", "tasks", help="Only these tasks, comma separated.")
@click.option("--timeout", type=click.FloatRange(0.1), default=120.0, show_default=True, help="Seconds per request.")
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=4,
    show_default=True,
    help="Retries of a request that got 429/5xx, timed out or lost its connection.",
)
@click.option(
    "--backoff",
    type=click.FloatRange(0.0, 60.0),
    default=0.5,
    show_default=True,
    help="Seconds before the first retry, doubled for each next one, with random jitter.",
)
@_debug_option
@_friendly
def run_cmd(
    directory,
    endpoint,
    model,
    out,
    api,
    concurrency,
    max_tokens,
    temperature,
    api_key_env,
    limit,
    tasks,
    timeout,
    retries,
    backoff,
) -> None:
    """Send every row's prompt in DIRECTORY to an OpenAI-compatible server; save the replies in OUTPUT.

    Replies are saved as they arrive: after Ctrl-C or a crash, the same command continues with the
    rows still missing (and retries failed ones); a finished run re-run does nothing.
    """
    settings = RunSettings(
        endpoint=endpoint,
        model=model,
        api=api,
        concurrency=concurrency,
        max_tokens=max_tokens,
        temperature=temperature,
        api_key_env=api_key_env,
        limit=limit,
        tasks=tuple(t.strip() for t in tasks.split(",") if t.strip()) if tasks else None,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
    )
    hidden = not sys.stderr.isatty()
    bar = click.progressbar(
        length=1, label="asking", file=sys.stderr, hidden=hidden, show_eta=True, item_show_func=lambda rate: rate
    )
    started = time.perf_counter()

    def progress(finished: int, todo: int, total: int) -> None:
        if bar.length != todo:
            bar.length = todo
        rate = finished / max(1e-9, time.perf_counter() - started)
        bar.update(1, f"{rate:.1f} rows/s")

    with bar:
        try:
            counts = run_predictions(Path(directory), Path(out), settings, progress=progress)
        except KeyboardInterrupt:
            click.echo("interrupted: the replies so far are saved; run the same command to continue", err=True)
            sys.exit(130)
    if counts["asked"] == 0:
        click.echo(f"nothing to do: all {counts['rows']} rows have a reply in {out}")
        return
    rate = counts["asked"] / max(1e-9, counts["seconds"])
    click.echo(
        f"{counts['asked']} rows asked in {counts['seconds']:.1f} s ({rate:.1f} rows/s); "
        f"{counts['answered']} of {counts['rows']} answered, {counts['errors']} errors "
        f"-> {Path(out) / 'predictions.parquet'}"
    )
    if counts["rows"] and counts["answered"] == 0:
        click.echo(f"error: no row got a reply; the first error: {counts['first_error']}", err=True)
        sys.exit(1)


@cli.command("score")
@click.argument("directory", type=click.Path(file_okay=False))
@click.argument("pred", type=click.Path())
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(file_okay=False),
    help="Where scores.parquet and summary.json go [default: PRED, or a jsonl's folder].",
)
@click.option(
    "--force",
    is_flag=True,
    help="Score a run whose run.json names another dataset, or replace another dataset's scores in -o.",
)
@_debug_option
@_friendly
def score_cmd(directory, pred, out, force) -> None:
    """Score the predictions PRED (a `longsynth run` folder, a jsonl of {"id", "prediction"}, or
    RULER's prediction jsonl) against DIRECTORY with each task's metric.

    `overall` is the mean of the task means, as RULER reports it; the mean over rows is printed beside
    it. A run made on another dataset is refused (its run.json names the dataset), as is replacing
    another dataset's scores; --force does both."""
    _, summary, where = score_run(Path(directory), Path(pred), Path(out) if out else None, force=force)
    click.echo(score_table(summary))
    click.echo(f"-> {where / 'scores.parquet'}, {where / 'summary.json'}")


@cli.command("report")
@click.argument("directory", type=click.Path(file_okay=False))
@click.argument("preds", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False), help="The HTML file.")
@click.option("--png", type=click.Path(file_okay=False), help="Also write one PNG per task into this folder.")
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=RULER_BASELINE,
    show_default=True,
    help="Effective context length: the longest length whose mean of tasks reaches this (RULER's Llama-2-7B, 85.6).",
)
@click.option(
    "--audit",
    "audit_file",
    type=click.Path(dir_okay=False),
    help="An audit.json (`longsynth audit -o`) to show in the report.",
)
@_debug_option
@_friendly
def report_cmd(directory, preds, out, png, threshold, audit_file) -> None:
    """Write a self-contained HTML report: RULER's summary table (task x length, the mean per length,
    the overall mean) and the effective context length per model, run information, paired differences
    between models, then per task each PRED's depth x length heatmap (one colour scale; a score-by-length
    line for tasks without depths) and a folded table with intervals."""
    tasks = build_report(
        Path(directory),
        [Path(p) for p in preds],
        Path(out),
        Path(png) if png else None,
        threshold=threshold,
        audit=Path(audit_file) if audit_file else None,
    )
    click.echo(f"{out}: {len(tasks)} tasks, {len(preds)} prediction set(s)")


@cli.command("diff")
@click.argument("old", type=click.Path(file_okay=False))
@click.argument("new", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@_debug_option
@_friendly
def diff_cmd(old, new, as_json) -> None:
    """Compare two builds: their spec differences, and per task the rows added, removed or changed
    (matched by id, compared by content; the dataset's canary GUID is left out)."""
    found = compare(Path(old), Path(new))
    click.echo(json.dumps(found, indent=1) if as_json else changes_markdown(found))


@cli.command("audit")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("-o", "--output", "out", type=click.Path(file_okay=False), help="Write OUT/audit.json as well.")
@_debug_option
@_friendly
def audit_cmd(directory, out) -> None:
    """Score model-free baselines (empty, refusal, echoes, every candidate of the gold's shape, the
    majority gold, ...) on DIRECTORY with each task's metric; exit 1 if one scores without doing the
    task (above 0.2 or chance + 0.1) and the family does not declare why it may."""
    result = run_audit(Path(directory))
    click.echo(audit_table(result))
    if out:
        OutputFolder(Path(out), "the audit folder").write("audit.json", (json.dumps(result, indent=1) + "\n").encode())
    found = audit_flagged(result)
    if found:
        click.echo(f"{len(found)} flagged: " + ", ".join(f"{task}/{name}" for task, name in found[:10]), err=True)
        sys.exit(1)


def _count(number: int, noun: str) -> str:
    """A count and its noun, singular for one: 1 row, 3 rows, 0 rows."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def spec_from_cli(
    spec_file: str | None,
    assignments: tuple[str, ...],
    formats: tuple[str, ...],
    suite: str | None = None,
    **flags: Any,
) -> Spec:
    """The spec a `build` command line describes: the YAML file (or the suite), then `--set`, then the flags."""
    overrides = load_suite(suite) if suite else {}
    overrides.update(parse_set(assignments))
    overrides.update({k: v for k, v in flags.items() if v is not None})
    if formats:
        overrides["formats"] = list(formats)
    return load_spec(spec_file, **overrides)


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
