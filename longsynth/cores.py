"""The cores this process may use: what sizes thread pools (builds, token counting).

`os.cpu_count()` counts the machine's cores; a container, a `taskset` or a Ray worker may be given
fewer, and `sched_getaffinity` says how many this process may really run on.
"""

from __future__ import annotations

import os


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
