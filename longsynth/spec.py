"""The build spec: YAML file and CLI flags resolved into one validated object.

Everything a build depends on lives here, so the resolved spec (stored in
the manifest) is enough to rebuild a dataset byte for byte, and its hash
tells a resumed build whether a folder holds the same work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError

# Common fields; anything else is a generator option, checked by the generator.
_COMMON = {
    "generator",
    "tasks",
    "lengths",
    "depths",
    "samples",
    "seed",
    "tokenizer",
    "length_tolerance",
    "max_attempts",
    "rows_per_shard",
    "max_shard_bytes",
    "formats",
    "template_dir",
    "version",
    "license",
    "options",
}
_ALIASES = {"task": "tasks", "length": "lengths", "depth": "depths", "format": "formats"}
FORMATS = ("parquet", "jsonl")


@dataclass
class Spec:
    generator: str = "needle"
    tasks: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=lambda: [4096])
    depths: list[float] = field(default_factory=lambda: [0.0, 50.0, 100.0])
    samples: int = 2
    seed: int = 0
    tokenizer: str = "cl100k_base"
    length_tolerance: int | None = None
    max_attempts: int = 5
    rows_per_shard: int = 256
    max_shard_bytes: int = 256 * 1024 * 1024
    formats: list[str] = field(default_factory=lambda: ["parquet"])
    template_dir: str | None = None
    version: str = "1.0.0"
    license: str = "cc-by-4.0"
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """sha256 of the canonical resolved spec: same spec, same fingerprint."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def parse_length(value: Any) -> int:
    """`4096`, `"4k"`, `"128K"` -> tokens (k = 1024)."""
    text = str(value).strip().lower()
    match = re.fullmatch(r"(\d+)(k?)", text)
    if not match:
        raise SpecError(f"length {value!r} is not a whole number of tokens (examples: 4096, 4k, 128k)")
    number = int(match.group(1)) * (1024 if match.group(2) else 1)
    if number <= 0:
        raise SpecError(f"length {value!r} must be positive")
    return number


def parse_lengths(value: Any) -> list[int]:
    items = value if isinstance(value, list) else str(value).split(",")
    lengths = [parse_length(v) for v in items if str(v).strip()]
    if not lengths:
        raise SpecError("lengths is empty; give at least one, e.g. --lengths 4k,8k")
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


def parse_depths(value: Any) -> list[float]:
    """A list of percents, `linspace:a,b,n`, or `sigmoid:a,b,n`."""
    if isinstance(value, str) and ":" in value:
        kind, _, args = value.partition(":")
        try:
            low, high, count = (float(x) for x in args.split(","))
        except ValueError:
            raise SpecError(f"depths {value!r}: expected {kind}:START,END,COUNT, e.g. {kind}:0,100,11") from None
        if count < 1 or count != int(count):
            raise SpecError(f"depths {value!r}: COUNT must be a whole number >= 1")
        count = int(count)
        if kind == "linspace":
            depths = [low + (high - low) * i / (count - 1) for i in range(count)] if count > 1 else [low]
            depths = [round(d, 3) for d in depths]
        elif kind == "sigmoid":
            depths = _sigmoid_depths(low, high, count)
        else:
            raise SpecError(f"depths {value!r}: unknown spacing {kind!r}; use linspace or sigmoid")
    else:
        items = value if isinstance(value, list) else str(value).split(",")
        try:
            depths = [float(d) for d in items if str(d).strip()]
        except ValueError:
            raise SpecError(f"depths {value!r}: give percents like 0,25,50,75,100") from None
    for d in depths:
        if not 0.0 <= d <= 100.0:
            raise SpecError(f"depth {d:g} is outside 0..100 (depths are percents of the context)")
    if not depths:
        raise SpecError("depths is empty; give at least one, e.g. --depths 50")
    return depths


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    try:
        number = int(value)
        if isinstance(value, float) and value != number:
            raise ValueError
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise SpecError(f"{name} must be at least {minimum}, got {number}")
    return number


def parse_set(assignments: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`key=value` pairs from `--set`; values are read as YAML scalars (numbers, true, lists)."""
    result: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set {item!r}: expected key=value")
        try:
            result[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            result[key.strip()] = raw
    return result


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"spec file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise SpecError(f"spec file {str(path)!r} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpecError(f"spec file {str(path)!r} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecError(f"spec file {str(path)!r} must be a mapping of fields (generator:, tasks:, ...)")
    return data


def resolve(raw: dict[str, Any]) -> Spec:
    """Validate raw fields (from YAML and flags, flags already merged in) into a Spec."""
    from .generators import get_generator_class

    fields: dict[str, Any] = {}
    options: dict[str, Any] = dict(raw.get("options") or {})
    for key, value in raw.items():
        key = _ALIASES.get(key, key)
        if key == "options":
            continue
        if key in _COMMON:
            fields[key] = value
        else:
            options[key] = value
    spec = Spec()
    if "generator" in fields:
        spec.generator = str(fields["generator"])
    generator_cls = get_generator_class(spec.generator)
    tasks = fields.get("tasks")
    if tasks in (None, "", []):
        spec.tasks = list(generator_cls.default_tasks)
    else:
        spec.tasks = [t.strip() for t in (tasks if isinstance(tasks, list) else str(tasks).split(",")) if t.strip()]
    for task in spec.tasks:
        if task not in generator_cls.tasks:
            known = ", ".join(generator_cls.tasks)
            raise SpecError(f"unknown task {task!r} for generator {spec.generator!r}; known tasks: {known}")
    if len(set(spec.tasks)) != len(spec.tasks):
        raise SpecError("tasks lists a task twice")
    if "lengths" in fields:
        spec.lengths = parse_lengths(fields["lengths"])
    if not generator_cls.uses_depth:
        spec.depths = []  # placement, not a depth grid, positions this family's items
    elif "depths" in fields:
        spec.depths = parse_depths(fields["depths"])
    if "samples" in fields:
        spec.samples = _positive_int("samples", fields["samples"])
    if "seed" in fields:
        spec.seed = _positive_int("seed", fields["seed"], minimum=0)
    if "tokenizer" in fields:
        spec.tokenizer = str(fields["tokenizer"])
    if fields.get("length_tolerance") is not None:
        spec.length_tolerance = _positive_int("length_tolerance", fields["length_tolerance"], minimum=0)
    if "max_attempts" in fields:
        spec.max_attempts = _positive_int("max_attempts", fields["max_attempts"])
    if "rows_per_shard" in fields:
        spec.rows_per_shard = _positive_int("rows_per_shard", fields["rows_per_shard"])
    if "max_shard_bytes" in fields:
        spec.max_shard_bytes = _positive_int("max_shard_bytes", fields["max_shard_bytes"], minimum=0)
    if "formats" in fields:
        formats = fields["formats"]
        formats = formats if isinstance(formats, list) else str(formats).split(",")
        spec.formats = sorted({"parquet", *(str(f).strip() for f in formats if str(f).strip())})
        for fmt in spec.formats:
            if fmt not in FORMATS:
                raise SpecError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fields.get("template_dir"):
        spec.template_dir = str(fields["template_dir"])
    for key in ("version", "license"):
        if key in fields:
            setattr(spec, key, str(fields[key]))
    spec.options = generator_cls.check_options(options)
    return spec


def load_spec(path: str | Path | None = None, **overrides: Any) -> Spec:
    """Read a YAML spec (optional) and apply overrides (flags win over the file)."""
    raw = read_yaml(path) if path else {}
    for key, value in overrides.items():
        if value is not None:
            raw[_ALIASES.get(key, key)] = value
    return resolve(raw)
