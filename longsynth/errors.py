"""Errors a user can cause and fix.

Every mistake a user can make (bad spec, impossible length, unknown name,
unreadable file, unwritable folder) raises a subclass of `LongsynthError`.
The CLI turns these into one line on stderr and exit code 2; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations


class LongsynthError(Exception):
    """Base of every user-facing error; the message must say how to fix it."""

    exit_code = 2  # what the CLI exits with after printing the one-line message


class SpecError(LongsynthError):
    """The build spec (YAML or flags) is malformed or names something unknown."""


class PluginError(LongsynthError):
    """An installed family cannot be used: two share a name, or one does not load."""


class TokenizerError(LongsynthError):
    """A tokenizer could not be found or loaded."""


class BlankRunError(TokenizerError):
    """A text holds more whitespace characters in a row than tiktoken can take (see
    `tokenizers.holds_blank_run`). A build takes a sample that does as a failed draw, never as a row."""


class CorpusError(LongsynthError):
    """A haystack corpus is missing, unreadable or too small."""


class BudgetError(LongsynthError):
    """The token budget cannot be met (target too small for what must fit)."""


class CacheError(LongsynthError):
    """The cache folder (LONGSYNTH_CACHE) is not a folder longsynth can write."""


class OutputError(LongsynthError):
    """The output folder cannot be written, or holds another spec's output."""


class DamagedOutput(OutputError):
    """A built file is damaged (truncated, edited): the folder fails its checks, as `validate` does."""

    exit_code = 1


class ValidationFailed(LongsynthError):
    """A sample kept failing validation after every allowed attempt."""


class SampleDropped(LongsynthError):
    """A sample came out short of its target (a training corpus ran dry for it): the build counts it
    and writes nothing for it, never a padded row."""
