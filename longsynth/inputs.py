"""The one door for text files someone else wrote: specs, suites and prediction files (corpora, QA data
and databases are streamed by their readers, which list their files with `files.input_files`).

Each is a regular file (a named pipe would block the read for good), of bounded size, UTF-8 (an error
names the line), and its structure is bounded: YAML without aliases (ten nested levels of aliases
expand to 10^10 values), without tags (`!!binary` made keys that are bytes), at most `MAX_DEPTH`
levels deep (10,000 levels crashed the reader); JSON lines read one at a time, each of bounded length
and depth (a 1 GB line was read whole into 2.1 GB).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError

MAX_SPEC_BYTES = 1024 * 1024  # a spec or suite file (ours are a few hundred bytes; an 18 MB one took minutes)
MAX_LINE_BYTES = 16 * 1024 * 1024  # one line of a jsonl input (a prediction is at most a few thousand tokens)
MAX_DEPTH = 64  # nesting of a YAML or JSON value (a spec is two levels deep)


def regular_file(path: Path, what: str) -> Path:
    """`path` if it is a regular file (links to one are fine), else one line naming it."""
    if not path.exists():
        raise SpecError(f"{what} {str(path)!r} does not exist")
    if not path.is_file():
        raise SpecError(f"{what} {str(path)!r} is not a regular file")
    return path


def _line_of(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def read_text(path: str | Path, what: str, limit: int = MAX_SPEC_BYTES) -> str:
    """A small text file, whole: regular, at most `limit` bytes, UTF-8 (an error names the line)."""
    path = regular_file(Path(path), what)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise SpecError(f"{what} {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise SpecError(f"{what} {str(path)!r} is larger than {limit // 1024:,} KB; is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{what} {str(path)!r} is not UTF-8 text (line {_line_of(data, exc.start)})") from None


class _BoundedLoader(yaml.SafeLoader):
    """YAML as plain data: no aliases, no explicit tags, at most MAX_DEPTH levels."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.events.AliasEvent):
            raise SpecError(f"YAML aliases (*name) are not allowed (line {line}); write the value out")
        tag = getattr(event, "tag", None)
        implicit = getattr(event, "implicit", True)  # (plain, quoted) for a scalar, a flag for a collection
        explicit = not any(implicit) if isinstance(implicit, tuple) else not implicit
        if tag is not None and tag != "!" and explicit:
            raise SpecError(f"YAML tags ({tag}) are not allowed (line {line}); write plain values")
        if self.depth >= MAX_DEPTH:
            raise SpecError(f"YAML nested more than {MAX_DEPTH} levels deep (line {line})")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml(text: str) -> Any:
    """Plain YAML data (mappings, lists, scalars), bounded as `_BoundedLoader` says."""
    return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 (a SafeLoader, bounded)


def _depth_ok(value: Any, limit: int = MAX_DEPTH) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def json_lines(path: str | Path, what: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each non-blank line of a jsonl file, read one line at a time: each line
    at most MAX_LINE_BYTES, UTF-8, JSON at most MAX_DEPTH deep (else one line naming file and line)."""
    path = regular_file(Path(path), what)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise SpecError(f"{what} {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    with handle:
        number = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES:
                raise SpecError(f"{path}:{number} is longer than {MAX_LINE_BYTES // 1024 // 1024} MB")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise SpecError(f"{path}:{number} is not UTF-8 text") from None
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except RecursionError:
                raise SpecError(f"{path}:{number} is nested more than {MAX_DEPTH} levels deep") from None
            except ValueError:
                raise SpecError(f"{path}:{number} is not valid JSON") from None
            if not _depth_ok(value):
                raise SpecError(f"{path}:{number} is nested more than {MAX_DEPTH} levels deep")
            yield number, value
