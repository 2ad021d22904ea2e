"""What a family's validator is: a named check that re-derives something from the row's text alone.

`validate_row` runs the generic length and depth checks, then each of the family's validators. A
validator also carries `plant`, a defect it exists to catch: the contract tests plant it in a valid
row of every registered family and require the validator to reject it, so a check that can never
fail is found by the suite, not by a user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Validator:
    name: str
    # (generator, row, decoded metadata) -> the problems found; [] means the row passes this check
    check: Callable[[Any, Row, dict[str, Any]], list[str]]
    # a valid row -> a copy with a defect this check must report (used by the contract tests)
    plant: Callable[[Row], Row]
    # the tasks whose rows can carry that defect (None: every task of the family)
    tasks: tuple[str, ...] | None = None
