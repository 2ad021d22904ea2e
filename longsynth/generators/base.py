"""What a family is: a generator class with its tasks, options, validators and metrics.

A family is one folder under `generators/` (or a package of its own, found through the
`longsynth.generators` entry point). Its generator is constructed once per process from the resolved
spec (that is where it builds its expensive shared resources: haystack pools, word pools) and then
maps a `Cell` and a seeded `random.Random` to a `Sample`. It must not use global random state, the
clock, or filesystem order.

Everything shared code needs to know about a family is declared here, as data: its tasks (help,
preset, metric), its options dataclass, its validators (the oracle), its template folder. Shared
code (pipeline, validators, scoring, inspect, export, cli) never names a family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..chat import ChatTemplate, load_chat_template
from ..errors import BudgetError, SpecError
from ..fitting import FittedPrompt, fit_prompt, length_tolerance
from ..items import item_spans
from ..row_memo import per_row
from ..templating import CONTEXT, Templates, split_around
from ..tokenizers import Tokenizer
from ..validators.base import Validator
from .options import NoOptions, check_options, resolve_options

if TYPE_CHECKING:  # annotations only: the spec module imports the registry, which imports this one
    from ..spec import Spec

Metric = Callable[[dict[str, Any], str], float]  # (row, prediction) -> score in [0, 1]
INPUT_END = "\n"  # the input ends a line, so `input + answer_prefix` reads as two lines (RULER's client sends that)


@dataclass(frozen=True)
class Wrapped:
    """A prompt's text around its context: `head` and `tail` include the chat template's text and the
    answer prefix; the input is everything but the first `before` and the last `after` characters."""

    head: str
    tail: str
    before: int
    after: int


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


# A depth grid's edges: at depth 0 (100) the gold item is the first (last) of its kind in the context,
# so the audit's first (last) candidate answers those cells; about 1/k of a grid of k depths each,
# nothing at inner depths. Families with a depth grid and distractors of the gold's shape declare it.
EDGE_OF_GRID = (
    "by design of the depth grid: at depth 0 (100) the gold item is the first (last) of its kind in the "
    "context; about 1/k of a k-depth grid each, nothing at inner depths"
)
EDGE_BASELINES = {name: EDGE_OF_GRID for name in ("first candidate", "last candidate")}


@dataclass(frozen=True)
class Task:
    """One task of a family: what it asks, the options it presets, and how a prediction is scored
    (None for training data)."""

    help: str
    preset: dict[str, Any] = field(default_factory=dict)
    metric: Metric | None = None
    reserve: int = 0  # tokens kept for the answer by default (the length contract); 0 for training data
    # False: the task places its items itself (RULER's variable chains, word lists), so its cells have
    # no depth even when the family's other tasks sit on the spec's depth grid.
    uses_depth: bool = True
    # Which part of a reply is its final answer, for the metric to compare (`scoring.ANSWER_RULES`):
    # "whole" (RULER's and most anchors'), "last_line", "after_answer" (after the last "Answer:"),
    # "boxed" (the last \boxed{...}, else the last line: NeedleBench's reasoning tasks).
    answer: str = "whole"
    # `longsynth audit`: baselines that may score on this task, each with why ("solves the task: ...",
    # or "by design of <anchor>: ..."), and the score chance alone gives (a flag is above it + 0.1).
    declared: dict[str, str] = field(default_factory=dict)
    chance: float = 0.0
    # The anchor's own metric, computed exactly as the anchor computes it on the raw reply (no policy),
    # so a number can sit beside a published one: `anchor_score` in scores, summary and report.
    anchor: Metric | None = None
    anchor_name: str = ""  # e.g. "RULER string_match_all"
    # A second number the anchor reports apart (LongBioBench's citation accuracy beside its answer
    # accuracy): (name, metric), in `anchor_extra` of scores and summary.
    anchor_extra: tuple[str, Metric] | None = None
    ordered: bool = False  # the answers are asked in an order, and a multi-item reply is scored in it


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
    # The order items are recorded in (metadata and `depths`), as indices into `fitted.inserts`; by
    # default the inserts' own order. Where each answer has one item, the answers' order.
    item_order: list[int] | None = None
    # Tokens kept for this row's answer when the family sizes it per row (holobench, whose answers
    # list result rows); None: the task's reserve (`Generator.reserve_for`).
    reserve: int | None = None


def localized(template: str, language: str) -> str:
    """A template in a language: `zh/needle.j2` beside `needle.j2` (English, the default). A user's
    `--template-dir` overrides either by the same relative path."""
    return template if language == "en" else f"{language}/{template}"


def _template_key(name: str) -> str:
    """A chat template file by its absolute path (a cache must not serve another folder's file)."""
    if name in ("", "none") or name.startswith("hf:"):
        return name or "none"
    return str(Path(name).resolve())


class Generator:
    """Base class: a family sets the class attributes and implements `sample`."""

    name: ClassVar[str]
    split: ClassVar[str] = "test"  # "test" for evaluation rows, "train" for training rows
    uses_depth: ClassVar[bool] = True  # False: the family places its items itself; the spec has no depth grid
    Options: ClassVar[type] = NoOptions  # a dataclass of `option(...)` fields
    tasks: ClassVar[dict[str, Task]] = {}
    default_tasks: ClassVar[list[str]] = []
    paper: ClassVar[str] = ""
    template_folder: ClassVar[Path | None] = None  # the family's own templates
    validators: ClassVar[tuple[Validator, ...]] = ()  # run after the generic length and depth checks
    example: ClassVar[dict[str, Any]] = {}  # spec fields for a small, quick build (the contract tests use it)
    # Families whose tasks this one includes and builds with their own generator (RULER's suite holds
    # the needle family's NIAH tasks): the only other families its modules may import.
    builds_on: ClassVar[tuple[str, ...]] = ()
    # The family's own model-free baselines for `longsynth audit` ({name: (row, rows) -> reply}),
    # besides the shared ones (`eval.audit.BASELINES`).
    baselines: ClassVar[dict[str, Callable[..., str]]] = {}
    # Whether the family reads its options per task (`task_options`), so a spec may set options for
    # one task (`Spec.task_options`); a family that reads `self.options` for every task says False.
    per_task_options: ClassVar[bool] = False

    @classmethod
    def natural_reply(cls, row: dict[str, Any]) -> str:
        """A correct reply as a model would phrase it, for the contract tests: the gold in a sentence.
        A family whose answers have a structure of their own (result rows) says how they read."""
        return f"The answer is {', '.join(row['answers'])}."

    @classmethod
    def declared_for(cls, task: str, row: dict[str, Any]) -> dict[str, str]:
        """The baselines declared on this task's rows (`Task.declared`); a family whose options close a
        by-design shortcut (distractor needles, more vt chains) drops that declaration for such rows."""
        return dict(cls.tasks[task].declared)

    @classmethod
    def chance_for(cls, task: str, row: dict[str, Any]) -> float:
        """The score chance alone gives on this task's rows, for `longsynth audit`: the task's declared
        level, or a blind pick among the values of the answer's kind the row placed (`placed_items`)
        when there are several; a family whose options change it (distractor needles) reads them off
        a row."""
        placed = per_row(row, "placed_items", cls.placed_items)  # (scoring the row's replies read them)
        return max(cls.tasks[task].chance, 1.0 / len(placed) if len(placed) > 1 else 0.0)

    def __init__(self, spec: Spec, tokenizer: Tokenizer):
        self.spec = spec
        self.tokenizer = tokenizer
        self.options = resolve_options(self.Options, spec.options)
        self.canary = spec.canary()  # once per build, not a spec hash per row
        self.templates = Templates.for_family(self.name, self.template_folder, spec.template_dir)
        self._task_options: dict[str, Any] = {}
        if self.split == "train" and (spec.chat_template != "none" or spec.reserve):
            raise SpecError(f"{self.name} builds training text, not prompts: drop chat_template and reserve")
        self.chat: ChatTemplate = load_chat_template(_template_key(spec.chat_template))

    @classmethod
    def check_options(cls, given: dict[str, Any]) -> dict[str, Any]:
        """The options a user set, checked; unknown names and bad values are SpecErrors."""
        return check_options(cls.Options, cls.name, given)

    def task_options(self, task: str) -> Any:
        """The options for one task: the task's preset, with the user's settings on top (the build's
        options, then the task's own, `spec.task_options`)."""
        if task not in self._task_options:
            given = {**self.spec.options, **self.spec.task_options.get(task, {})}
            self._task_options[task] = resolve_options(self.Options, self.tasks[task].preset, given)
        return self._task_options[task]

    def reserve_for(self, task: str) -> int:
        """Tokens kept for the answer: the spec's `reserve`, else the task's own default (a family
        that sizes the reserve per row says so in its `Sample.reserve`)."""
        return self.spec.reserve if self.spec.reserve is not None else self.tasks[task].reserve

    def fit(self, target: int, budget_adjust: int = 0, **layout: Any) -> FittedPrompt:
        """The shared fitter, with this build's tokenizer and length tolerance."""
        return fit_prompt(
            target=target,
            tolerance=length_tolerance(target, self.spec.length_tolerance),
            tokenizer=self.tokenizer,
            budget_adjust=budget_adjust,
            **layout,
        )

    def prompt_halves(self, template: str, variables: dict[str, Any]) -> tuple[str, str]:
        """The prompt template rendered around the context placeholder: the text before the context
        and the text after it."""
        rendered = self.templates.render(template, context=CONTEXT, **variables)
        return split_around(rendered, CONTEXT, template)

    def wrap(self, head: str, tail: str, answer_prefix: str) -> Wrapped:
        """The prompt around the context: the chat template's text, the input's halves, the input's
        line end, then the answer prefix (what a model is sent, and what the length contract counts)."""
        after = self.chat.after + answer_prefix
        return Wrapped(self.chat.before + head, tail + INPUT_END + after, len(self.chat.before), len(after))

    def fit_wrapped(
        self,
        wrapped: Wrapped,
        task: str,
        target: int,
        budget_adjust: int = 0,
        reserve: int | None = None,
        **layout: Any,
    ) -> FittedPrompt:
        """Fit a prompt so that its tokens plus the reserve (the row's own, else the task's) land
        within the target (the length contract), and record where the input sits in it."""
        reserve = self.reserve_for(task) if reserve is None else reserve
        budget = target - reserve
        if budget <= 0:
            raise BudgetError(
                f"a {target}-token row keeps {reserve} tokens for the answer, which leaves no room for the prompt; "
                "ask for a longer length or a smaller reserve"
            )
        fitted = self.fit(budget, budget_adjust, head=wrapped.head, tail=wrapped.tail, **layout)
        fitted.input_span = (wrapped.before, len(fitted.text) - wrapped.after)
        return fitted

    def fit_prompt(
        self,
        template: str,
        variables: dict[str, Any],
        cell: Cell,
        budget_adjust: int = 0,
        *,
        answer_prefix: str,
        **layout: Any,
    ) -> FittedPrompt:
        """Render the prompt template, wrap it (chat template, answer prefix), and fit the context into
        the token budget between the halves."""
        head, tail = self.prompt_halves(template, variables)
        wrapped = self.wrap(head, tail, answer_prefix)
        return self.fit_wrapped(wrapped, cell.task, cell.target_length, budget_adjust, **layout)

    def sample(self, cell: Cell, rng, budget_adjust: int = 0) -> Sample:  # pragma: no cover - abstract
        raise NotImplementedError

    def fills_target(self, task: str) -> bool:
        """Whether this task's rows fill their target length (the length contract's lower bound). A
        task whose context is its items alone (NeedleBench's needles-only ATC) does not: its target is
        only an upper bound, and the row says so in `metadata.fills_target`."""
        return True

    def prepare(self, run_many=None) -> None:
        """Build shared resources that workers must not build concurrently (a corpus index); none by default.
        `run_many(function, [args, ...])`, when given, runs independent parts of that work in parallel
        (Ray tasks): `function` is a module-level function that builds a cache folder and returns it."""

    def shared_folders(self) -> dict[str, Path]:
        """Cache folders that `prepare` built and every worker needs ({path under the cache: folder}):
        a Ray build ships them to workers on other machines instead of letting each build its own."""
        return {}

    def report(self) -> dict[str, Any]:
        """Facts about the build for the manifest (what was skipped, corpus sizes); none by default."""
        return {}

    def shard_stats(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Family facts about a group of a shard's rows for the dataset card (kept in the shard's
        record, so a resumed or distributed build has them too; `card_notes` sums them); none by
        default."""
        return {}

    def card_notes(self, stats: list[dict[str, Any]]) -> list[str]:
        """Lines for the dataset card from every shard's `shard_stats`; none by default."""
        return []

    @classmethod
    def token_columns(cls, spec: Spec) -> tuple[str, ...]:
        """The token-level columns (`rows.TOKEN_COLUMNS`) this spec's rows carry; none by default."""
        return ()

    def token_layout(self, metadata: dict[str, Any], measurement: Any) -> dict[str, list[int]]:
        """The family's token-level columns other than `input_ids`, from the row's one encode."""
        return {}

    @classmethod
    def placed_items(cls, row: dict[str, Any]) -> list[str]:
        """The values of the answers' kind this row placed in its context, gold and distractors (needle
        values, other people's values): what a reply is checked against for over-generation (see
        `scoring.score`). Read from the row alone (a scorer has no generator; a family that needs its
        metadata decodes it, so other families' rows are not decoded for nothing). None by default:
        the task's metric alone decides."""
        return []

    @classmethod
    def marked_spans(cls, metadata: dict[str, Any]) -> list[tuple[int, int]]:
        """Character spans `inspect` marks: the placed items, by default."""
        return sorted(item_spans(metadata.get(metadata.get("item_key", "items"), [])))
