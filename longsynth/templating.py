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
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

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
MAX_RENDERED = 1_000_000  # characters a user template may render (filters like `center` can pad)


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox, with the operators that can build huge values from small ones checked first."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator: str, left, right):
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and abs(left) > 1 and right * max(1, abs(left).bit_length()) > 4096:
                raise SecurityError(f"{left} ** {right} is too large a number for a template")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and isinstance(count, int):
                    if len(sequence) * count > MAX_REPEAT:
                        raise SecurityError(f"a repetition of more than {MAX_REPEAT:,} items")
        return super().call_binop(context, operator, left, right)


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


@functools.lru_cache(maxsize=32)
def _environment(folders: tuple[str, ...]) -> SandboxedEnvironment:
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
        folder = cache_dir("jinja")
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
            rendered = _timed(lambda: template.render(**variables), name)
            if len(rendered) > MAX_RENDERED:
                raise SpecError(f"template {name!r} rendered {len(rendered):,} characters; at most {MAX_RENDERED:,}")
            return rendered.strip("\n")
        except MemoryError:
            raise SpecError(f"template {name!r} ran out of memory while rendering") from None
        except jinja2.TemplateNotFound as exc:
            if exc.name != name:  # an include or import inside the template
                raise SpecError(
                    f"template {name!r} includes {exc.name!r}, which is not a template in {self.where} "
                    "(a template can only include templates from the template folders)"
                ) from None
            raise SpecError(f"template {name!r} not found in {self.where}") from None
        except jinja2.TemplateError as exc:  # syntax errors, undefined variables, sandbox refusals
            raise SpecError(f"template {name!r} failed to render: {exc}") from None

    def has(self, name: str) -> bool:
        return any((Path(folder) / name).is_file() for folder in self.folders)


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
