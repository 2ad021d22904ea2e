"""Encode samples on background threads while the build generates the next ones.

A sample's one full encode (its measurement) runs outside the GIL in tiktoken
and in the tokenizers library, so it can overlap Python work. How much there
is to overlap depends on the family: a holobench sample takes longer to make
than to encode, so one encoding thread hides every encode behind the next
sample's generation, and a second one would only take a core from the build
thread; a needle sample is made in a millisecond, so the build thread mostly
waits for encodes. So one encode runs at a time while the build thread works,
and every encoding thread may run while it waits for a result: the cores stay
busy and are not oversubscribed.

Encodes run on these background threads only, never on the build thread:
measured with tiktoken 0.14, a large encode on the main thread concurrent with
one on another thread ran 1.3 to 2.3 times slower than two on other threads.

At the start of a large build tiktoken's faster measurer, the quicktok helper,
is still loading on the other core (about 0.15 s). A tiktoken encode then
would take a core from it or from the build thread, and do slowly what the
helper does in a fifth of the time once it is ready. So until it is ready,
texts are encoded only while the build thread waits, and the build thread
makes samples further ahead instead of waiting (`pipeline.AHEAD_TOKENS`):
a 100-sample 32K ATC build took 0.56 instead of 0.60 s. Once it is ready, and
while it works through the samples queued while it loaded, the build thread
goes on making samples whenever the oldest one's measurement is not back yet
(up to the same bound) instead of waiting for each in turn.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .tokenizers import Measurement, Tokenizer, measure

HELPER_WAIT = 2.0  # seconds a build waits for the helper's encoding to load before it stops waiting


@dataclass
class EncodeJob:
    text: str
    result: Measurement | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Encoders:
    """`threads` background threads measure queued texts in order (see the module docstring)."""

    def __init__(self, tokenizer: Tokenizer, threads: int):
        self.tokenizer = tokenizer
        self._queue: deque[EncodeJob] = deque()
        self._state = threading.Condition()
        self._running = 0
        self._waiting = 0
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"longsynth-encode-{n}", daemon=True) for n in range(threads)
        ]
        # A faster measurer still loading (tiktoken's quicktok helper, on the other core): until it
        # is ready, texts are encoded here only while the build thread waits (see `_allowed`).
        self.loading = bool(getattr(tokenizer, "helper_loading", lambda: False)())
        if self.loading:  # not joined by `close`: it ends when the helper is ready or HELPER_WAIT is up
            threading.Thread(target=self._wait_for_helper, name="longsynth-helper-wait", daemon=True).start()
        for thread in self._threads:
            thread.start()

    @property
    def elsewhere(self) -> bool:
        """Whether texts are measured by a process on another core (the quicktok helper, loading or
        ready): the build thread then loses nothing by making samples ahead instead of waiting."""
        return self.loading or bool(getattr(self.tokenizer, "helper_measures", lambda: False)())

    def submit(self, text: str) -> EncodeJob:
        job = EncodeJob(text)
        with self._state:
            self._queue.append(job)
            self._state.notify_all()
        return job

    def result(self, job: EncodeJob) -> Measurement:
        """The job's measurement; while this thread waits, every encoding thread may run."""
        if not job.done.is_set():
            with self._state:
                self._waiting += 1
                self._state.notify_all()
            try:
                job.done.wait()
            finally:
                with self._state:
                    self._waiting -= 1
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def close(self) -> None:
        """Stop the threads; texts nobody has started are dropped (the build has stopped asking)."""
        with self._state:
            self._closed = True
            self._queue.clear()
            self._state.notify_all()
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> Encoders:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _allowed(self) -> int:
        """Encodes that may run now. While the helper loads (on the other core): none while the build
        thread works, one while it waits (all of them slowed the helper's load, 0.18 to 0.26 s, and
        Chinese 32K builds took 0.99 of an encode against 0.92). Once the helper measures: all, as
        an encode then costs this process only its pipes, and a request written while the helper
        works on the one before finds it busy (`QuickHelper._ask`). With tiktoken: one while the
        build thread works, all while it waits."""
        if self.loading:
            return 1 if self._waiting else 0
        if self._waiting or self._helper_measures():
            return len(self._threads)
        return 1

    def _helper_measures(self) -> bool:
        return bool(getattr(self.tokenizer, "helper_measures", lambda: False)())

    def _wait_for_helper(self) -> None:
        self.tokenizer.wait_for_helper(HELPER_WAIT)
        with self._state:
            self.loading = False
            self._state.notify_all()

    def _work(self) -> None:
        while True:
            with self._state:
                while not self._closed and not (self._queue and self._running < self._allowed()):
                    self._state.wait()
                if self._closed:
                    return
                job = self._queue.popleft()
                self._running += 1
            try:
                job.result = measure(self.tokenizer, job.text)
            except BaseException as exc:  # re-raised in the thread that asks for the result
                job.error = exc
            finally:
                with self._state:
                    self._running -= 1
                    self._state.notify_all()
                job.done.set()
