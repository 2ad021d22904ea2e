"""Jinja2 templates: a family's own, optionally overridden by a user folder, and the shared ones.

Each family keeps its templates in its own folder (`generators/<family>/templates/`). A user's
`--template-dir` mirrors the names people already use: `needle/needle.j2`,
`longbio/standard/age.j2`, ... A family's `Templates` looks in `<template_dir>/<family>/` first, then
in the family's folder, then in the shared `longsynth/templates/` (the dataset card).

Templates render in a `SandboxedEnvironment` with `StrictUndefined`, so a user template cannot reach
Python internals and a misspelt variable is an error instead of silently empty text. A template from
a user's folder is also bounded: repeating a string or list, or raising to a power, may not make
more than `MAX_REPEAT` items, a render may take at most `RENDER_SECONDS` (nested loops over `range`
would otherwise run for hours) and make at most `MAX_RENDERED` characters. A template may come from
someone else.
"""

from __future__ import annotations

import functools
import re
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jinja2
import jinja2.nodes
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .cache import cache_dir
from .errors import SpecError

SHARED_TEMPLATES = Path(__file__).parent / "templates"
CONTEXT = "\x00CONTEXT\x00"  # what a prompt template receives as `context`, split out by `split_around`


class _ContainedLoader(jinja2.FileSystemLoader):
    """Templates from the search folders only: a link inside a user's folder that points elsewhere
    (`evil.j2 -> /etc/passwd`) is not a template."""

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        real = Path(filename).resolve()
        if not any(real.is_relative_to(Path(folder).resolve()) for folder in self.searchpath):
            raise jinja2.TemplateNotFound(template)
        return source, filename, uptodate


MAX_REPEAT = 1_000_000  # items a template's `*` may make (characters of a string, items of a list)
RENDER_SECONDS = 5.0  # a user template's render, at most (a needle sentence takes microseconds)
MAX_RENDERED = 1_000_000  # characters a user template may render, counted as the output grows
MAX_WIDTH = MAX_RENDERED  # a width a filter, a str method or a format spec may pad to
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
_NUMBERS = re.compile(r"\d+")


def _check_width(value: object, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_WIDTH:
        raise SecurityError(f"{what} of {value:,} is too wide for a template (at most {MAX_WIDTH:,})")


def _check_format(spec: str, what: str) -> None:
    """Widths and precisions in a `%` or `str.format` string: "%1000000000d" pads before we could count."""
    for number in _NUMBERS.findall(spec):
        if len(number) > 7 or int(number) > MAX_WIDTH:
            raise SecurityError(f"{what} asks for a width of {number}; at most {MAX_WIDTH:,}")


def _check_replace(text: str, old: str, new: str) -> None:
    grown = len(text) + (text.count(old) if old else len(text) + 1) * max(0, len(new) - len(old))
    if grown > MAX_RENDERED:
        raise SecurityError(f"a replace that makes {grown:,} characters (at most {MAX_RENDERED:,})")


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles `a ~ b` (jinja2's string join, which no sandbox hook sees) into a call the sandbox checks:
    a namespace doubling its string forty times (`ns.s ~ ns.s`) reached 3 GB before the render timer
    could fire."""

    def visit_Concat(self, node, frame) -> None:
        self.write("environment.join_bounded((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The one sandbox every template renders in (family templates, a user's folder, chat templates):
    jinja2's immutable sandbox, with everything that builds a huge value from a small one checked
    before it runs: `*` and `**`, `%` and `str.format` widths, padding filters and str methods, and
    `replace`. The output's size and the render's time are bounded by `render_bounded`."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _BoundedCodeGenerator

    def join_bounded(self, parts) -> str:
        """`a ~ b ~ ...`, refused before it is made when it would pass MAX_RENDERED characters."""
        pieces = [str(part) for part in parts]
        if sum(map(len, pieces)) > MAX_RENDERED:
            raise SecurityError(f"a ~ join of more than {MAX_RENDERED:,} characters")
        return "".join(pieces)

    def __init__(self, **options):
        super().__init__(**options)
        bounded = {
            "center": lambda value, width=80: _padded(str(value).center, width, "center"),
            "indent": _bounded_indent(self.filters["indent"]),
            "wordwrap": _bounded_wordwrap(self.filters["wordwrap"]),
            "format": _bounded_format(self.filters["format"]),
            "replace": _bounded_replace(self.filters["replace"]),
        }
        self.filters.update(bounded)

    def call_binop(self, context, operator: str, left, right):
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and abs(left) > 1 and right * max(1, abs(left).bit_length()) > 4096:
                raise SecurityError(f"{left} ** {right} is too large a number for a template")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(count, int):
                    if len(sequence) * count > MAX_REPEAT:
                        raise SecurityError(f"a repetition of more than {MAX_REPEAT:,} items")
        if operator == "%" and isinstance(left, str):
            _check_format(left, "a % format")
        if operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            if len(left) + len(right) > MAX_REPEAT:
                raise SecurityError(f"a + of more than {MAX_REPEAT:,} items")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - jinja2's own signature
        owner, name = getattr(__obj, "__self__", None), getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            if name in _PADDING_METHODS and args:
                _check_width(args[0], f"str.{name}")
            elif name == "expandtabs":
                _check_width(owner.count("\t") * (args[0] if args and isinstance(args[0], int) else 8), "expandtabs")
            elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
                _check_replace(owner, args[0], args[1])
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value):
        """`str.format` and `format_map`, sandboxed by jinja2 when the method is looked up: the format
        string's widths are checked then, before anything is padded."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__, "a format string")
        return wrapped


def _padded(pad, width, what: str) -> str:
    _check_width(width, what)
    return pad(width)


def _bounded_indent(indent):
    def bounded(value, width=4, *args, **kwargs):
        pad = width if isinstance(width, int) else len(str(width))  # a number of spaces, or the text itself
        _check_width(pad, "indent")
        if pad * (str(value).count("\n") + 1) > MAX_RENDERED:
            raise SecurityError("an indent that makes more than a million characters")
        return indent(value, width, *args, **kwargs)

    return bounded


def _bounded_wordwrap(wordwrap):
    def bounded(environment, value, width=79, *args, **kwargs):
        _check_width(width, "wordwrap")
        return wordwrap(environment, value, width, *args, **kwargs)

    bounded.jinja_pass_arg = wordwrap.jinja_pass_arg  # jinja2 passes the environment
    return bounded


def _bounded_format(format_filter):
    def bounded(value, *args, **kwargs):
        _check_format(str(value), "a format filter")
        return format_filter(value, *args, **kwargs)

    return bounded


def _bounded_replace(replace):
    def bounded(eval_ctx, value, old, new, count=None):
        if isinstance(value, str) and isinstance(old, str) and isinstance(new, str):
            _check_replace(value, old, new)
        return replace(eval_ctx, value, old, new, count)

    bounded.jinja_pass_arg = replace.jinja_pass_arg
    return bounded


class _TooSlow(Exception):
    pass


def _timed(render, name: str) -> str:
    """`render()` stopped after RENDER_SECONDS (on the main thread, where a timer signal can stop it)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return render()

    def stop(signum, frame):
        raise _TooSlow

    previous = signal.signal(signal.SIGALRM, stop)
    started = time.monotonic()
    theirs = signal.setitimer(signal.ITIMER_REAL, RENDER_SECONDS)  # a timer the host program had set
    try:
        return render()
    except _TooSlow:
        raise SpecError(
            f"template {name!r} took more than {RENDER_SECONDS:g} s to render; does it loop without end?"
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if theirs[0] > 0:  # put the host's timer back, less the time this render took
            signal.setitimer(signal.ITIMER_REAL, max(1e-6, theirs[0] - (time.monotonic() - started)), theirs[1])


def _collect(pieces, name: str) -> str:
    """A render's output, counted as it grows: past MAX_RENDERED characters it stops."""
    out, size = [], 0
    for piece in pieces:
        size += len(piece)
        if size > MAX_RENDERED:
            raise SpecError(f"template {name!r} rendered more than {MAX_RENDERED:,} characters")
        out.append(piece)
    return "".join(out)


def render_bounded(template: jinja2.Template, variables: dict[str, object], name: str) -> str:
    """Render a template from someone else: timed, its output counted as it grows, its recursion and
    memory failures one-line errors. Every untrusted render goes through here."""
    try:
        return _timed(lambda: _collect(template.generate(**variables), name), name)
    except RecursionError:
        raise SpecError(f"template {name!r} recursed too deeply (a macro that calls itself without end?)") from None
    except MemoryError:
        raise SpecError(f"template {name!r} ran out of memory while rendering") from None


def render_source(source: str, variables: dict[str, object], name: str, **options) -> str:
    """Render template text that has no folder (a chat template): the same sandbox and bounds, no
    loader (so `{% include %}` and `{% import %}` are errors), `options` for jinja2's whitespace."""
    try:
        template = _source_environment(tuple(sorted(options.items()))).from_string(source)
        return render_bounded(template, variables, name)
    except jinja2.TemplateError as exc:
        raise SpecError(f"template {name} failed to render: {' '.join(str(exc).split())[:200]}") from None
    except RecursionError:
        raise SpecError(f"template {name!r} is nested too deeply to read") from None
    except TypeError as exc:  # jinja2: "no loader for this environment specified"
        if "loader" in str(exc):
            raise SpecError(f"template {name!r} includes or imports another template; it may not") from None
        raise


@functools.lru_cache(maxsize=8)
def _source_environment(options: tuple[tuple[str, object], ...]) -> _BoundedSandbox:
    return _BoundedSandbox(autoescape=False, **dict(options))


@functools.lru_cache(maxsize=32)
def _environment(folders: tuple[str, ...]) -> _BoundedSandbox:
    return _BoundedSandbox(
        loader=_ContainedLoader(list(folders)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        bytecode_cache=_bytecode_cache(),
        # A loaded template is not re-checked on disk at every render (a stat per needle otherwise).
        auto_reload=False,
    )


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept on disk (keyed by their source), so a new process or worker skips
    jinja's compiler: a few milliseconds per template, paid by every build otherwise."""
    try:
        folder = cache_dir("jinja", "bounded-1")  # compiled by this code generator only
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: compile every time
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


@dataclass(frozen=True)
class Templates:
    """Where one family's templates are looked up, in order (hashable, so caches can key on it)."""

    folders: tuple[str, ...]
    where: str = "the package templates"  # for error messages
    users: bool = False  # the folders include a user's: renders are timed (see `RENDER_SECONDS`)

    @classmethod
    def for_family(cls, family: str, own: Path | None, user_dir: str | None = None) -> Templates:
        folders = []
        if user_dir:
            if not Path(user_dir).is_dir():
                raise SpecError(f"template_dir {user_dir!r} is not a folder; point it at a folder of .j2 files")
            folders.append(str(Path(user_dir).resolve() / family))
        if own is not None:
            folders.append(str(own))
        folders.append(str(SHARED_TEMPLATES))
        return cls(tuple(folders), f"{user_dir}/{family}" if user_dir else "the package templates", bool(user_dir))

    @classmethod
    def folder(cls, path: str) -> Templates:
        """Only the templates of one user folder (a user database's row templates)."""
        return cls((str(Path(path).resolve()),), str(path), True)

    def render(self, name: str, /, **variables: object) -> str:
        """Render one template; template mistakes become a one-line SpecError."""
        try:
            template = _environment(self.folders).get_template(name)
            if not self.users:
                return template.render(**variables).strip("\n")
            return render_bounded(template, variables, name).strip("\n")
        except jinja2.TemplateNotFound as exc:
            if exc.name != name:  # an include or import inside the template
                raise SpecError(
                    f"template {name!r} includes {exc.name!r}, which is not a template in {self.where} "
                    "(a template can only include templates from the template folders)"
                ) from None
            raise SpecError(f"template {name!r} not found in {self.where}") from None
        except jinja2.TemplateError as exc:  # syntax errors, undefined variables, sandbox refusals
            raise SpecError(f"template {name!r} failed to render: {exc}") from None
        except RecursionError:  # a template nested too deeply to compile
            raise SpecError(f"template {name!r} is nested too deeply to read") from None

    def has(self, name: str) -> bool:
        return any((Path(folder) / name).is_file() for folder in self.folders)

    def prints_plainly(self, name: str, variables: tuple[str, ...]) -> bool:
        """Whether template `name` uses each of `variables` only to print it as it is (`{{ person }}`:
        every mention of it is a whole `{{ }}`, never in a filter, test, comparison, call, loop or
        assignment; and no include, import, macro, filter block or captured block that could use or
        reshape it unseen). Then rendering it with placeholders and putting values in them gives
        exactly what rendering it with the values gives, so a family can render a wording once and
        fill it for each item. (False when it cannot be read: rendering reports why.)"""
        return _prints_plainly(self.folders, name, tuple(variables))

    def require_plain(self, name: str, variables: tuple[str, ...], why: str) -> None:
        """Refuse (one-line SpecError) a template that does more with `variables` than print them: a
        family that fills a wording rendered once with placeholders, or reads items back by the
        placeholders, would otherwise drop a user's filter silently or fail to read its own rows."""
        if not self.prints_plainly(name, variables):
            printed = ", ".join(f"{{{{ {v} }}}}" for v in variables)
            raise SpecError(
                f"template {name!r} must print {printed} as they are (no filter, test, comparison, loop or "
                f"other use of them): {why}"
            )


# Nodes that can use a variable without naming it here, or reshape what a block prints (a filter
# block, a captured `set`, a macro, an include that sees the context, a change of autoescape).
_BLOCKING_NODES = (
    jinja2.nodes.Include,
    jinja2.nodes.Import,
    jinja2.nodes.FromImport,
    jinja2.nodes.Extends,
    jinja2.nodes.Block,
    jinja2.nodes.Macro,
    jinja2.nodes.CallBlock,
    jinja2.nodes.FilterBlock,
    jinja2.nodes.AssignBlock,
    jinja2.nodes.EvalContextModifier,
)


@functools.lru_cache(maxsize=64)
def _prints_plainly(folders: tuple[str, ...], name: str, variables: tuple[str, ...]) -> bool:
    environment = _environment(folders)
    try:
        tree = environment.parse(environment.loader.get_source(environment, name)[0])
    except (jinja2.TemplateError, RecursionError):
        return False
    if any(True for _ in tree.find_all(_BLOCKING_NODES)):
        return False
    printed = {id(node) for output in tree.find_all(jinja2.nodes.Output) for node in output.nodes}
    return all(id(node) in printed for node in tree.find_all(jinja2.nodes.Name) if node.name in variables)


SHARED = Templates((str(SHARED_TEMPLATES),))


def split_around(rendered: str, sentinel: str, name: str) -> tuple[str, str]:
    """Split a rendered template at the placeholder that stands for the long context."""
    if rendered.count(sentinel) != 1:
        raise SpecError(f"template {name!r} must use {{{{ context }}}} exactly once")
    head, tail = rendered.split(sentinel)
    return head, tail


def pattern_from(rendered: str, groups: dict[str, tuple[str, str]]) -> re.Pattern[str]:
    """Turn a template rendered with sentinel values into a regex with named groups.

    `groups` maps each sentinel string to (group name, pattern). A sentinel used
    twice becomes a back-reference. This lets a validator parse text rendered
    from *any* template, including a user's.
    """
    regex = re.escape(rendered)
    for sentinel, (name, pattern) in groups.items():
        escaped = re.escape(sentinel)
        if escaped not in regex:
            raise SpecError(f"a template does not use the placeholder for {name!r}; it cannot be parsed back")
        regex = regex.replace(escaped, f"(?P<{name}>{pattern})", 1).replace(escaped, f"(?P={name})")
    return re.compile(regex)
