"""What is worked out from one row, remembered while that row is the one being asked about.

`longsynth audit` scores a dozen baseline replies a row and asks its family for the row's chance
level; what comes from the row alone (the values it placed, the input's candidates) is read out of
its 128K input once, not each time. A module of its own, so that scoring, the audit and the
generators' base class (which scoring's imports reach) all share one memo.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_MEMO = threading.local()  # per thread: the row last asked about and what was worked out from it


def per_row(row: dict[str, Any], name: str, compute: Callable[[dict[str, Any]], Any]) -> Any:
    """`compute(row)`, remembered for the row last asked about (the same dict, input and metadata)."""
    key = (id(row), id(row.get("input")), id(row.get("metadata")))
    memo = getattr(_MEMO, "value", None)
    if memo is None or memo[0] != key or memo[1] is not row:
        memo = _MEMO.value = (key, row, {})
    if name not in memo[2]:
        memo[2][name] = compute(row)
    return memo[2][name]
