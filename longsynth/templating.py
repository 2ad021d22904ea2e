"""Jinja2 templates: the package's own, optionally overridden by a user folder.

Templates render in a `SandboxedEnvironment` with `StrictUndefined`, so a
user template cannot reach Python internals and a misspelt variable is an
error instead of silently empty text.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .errors import SpecError

_PACKAGE_TEMPLATES = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=16)
def environment(user_dir: str | None = None) -> SandboxedEnvironment:
    """Templates are looked up in the user's folder first, then the package's."""
    paths = []
    if user_dir:
        if not Path(user_dir).is_dir():
            raise SpecError(f"template_dir {user_dir!r} is not a folder; point it at a folder of .j2 files")
        paths.append(user_dir)
    paths.append(str(_PACKAGE_TEMPLATES))
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(paths),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        bytecode_cache=_bytecode_cache(),
    )


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept on disk (keyed by their source), so a new process or worker skips
    jinja's compiler: a few milliseconds per template, paid by every build otherwise."""
    from .cache import cache_dir

    try:
        folder = cache_dir("jinja")
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: compile every time
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


def render(template: str, user_dir: str | None = None, /, **variables: object) -> str:
    """Render one template; template mistakes become a one-line SpecError."""
    env = environment(user_dir)
    try:
        return env.get_template(template).render(**variables).strip("\n")
    except jinja2.TemplateNotFound as exc:
        raise SpecError(f"template {template!r} not found in {user_dir or 'the package templates'}") from exc
    except jinja2.TemplateError as exc:
        raise SpecError(f"template {template!r} failed to render: {exc}") from exc


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
