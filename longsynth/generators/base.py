"""What a generator is, the sample it returns, and the registry that lists them.

A generator is constructed once per process from the resolved spec (that is
where it builds its expensive shared resources: haystack pools, word pools)
and then maps a `Cell` and a seeded `random.Random` to a `Sample`. It must
not use global random state, the clock, or filesystem order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import SpecError
from ..fitting import FittedPrompt, fit_prompt, length_tolerance
from ..spec import Spec
from ..tokenizers import Tokenizer


@dataclass(frozen=True)
class Cell:
    """One sample's place in the grid; with the spec it determines the sample."""

    task: str
    target_length: int
    depth: float | None
    index: int

    @property
    def id(self) -> str:
        depth = "" if self.depth is None else f"-d{self.depth:g}"
        return f"{self.task}-{self.target_length}{depth}-{self.index:05d}"


@dataclass
class Sample:
    """A rendered sample before measurement.

    `fitted` holds the prompt text and where each item sits; `item_key` names
    the metadata list that receives the measured items ("needles", "bios", ...).
    """

    fitted: FittedPrompt
    question: str = ""
    answers: list[str] = field(default_factory=list)
    answer_prefix: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    item_key: str = "items"
    source_id: str = ""
    columnar_items: bool = False  # items as columns rather than records (see `longsynth.items`)


@dataclass(frozen=True)
class Option:
    """A generator option settable from YAML or `--set`."""

    kind: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    minimum: int | None = None


class Generator:
    """Base class: subclasses set the class attributes and implement `sample` and `oracle`."""

    name: ClassVar[str]
    split: ClassVar[str] = "test"
    uses_depth: ClassVar[bool] = True
    tasks: ClassVar[dict[str, dict[str, Any]]] = {}
    task_help: ClassVar[dict[str, str]] = {}
    default_tasks: ClassVar[list[str]] = []
    options: ClassVar[dict[str, Option]] = {}
    paper: ClassVar[str] = ""

    def __init__(self, spec: Spec, tokenizer: Tokenizer):
        self.spec = spec
        self.tokenizer = tokenizer

    @classmethod
    def check_options(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Validate generator options; unknown names and bad values are SpecErrors."""
        checked: dict[str, Any] = {}
        for name, value in given.items():
            option = cls.options.get(name)
            if option is None:
                known = ", ".join(sorted(cls.options)) or "none"
                raise SpecError(f"unknown spec field {name!r} for generator {cls.name!r}; its options are: {known}")
            if value is None:
                continue
            try:
                value = option.kind(value)
            except (TypeError, ValueError):
                raise SpecError(f"{name} must be a {option.kind.__name__}, got {value!r}") from None
            if option.choices and value not in option.choices:
                raise SpecError(f"{name} must be one of {', '.join(map(str, option.choices))}, got {value!r}")
            if option.minimum is not None and value < option.minimum:
                raise SpecError(f"{name} must be at least {option.minimum}, got {value!r}")
            checked[name] = value
        return dict(sorted(checked.items()))

    def settings(self) -> dict[str, Any]:
        """Every option: its default, unless the spec sets it."""
        return {**{name: opt.default for name, opt in self.options.items()}, **self.spec.options}

    def task_params(self, task: str) -> dict[str, Any]:
        """The task's preset with the spec's options applied on top."""
        return {**self.settings(), **self.tasks[task], **self.spec.options}

    def fit(self, target: int, budget_adjust: int = 0, **layout: Any) -> FittedPrompt:
        """The shared fitter, with this build's tokenizer and length tolerance."""
        return fit_prompt(
            target=target,
            tolerance=length_tolerance(target, self.spec.length_tolerance),
            tokenizer=self.tokenizer,
            budget_adjust=budget_adjust,
            **layout,
        )

    def sample(self, cell: Cell, rng, budget_adjust: int = 0) -> Sample:  # pragma: no cover - abstract
        raise NotImplementedError

    def prepare(self) -> None:
        """Build shared resources that workers must not build concurrently (a corpus index); none by default."""

    def report(self) -> dict[str, Any]:
        """Facts about the build for the manifest (what was skipped, corpus sizes); none by default."""
        return {}

    def oracle(self, row: dict[str, Any], metadata: dict[str, Any]) -> list[str]:  # pragma: no cover
        """Re-derive the answer from the row's text alone; return the problems found."""
        raise NotImplementedError


REGISTRY: dict[str, type[Generator]] = {}


def register(cls: type[Generator]) -> type[Generator]:
    REGISTRY[cls.name] = cls
    return cls


def get_generator_class(name: str) -> type[Generator]:
    from . import holobench, longbio, needle, nextlong  # noqa: F401  (registers the built-in families)

    if name not in REGISTRY:
        raise SpecError(f"unknown generator {name!r}; known generators: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]
