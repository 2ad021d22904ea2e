"""The cores this process may use (what sizes thread pools: builds, token counting), and worker processes'
tie to the process that started them.

`os.cpu_count()` counts the machine's cores; a container, a `taskset` or a Ray worker may be given
fewer, and `sched_getaffinity` says how many this process may really run on.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Run in each worker process: exit as soon as the build process that started it is gone (killed,
    even with SIGKILL), instead of building shards for nobody. Linux delivers SIGKILL on the parent's
    death (PR_SET_PDEATHSIG); everywhere, a daemon thread also checks the parent every `interval`."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the watch below does it
        pass
    if os.getppid() != parent:  # died before the watch started
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="longsynth-parent-watch", daemon=True).start()


def process_pool(workers: int):
    """A pool of `workers` fresh processes on this machine (spawned: no inherited tokenizer threads or
    locks), each of which exits when the process that started it is gone."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=exit_with_parent, initargs=(os.getpid(),)
    )
