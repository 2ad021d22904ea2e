"""The one door for what `run`, `score`, `report` and `export` write: files under the OUT a user named,
and nowhere else.

Checked once, for every command: OUT is not inside a longsynth dataset folder (files its manifest does
not list would make it fail `validate`, `score` and `push`), nor inside the cache; and every file is
joined under OUT with its folder resolved after links, so a link `OUT/sub -> a dataset` or a task
named `../X` cannot lead a write elsewhere. Files are written whole or not at all, and a failed write
is one line naming the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from .cache import cache_dir
from .errors import OutputError
from .export.manifest import dataset_around
from .files import write_bytes_atomically


def check_not_inside_data(path: Path, what: str) -> Path:
    """`path`, resolved, after refusing a place inside a dataset folder or the cache (one line)."""
    resolved = Path(path).resolve()
    dataset = dataset_around(resolved)
    if dataset is not None:
        raise OutputError(
            f"{what} {str(path)!r} is inside the dataset folder {str(dataset)!r}, whose manifest would no longer "
            "match it; write it to another folder"
        )
    cache = cache_dir().resolve()
    if resolved == cache or resolved.is_relative_to(cache):
        raise OutputError(f"{what} {str(path)!r} is inside the cache folder {str(cache)!r}; write it elsewhere")
    return resolved


class OutputFolder:
    """A command's OUT: checked once, then every file written under it through `write` or `path`."""

    def __init__(self, out: str | Path, what: str):
        self.out = Path(out)
        self.what = what
        self.root = check_not_inside_data(self.out, what)

    def path(self, relative: str | Path) -> Path:
        """`OUT/relative`, its folder made, refusing anything that leaves OUT once links are resolved."""
        relative = Path(relative)
        if relative.is_absolute() or ".." in relative.parts:
            raise OutputError(f"{str(relative)!r} is not a name inside {self.what} {str(self.out)!r}")
        target = self.out / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot write to {str(self.out)!r}: {exc.strerror or exc}") from None
        folder = target.parent.resolve()
        if not (folder == self.root or folder.is_relative_to(self.root)) or target.is_symlink():
            raise OutputError(
                f"{str(target)!r} leads outside {self.what} {str(self.out)!r} (a link?); remove the link or "
                "choose another folder"
            )
        check_not_inside_data(folder, self.what)
        return folder / target.name

    def write(self, relative: str | Path, data: bytes) -> Path:
        """Write one file whole (a temporary name, then a rename); a failed write is one line."""
        path = self.path(relative)
        try:
            write_bytes_atomically(path, data)
        except OSError as exc:
            raise OutputError(f"cannot write to {str(self.out)!r}: {exc.strerror or exc}") from None
        return path

    def append(self, relative: str | Path) -> int:
        """A descriptor appending to one file (run's replies, saved as they arrive)."""
        path = self.path(relative)
        try:
            return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot write to {str(self.out)!r}: {exc.strerror or exc}") from None
