"""The build spec: YAML file and CLI flags resolved into one validated object.

Everything a build depends on lives here, so the resolved spec (stored in
the manifest) is enough to rebuild a dataset byte for byte, and its hash
tells a resumed build whether a folder holds the same work.

The `Spec` dataclass is the one list of spec fields: each field's metadata says how a value is read
(`parse`), what `longsynth list` says of it (`help`) and which CLI flag sets it (`flag`). Resolution,
`longsynth list` and the card's rebuild command all walk these fields; anything that is not a field
is a generator option, checked by the generator's options dataclass.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError
from .generators.options import check_effect
from .generators.registry import get_generator_class
from .inputs import load_yaml, read_text

ALIASES = {"task": "tasks", "length": "lengths", "depth": "depths", "format": "formats"}
FORMATS = ("parquet", "jsonl")

# Limits on every size a spec controls, checked before any work starts, so no spec can make a build
# run for minutes (or fill memory) before its first error. Documented in the README ("Limits").
MAX_LENGTH = 2 * 1024 * 1024  # tokens: 16 times RULER's 128K
MAX_LENGTHS = 64  # target lengths in one spec
MAX_DEPTHS = 1001  # depths in one spec (0.1-point steps over 0..100)
MAX_SAMPLES = 1_000_000  # samples per cell
MAX_CELLS = 10_000_000  # samples in one spec (tasks x lengths x depths x samples)
MAX_SEED = 2**63 - 1
MAX_ATTEMPTS = 100
MAX_ROWS_PER_SHARD = 1_000_000
MAX_SHARD_BYTES = 2**40
MAX_TOLERANCE = MAX_LENGTH
MAX_RESERVE = 65536  # tokens kept for an answer


def parse_length(value: Any) -> int:
    """`4096`, `"4k"`, `"128K"`, `"1m"` -> tokens (k = 1024, m = 1024 x 1024)."""
    text = str(value).strip().lower()
    match = re.fullmatch(r"(\d{1,12})([km]?)", text)
    if isinstance(value, bool) or not match:
        raise SpecError(f"length {value!r} is not a whole number of tokens (examples: 4096, 4k, 128k, 1m)")
    number = int(match.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2)]
    if number <= 0:
        raise SpecError(f"length {value!r} must be positive")
    if number > MAX_LENGTH:
        raise SpecError(f"length {value!r} is {number} tokens; the most longsynth builds is {MAX_LENGTH} (2048k)")
    return number


def _listed(name: str, value: Any, most: int) -> list[Any]:
    """A comma-separated string or a YAML list, at most `most` items, each a plain scalar."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = list(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        items = [value]
    else:
        raise SpecError(f"{name} must be a list or a comma-separated string, got {value!r}")
    items = [v for v in items if str(v).strip()]
    if len(items) > most:
        raise SpecError(f"{name} lists {len(items)} values; at most {most} are allowed")
    for v in items:
        if isinstance(v, dict | list | bool) or v is None:
            raise SpecError(f"{name} holds {v!r}, which is not a plain value")
    return items


def _no_repeats(name: str, keys: list[str]) -> None:
    """Two values that name the same cell would give two rows one id."""
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise SpecError(f"{name} lists {repeated[0]} twice (two values giving the same row ids); remove the repeat")


def parse_lengths(value: Any) -> list[int]:
    lengths = [parse_length(v) for v in _listed("lengths", value, MAX_LENGTHS)]
    if not lengths:
        raise SpecError("lengths is empty; give at least one, e.g. --lengths 4k,8k")
    _no_repeats("lengths", [str(n) for n in lengths])
    return lengths


def _sigmoid_depths(low: float, high: float, count: int) -> list[float]:
    """Depths bunched at both ends, as the original needle-in-a-haystack test spaces them.

    A logistic curve (midpoint 50, steepness 0.1) over evenly spaced points,
    rescaled so the ends land exactly on `low` and `high`.
    """
    xs = [low + (high - low) * i / (count - 1) for i in range(count)] if count > 1 else [low]
    ys = [100.0 / (1.0 + math.exp(-0.1 * (x - 50.0))) for x in xs]
    if count == 1:
        return [round(low, 3)]
    y0, y1 = ys[0], ys[-1]
    return [round(low + (y - y0) / (y1 - y0) * (high - low), 3) for y in ys]


def _linspace_depths(low: float, high: float, count: int) -> list[float]:
    depths = [low + (high - low) * i / (count - 1) for i in range(count)] if count > 1 else [low]
    return [round(d, 3) for d in depths]


_SPACINGS = {"linspace": _linspace_depths, "sigmoid": _sigmoid_depths}


def parse_depths(value: Any) -> list[float]:
    """A list of percents, `linspace:a,b,n`, or `sigmoid:a,b,n`."""
    if isinstance(value, str) and ":" in value:
        kind, _, args = value.partition(":")
        try:
            low, high, count = (float(x) for x in args.split(","))
        except ValueError:
            raise SpecError(f"depths {value!r}: expected {kind}:START,END,COUNT, e.g. {kind}:0,100,11") from None
        if not (count >= 1 and count == int(count)):
            raise SpecError(f"depths {value!r}: COUNT must be a whole number >= 1")
        if count > MAX_DEPTHS:
            raise SpecError(f"depths {value!r}: COUNT is {count:,.0f}; at most {MAX_DEPTHS} depths are allowed")
        if kind not in _SPACINGS:
            raise SpecError(f"depths {value!r}: unknown spacing {kind!r}; use linspace or sigmoid")
        for end in (low, high):
            if not 0.0 <= end <= 100.0:
                raise SpecError(f"depth {end:g} is outside 0..100 (depths are percents of the context)")
        depths = _SPACINGS[kind](low, high, int(count))
    else:
        try:
            depths = [float(d) for d in _listed("depths", value, MAX_DEPTHS)]
        except ValueError:
            raise SpecError(f"depths {value!r}: give percents like 0,25,50,75,100") from None
    for d in depths:
        if not 0.0 <= d <= 100.0:
            raise SpecError(f"depth {d:g} is outside 0..100 (depths are percents of the context)")
    if not depths:
        raise SpecError("depths is empty; give at least one, e.g. --depths 50")
    _no_repeats("depths", [f"{d:g}" for d in depths])  # the form a row id shows
    return depths


def whole_number(minimum: int, maximum: int) -> Callable[[str, Any], int]:
    def parse(name: str, value: Any) -> int:
        try:
            if isinstance(value, bool) or (isinstance(value, str) and len(value) > 30):
                raise ValueError
            number = int(value)
            if isinstance(value, float) and value != number:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise SpecError(f"{name} must be a whole number, got {value!r}") from None
        if number < minimum:
            raise SpecError(f"{name} must be at least {minimum}, got {number}")
        if number > maximum:
            raise SpecError(f"{name} must be at most {maximum}, got {number}")
        return number

    return parse


def parse_formats(value: Any) -> list[str]:
    formats = _listed("formats", value, len(FORMATS))
    formats = sorted({"parquet", *(str(f).strip() for f in formats if str(f).strip())})
    for fmt in formats:
        if fmt not in FORMATS:
            raise SpecError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return formats


def _text(name: str, value: Any) -> str:
    if isinstance(value, dict | list) or value is None:
        raise SpecError(f"{name} must be text, got {value!r}")
    return str(value)


def spec_field(default: Any, help: str, parse: Callable[[str, Any], Any], flag: str | None = None, **extra: Any):
    """A Spec field: its default, `list`'s help, how a raw value is read, the CLI flag that sets it.
    `skip_empty`: an empty value (None, "") leaves the default."""
    meta = {"help": help, "parse": parse, "flag": flag, **extra}
    if callable(default):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


def _named(parse: Callable[[Any], Any]) -> Callable[[str, Any], Any]:
    return lambda name, value: parse(value)


@dataclass
class Spec:
    generator: str = spec_field("needle", "generator family (see the list above)", _text, "--generator")
    tasks: list[str] = spec_field(list, "task names; default: the family's default task", None, "--task")
    lengths: list[int] = spec_field(
        lambda: [4096], "target lengths in tokens (4k = 4096)", _named(parse_lengths), "--lengths"
    )
    depths: list[float] = spec_field(
        lambda: [0.0, 50.0, 100.0],
        "depths in percent, linspace:a,b,n or sigmoid:a,b,n",
        _named(parse_depths),
        "--depths",
    )
    samples: int = spec_field(2, "samples per (task, length, depth) cell", whole_number(1, MAX_SAMPLES), "--samples")
    seed: int = spec_field(0, "build seed", whole_number(0, MAX_SEED), "--seed")
    tokenizer: str = spec_field("cl100k_base", "cl100k_base, o200k_base or hf:<path or id>", _text, "--tokenizer")
    length_tolerance: int | None = spec_field(
        None,
        "tokens a row may fall short of its target (default max(16, 0.2%))",
        whole_number(0, MAX_TOLERANCE),
        skip_empty=True,
    )
    max_attempts: int = spec_field(
        5, "fresh seeds tried before a sample fails the build", whole_number(1, MAX_ATTEMPTS)
    )
    rows_per_shard: int = spec_field(256, "rows per Parquet shard", whole_number(1, MAX_ROWS_PER_SHARD))
    max_shard_bytes: int = spec_field(
        256 * 1024 * 1024, "cap on a shard's text bytes (0: none)", whole_number(0, MAX_SHARD_BYTES)
    )
    formats: list[str] = spec_field(
        lambda: ["parquet"], "parquet, plus jsonl for RULER's scripts", _named(parse_formats), "--format"
    )
    template_dir: str | None = spec_field(None, "folder of .j2 templates overriding ours", _text, skip_empty=True)
    reserve: int | None = spec_field(
        None,
        "tokens kept for the answer (default: the task's; 128 for needle tasks)",
        whole_number(0, MAX_RESERVE),
        skip_empty=True,
    )
    chat_template: str = spec_field("none", "none, hf:<folder or Hub id>, or a .jinja file", _text)
    version: str = spec_field("1.0.0", "dataset version written to the card", _text)
    license: str = spec_field("cc-by-4.0", "dataset license written to the card", _text)
    options: dict[str, Any] = spec_field(dict, "the generator's options (anything not listed here)", None)
    task_options: dict[str, dict[str, Any]] = spec_field(
        dict,
        "options for one task, on top of `options` ({task: {option: value}}; on the command line "
        "--set TASK.OPTION=VALUE); for the families whose tasks take presets (needle, ruler, needlebench)",
        None,
    )

    def to_dict(self) -> dict[str, Any]:
        """The spec as data. `task_options` is left out when empty, so specs written before it existed
        keep their fingerprints."""
        data = dataclasses.asdict(self)
        if not data["task_options"]:
            del data["task_options"]
        return data

    def fingerprint(self) -> str:
        """sha256 of the canonical resolved spec: same spec, same fingerprint."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def canary(self) -> str:
        """The dataset's canary GUID, in its card and in every evaluation row's metadata, so a training-corpus
        filter can drop the rows (BIG-bench's convention). Derived from the fingerprint: the same spec
        gives the same bytes, and any other spec (another version included) another GUID."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"longsynth:{self.fingerprint()}"))


FIELDS = {f.name: f for f in dataclasses.fields(Spec)}


def _load_yaml(text: str) -> Any:
    return load_yaml(text)


def parse_set(assignments: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`key=value` pairs from `--set`; values are read as YAML scalars (numbers, true, lists). A value
    YAML would read as a mapping (`corpus=builtin-zipf:`, a colon at the end) stays the text typed:
    no option takes a mapping, and an error should quote what the user wrote."""
    result: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set {item!r}: expected key=value")
        try:
            value = _load_yaml(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        result[key.strip()] = raw if isinstance(value, dict) else value
    return result


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A spec or suite file: through the input door (a regular UTF-8 file of bounded size), as plain
    YAML (no aliases, no tags, bounded depth)."""
    path = Path(path)
    text = read_text(path, "spec file")
    try:
        data = _load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpecError(f"spec file {str(path)!r} is not valid YAML{where}") from None
    except SpecError as exc:
        raise SpecError(f"spec file {str(path)!r}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecError(f"spec file {str(path)!r} must be a mapping of fields (generator:, tasks:, ...)")
    odd = next((key for key in data if not isinstance(key, str)), None)
    if odd is not None:
        raise SpecError(f"spec file {str(path)!r}: field names are text, got {str(odd)[:40]!r}")
    return data


def _tasks(value: Any, generator_cls) -> list[str]:
    if value is None or value == "" or value == []:
        return list(generator_cls.default_tasks)
    # A bound against a hostile list, well above the family's own tasks, so a list naming tasks the
    # family lacks ("qa1,...,qa10" for five) is told which ones, not only that it is too long.
    tasks = [str(t).strip() for t in _listed("tasks", value, max(64, 2 * len(generator_cls.tasks)))]
    if not tasks:
        raise SpecError(f"tasks {value!r} names no task; known tasks: {', '.join(generator_cls.tasks)}")
    for task in tasks:
        if task not in generator_cls.tasks:
            known = ", ".join(generator_cls.tasks)
            raise SpecError(f"unknown task {task!r} for generator {generator_cls.name!r}; known tasks: {known}")
    if len(set(tasks)) != len(tasks):
        raise SpecError("tasks lists a task twice")
    return tasks


def resolve(raw: dict[str, Any]) -> Spec:
    """Validate raw fields (from YAML and flags, flags already merged in) into a Spec."""
    given: dict[str, Any] = {}
    if not isinstance(raw.get("options") or {}, dict):
        raise SpecError(f"options must be a mapping of option names to values, got {raw['options']!r}")
    options: dict[str, Any] = dict(raw.get("options") or {})
    per_task = raw.get("task_options") or {}
    if not isinstance(per_task, dict) or not all(isinstance(v, dict) for v in per_task.values()):
        raise SpecError("task_options must map task names to mappings of options, e.g. {niah_single_1: {num_keys: 4}}")
    task_options: dict[str, dict[str, Any]] = {str(t): dict(v) for t, v in per_task.items()}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise SpecError(f"spec field names are text; {key!r} is not")
        key = ALIASES.get(key, key)
        if key in ("options", "task_options"):
            continue
        if "." in key:  # --set TASK.OPTION=VALUE
            task, _, name = key.partition(".")
            task_options.setdefault(task, {})[name] = value
            continue
        (given if key in FIELDS else options)[key] = value
    spec = Spec()
    if "generator" in given:
        spec.generator = _text("generator", given["generator"])
    generator_cls = get_generator_class(spec.generator)
    spec.tasks = _tasks(given.get("tasks"), generator_cls)
    for name, value in given.items():
        meta = FIELDS[name].metadata
        if name in ("generator", "tasks") or (meta.get("skip_empty") and value in (None, "")):
            continue
        if name == "depths" and not generator_cls.uses_depth:
            continue
        setattr(spec, name, meta["parse"](name, value))
    if not generator_cls.uses_depth:
        spec.depths = []  # placement, not a depth grid, positions this family's items
    spec.options = generator_cls.check_options(options)
    spec.task_options = _checked_task_options(task_options, spec, generator_cls)
    check_effect(
        generator_cls.Options,
        {task: generator_cls.tasks[task].preset for task in spec.tasks},
        {task: {**spec.options, **spec.task_options.get(task, {})} for task in spec.tasks},
    )
    cells = sum(len(task_depths(spec, generator_cls.tasks[t])) for t in spec.tasks) * len(spec.lengths) * spec.samples
    if cells > MAX_CELLS:
        raise SpecError(
            f"the spec asks for {cells:,} samples; at most {MAX_CELLS:,} per spec are allowed "
            "(split the build into several specs with different seeds)"
        )
    return spec


def _checked_task_options(given: dict[str, dict[str, Any]], spec: Spec, generator_cls) -> dict[str, dict[str, Any]]:
    """Per-task options, checked like `options`. Each names a task of the family; one for a task this build
    does not make is dropped (a suite's settings for a task left out with --task), so it cannot change
    the fingerprint of a build without that task."""
    if given and not generator_cls.per_task_options:
        raise SpecError(
            f"family {generator_cls.name!r} takes no per-task options (task_options, --set TASK.OPTION); "
            "set its options for the whole build"
        )
    checked = {}
    for task, values in sorted(given.items()):
        if task not in generator_cls.tasks:
            raise SpecError(f"task_options names {task!r}, which is not a task of family {generator_cls.name!r}")
        if task in spec.tasks and values:
            checked[task] = generator_cls.check_options(values)
    return checked


def task_depths(spec: Spec, task: Any) -> list[float | None]:
    """The depths a task's cells take: the spec's grid, or one depth-less cell for a task that places
    its items itself (`Task.uses_depth`)."""
    return list(spec.depths) if spec.depths and task.uses_depth else [None]


def load_spec(path: str | Path | None = None, **overrides: Any) -> Spec:
    """Read a YAML spec (optional) and apply overrides (flags win over the file)."""
    raw = read_yaml(path) if path else {}
    for key, value in overrides.items():
        if value is not None:
            raw[ALIASES.get(key, key)] = value
    return resolve(raw)


def spec_from_dict(data: dict[str, Any]) -> Spec:
    """A spec from its `to_dict()` form (a manifest's, a worker's): options flattened back in."""
    raw = dict(data)
    return resolve({**raw, **raw.pop("options", {})})  # task_options stays a field
