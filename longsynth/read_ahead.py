"""Producing the items of an iterator on a background thread while the caller works on earlier ones
(`read_ahead`), computing items on several threads and taking them in order (`ordered_map`), and
writing behind the caller (`WriteBehind`).

An index build has two halves that can overlap on two cores: reading and chunking documents (Python,
holding the GIL) and tokenizing and indexing them (polars in Rust and quicktok in C++, without it). One
after the other they took 18.7 s for 100,000 documents; overlapped, about the longer of the two.
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()


def read_ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """The items of `items` in order, produced by a thread that runs at most `depth` items ahead.

    An exception in the producer is raised here, at the point the failing item would have come.
    Stopping early (an error in the caller, or closing this generator) stops the producer after the
    item it is making."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((_END, exc))

    thread = threading.Thread(target=produce, name="longsynth-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = ready.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        thread.join()


def ordered_map(fn: Callable[[T], Any], items: Iterable[T], workers: int, ahead: int | None = None) -> Iterator[Any]:
    """`fn` of each item, in order, computed by `workers` threads at most `ahead` items (default:
    `workers`) beyond the one the caller takes: work that releases the GIL (numpy, polars) runs on
    every core while memory holds a few results. Leaving early waits for the items in flight."""
    ahead = max(1, ahead or workers)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="longsynth-ordered") as pool:
        pending: collections.deque[Future] = collections.deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) > ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


class WriteBehind:
    """Runs writes (`put(write, *args)`) in order on a thread of its own, at most `depth` behind the
    caller, so a write the kernel holds back (it slows writers once enough is unwritten: an index of a
    million documents writes 5 GB of texts and 1.1 GB of scratch) does not hold up the work that
    follows it. A failed write is raised at a later `put` or on leaving the `with` block, which waits
    for every write."""

    def __init__(self, depth: int = 4, name: str = "longsynth-write-behind"):
        self._depth = depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: collections.deque[Future] = collections.deque()

    def put(self, write: Callable[..., Any], *args: Any) -> None:
        self._pending.append(self._pool.submit(write, *args))
        while len(self._pending) > self._depth:  # memory holds a few writes, not all the disk is behind on
            self._pending.popleft().result()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True)
