"""A family's options: one typed dataclass whose fields carry their help text and allowed range.

`longsynth list`, `--set` parsing and every option error are derived from the dataclass, so an
option is declared once::

    @dataclass(frozen=True)
    class NeedleOptions:
        num_keys: int = option(1, "distinct keys with needles in a sample", minimum=1)

The spec keeps only the options a user set (so its fingerprint, and the card's rebuild command, do
not change when a default is added); a generator sees the whole dataclass, defaults filled in, with
the task's preset and then the user's settings on top.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError

_KINDS = {"str": str, "int": int, "float": float, "bool": bool}


def option(
    default: Any,
    help: str,
    *,
    choices: tuple[Any, ...] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    needs: tuple[str, Any] | None = None,
    tasks: tuple[str, ...] = (),
) -> Any:
    """A dataclass field with what `list` shows and what a value must satisfy (`above`: exclusive minimum).

    `needs` = (option, value) and `tasks` say when the option counts: only where that other option has
    that value (SET: any non-empty value), and only for those tasks. Setting it where it counts for no
    task of the build is refused (`corpus_text_field` with a prose haystack was accepted and ignored)."""
    meta = {
        "help": help,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
        "above": above,
        "needs": needs,
        "tasks": tasks,
    }
    return dataclasses.field(default=default, metadata=meta)


SET = object()  # `needs=(option, SET)`: the other option is set to something non-empty


@dataclass(frozen=True)
class When:
    """`needs=(option, When("a user database", test))`: the option counts when `test(value)` holds for
    the other option's value; `reads` is how the condition is said in an error."""

    reads: str
    test: Any  # Callable[[Any], bool]


def _number(value: float) -> str:
    """A bound as a person reads it: 2,097,152, not 2.09715e+06."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class OptionInfo:
    name: str
    kind: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None
    minimum: float | None
    maximum: float | None
    above: float | None
    needs: tuple[str, Any] | None = None
    tasks: tuple[str, ...] = ()

    def counts_for(self, task: str, options: Any) -> bool:
        """Whether this option has an effect on `task` under its resolved `options`."""
        if self.tasks and task not in self.tasks:
            return False
        if self.needs is None:
            return True
        other, wanted = self.needs
        value = getattr(options, other)
        if isinstance(wanted, When):
            return bool(wanted.test(value))
        return bool(value) if wanted is SET else value == wanted

    def condition(self) -> str:
        """When the option counts, as a person reads it."""
        parts = []
        if self.needs is not None:
            other, wanted = self.needs
            if isinstance(wanted, When):
                parts.append(f"{other} is {wanted.reads}")
            else:
                parts.append(f"{other} is set" if wanted is SET else f"{other}={wanted}")
        if self.tasks:
            parts.append(f"task {' or '.join(self.tasks)}")
        return " and ".join(parts)

    def describe(self) -> str:
        """The help line `longsynth list` prints."""
        bounds = []
        if self.above is not None:
            bounds.append(f"> {_number(self.above)}")
        if self.minimum is not None:
            bounds.append(f">= {_number(self.minimum)}")
        if self.maximum is not None:
            bounds.append(f"<= {_number(self.maximum)}")
        allowed = f" [{'|'.join(map(str, self.choices))}]" if self.choices else ""
        allowed += f" ({', '.join(bounds)})" if bounds else ""
        return f"{self.help}{allowed}; default {self.default!r}"

    def convert(self, value: Any) -> Any:
        """The value as this option's type, checked against its choices and range."""
        if self.kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if self.kind is bool and not isinstance(value, bool):
            raise SpecError(f"{self.name} must be true or false, got {value!r}")
        if self.kind is int and (isinstance(value, bool) or (isinstance(value, float) and not value.is_integer())):
            raise SpecError(f"{self.name} must be a whole number, got {value!r}")  # int(1.5) would be 1
        try:
            value = self.kind(value)
        except (TypeError, ValueError):
            kind = self.kind.__name__
            article = "an" if kind[0] in "aeiou" else "a"
            raise SpecError(f"{self.name} must be {article} {kind}, got {value!r}") from None
        if self.kind is float and not math.isfinite(value):  # NaN passes every range check below
            raise SpecError(f"{self.name} must be a finite number, got {value!r}")
        if self.choices and value not in self.choices:
            raise SpecError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise SpecError(f"{self.name} must be at least {_number(self.minimum)}, got {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise SpecError(f"{self.name} must be at most {_number(self.maximum)}, got {value!r}")
        if self.above is not None and value <= self.above:
            raise SpecError(f"{self.name} must be greater than {_number(self.above)}, got {value!r}")
        return value


@dataclass(frozen=True)
class NoOptions:
    """For a family without options."""


def options_of(options_class: type) -> dict[str, OptionInfo]:
    """Every option of a family, in declaration order."""
    hints = typing.get_type_hints(options_class)
    out = {}
    for f in dataclasses.fields(options_class):
        kind = hints[f.name]
        meta = f.metadata
        out[f.name] = OptionInfo(
            f.name,
            kind,
            f.default,
            meta.get("help", ""),
            meta.get("choices"),
            meta.get("minimum"),
            meta.get("maximum"),
            meta.get("above"),
            meta.get("needs"),
            tuple(meta.get("tasks") or ()),
        )
    return out


def check_effect(options_class: type, presets: dict[str, dict[str, Any]], given: dict[str, dict[str, Any]]) -> None:
    """Refuse an option the user set that has no effect on any task it is set for: `given` maps each task
    of the build to the options the user set for it; `presets` to its preset."""
    known = options_of(options_class)
    for name in sorted({n for values in given.values() for n in values}):
        info = known.get(name)
        if info is None or (info.needs is None and not info.tasks):
            continue
        applies = [task for task, values in given.items() if name in values]
        resolved = {task: resolve_options(options_class, presets[task], given[task]) for task in applies}
        if not any(info.counts_for(task, resolved[task]) for task in applies):
            where = ", ".join(
                f"{task} has {info.needs[0]}={getattr(resolved[task], info.needs[0])!r}"
                for task in applies
                if info.needs is not None and (not info.tasks or task in info.tasks)
            )
            raise SpecError(
                f"{name} has no effect here: it counts only when {info.condition()}"
                + (f" ({where})" if where else f" (this build makes {', '.join(applies)})")
            )


def check_options(options_class: type, family: str, given: dict[str, Any]) -> dict[str, Any]:
    """The options a user set, converted and checked, sorted by name (what the spec stores)."""
    known = options_of(options_class)
    checked: dict[str, Any] = {}
    for name, value in given.items():
        if name not in known:
            names = ", ".join(sorted(known)) or "none"
            raise SpecError(f"unknown spec field {name!r} for generator {family!r}; its options are: {names}")
        if value is not None:
            checked[name] = known[name].convert(value)
    return dict(sorted(checked.items()))


def resolve_options(options_class: type, *layers: dict[str, Any]) -> Any:
    """The options dataclass with each layer applied over the defaults (a task's preset, then the user's)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return options_class(**merged)
