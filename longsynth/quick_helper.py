"""quicktok in a helper process: a build's samples measured without stalling the build.

A build measures each sample with quicktok, an exact BPE about six times faster than tiktoken
(see `tokenizers.TiktokenTokenizer.measure_ids`). Loading quicktok's encoding holds the
interpreter lock for 0.12 s (cl100k; longer for o200k), and in the build's own process that
stalls the thread making samples: a fifth to a third of a 100-sample 32K build. In a process of
its own the load runs on another core while the build goes on (tiktoken measures the samples
made before the helper is ready), and each encode after that costs the build only a pipe write
and read, outside the lock.

Batches of units (a haystack of 1,500 distractor needles, a word list) are counted there too once
it is ready (`count`), as quicktok counted them in-process when it was loaded there.

The helper runs this file, by path, with stdlib and quicktok only (no longsynth; numpy only for a
large build, see `_ids_function`): it starts in about 0.15 s and holds about 50 MiB. It answers
requests in the order they came; the parent sends the next while the helper works on one
(`QuickHelper._ask`), through pipes widened to 1 MiB. A request is an operation byte, the
payload's length (8 bytes, little-endian) and the payload: `ENCODE`
a text's UTF-8 bytes, answered with the token count (8 bytes; `FAILED` when quicktok raised) and
the ids as little-endian uint32; `COUNT` the texts' UTF-8 byte lengths (uint64 each, after their
number) and bytes, answered with their number (or `FAILED`) and their counts as uint32. The
helper exits when its input closes, which is also what happens when the build process dies.
"""

from __future__ import annotations

import struct
import sys

READY, UNAVAILABLE = b"R", b"U"  # the helper's first byte: loaded, or quicktok could not load
ENCODE, COUNT = b"E", b"C"  # a request's operation: one text's ids, or many texts' counts
BATCH_IDS_FROM = 5_000_000  # tokens a build measures, from which the helper encodes to arrays (`_ids_function`)
FAILED = 2**64 - 1  # the count sent when quicktok raised on a text (the parent then uses tiktoken)
_LENGTH = struct.Struct("<Q")


class QuickHelper:
    """A quicktok helper process for one encoding (see the module docstring). Thread-safe: requests
    are written one at a time and their answers read in the same order. `encode` returns None
    whenever the helper cannot answer (not started, gone, a text it refused); the caller then
    encodes in-process, so a helper never fails a build."""

    def __init__(self, name: str, batch_ids: bool = False):
        import os
        import subprocess
        import threading
        import weakref

        self._pid = os.getpid()  # a forked copy of this object must not write to the same pipe
        self._lock = threading.Lock()  # reading the first byte (`ready`)
        self._sending = threading.Lock()  # one request written at a time
        self._turn = threading.Condition()  # answers are read in the order the requests were sent
        self._sent = 0  # requests written so far (a request's ticket is their number before it)
        self._answered = 0  # answers read so far
        self._ready = False
        self._gone = False
        self._process = subprocess.Popen(
            [sys.executable, "-I", __file__, name, *(["--batch-ids"] if batch_ids else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        weakref.finalize(self, stop_process, self._process)
        for pipe in (self._process.stdin, self._process.stdout):
            _widen(pipe)

    def loading(self) -> bool:
        """Whether the helper is still loading its encoding (not ready, and not gone)."""
        return not self.ready() and not self._gone

    def ready(self, wait: float = 0.0) -> bool:
        """Whether the helper has loaded its encoding, waiting at most `wait` seconds for it."""
        if self._ready or self._gone:
            return self._ready
        import select

        acquired = self._lock.acquire(timeout=wait) if wait > 0 else self._lock.acquire(blocking=False)
        if not acquired:
            return False
        try:
            if not self._ready and not self._gone:
                readable, _, _ = select.select([self._process.stdout], [], [], wait)
                if readable:
                    first = self._process.stdout.read(1)
                    self._ready, self._gone = first == READY, first != READY
        except (OSError, ValueError):
            self._gone = True
        finally:
            self._lock.release()
        return self._ready

    def encode(self, text: str):
        """The text's quicktok ids (a uint32 numpy array), or None when the helper cannot answer."""
        import numpy as np

        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: tiktoken has its own rule for those
            return None
        answer = self._ask(ENCODE, data, 4)
        return None if answer is None else np.frombuffer(answer, dtype="<u4").astype(np.uint32)

    def count(self, texts: list[str]) -> list[int] | None:
        """Each text's quicktok token count, or None when the helper cannot answer."""
        import array

        try:
            pieces = [t.encode("utf-8") for t in texts]
        except UnicodeEncodeError:
            return None
        sizes = array.array("Q", map(len, pieces))
        if sys.byteorder != "little":
            sizes.byteswap()
        answer = self._ask(COUNT, _LENGTH.pack(len(pieces)) + sizes.tobytes() + b"".join(pieces), 4)
        if answer is None:
            return None
        counts = array.array("I", answer)
        if sys.byteorder != "little":
            counts.byteswap()
        return counts.tolist()

    def _ask(self, operation: bytes, payload: bytes, item_size: int) -> bytes | None:
        """Send one request; the answer's items (`item_size` bytes each), or None.

        Requests are pipelined: a thread writes its request as soon as the previous one is written,
        then reads its answer when the answers before it have been read. So the helper finds the
        next request waiting when it has answered one, where a request sent only after the previous
        answer was read left it idle for the round trip (a 32K Chinese sample: 2.3 ms a request
        between two encoding threads against 1.6 ms for its encode and its pipes alone)."""
        import os

        if not self._ready or self._gone or os.getpid() != self._pid:
            return None
        with self._sending:
            if self._gone:
                return None
            ticket = self._sent
            self._sent += 1
            try:
                self._process.stdin.write(operation + _LENGTH.pack(len(payload)))
                self._process.stdin.write(payload)
                self._process.stdin.flush()
            except (OSError, ValueError):
                self._stop_answering()
                return None
        with self._turn:
            while self._answered != ticket and not self._gone:
                self._turn.wait()
            if self._gone:
                return None
            try:
                (items,) = _LENGTH.unpack(_read(self._process.stdout, _LENGTH.size))
                answer = None if items == FAILED else _read(self._process.stdout, item_size * items)
            except (OSError, ValueError, EOFError):
                self._gone = True
                answer = None
            self._answered += 1
            self._turn.notify_all()
            return answer

    def _stop_answering(self) -> None:
        """A request could not be sent whole: no answer after it can be trusted to be its own."""
        with self._turn:
            self._gone = True
            self._turn.notify_all()

    def close(self) -> None:
        self._gone = True
        stop_process(self._process)  # (a thread reading an answer meets the end of the output)
        with self._turn:  # threads waiting for their turn to read return None
            self._turn.notify_all()


PIPE_BYTES = 1 << 20  # a pipe's capacity asked for: a whole 128K-token sample's request or answer


def _widen(pipe) -> None:
    """Ask Linux for a 1 MiB pipe (64 KiB by default), so that a request or an answer goes through in
    one write, without the other side having to read part of it first; elsewhere, or past the
    system's limit, the pipe stays as it is."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError, ValueError):  # (F_SETPIPE_SZ: Linux only)
        pass


def _read(stream, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("the quicktok helper stopped answering")
    return data


def stop_process(process) -> None:
    """Close a helper's input (it exits at once), reap it and close its output (this helper's and
    `hf_helper`'s; a thread still reading it has met its end by then)."""
    import subprocess

    try:
        process.stdin.close()
    except OSError:
        pass
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    try:
        if process.stdout is not None:
            process.stdout.close()
    except (OSError, ValueError):
        pass


def _ids_function(encoding, batch_ids: bool):
    """text -> its ids as little-endian uint32 (a buffer with `len`).

    With `batch_ids` (a build of `BATCH_IDS_FROM` tokens or more), from quicktok's batch encoder,
    which returns them as one numpy array: half the time of `encode_ordinary`, whose Python list of
    ints is built and then copied into an array (a 32K-token Chinese sample: 0.72 against 1.63 ms).
    Calling it once here imports numpy (through pybind11), so the helper is ready 60 ms later (150
    to 210 ms), and a small build loses more while it loads than it gains after. Measured with 100
    Chinese samples (`bench/speed.py`, build over one encode), lists against arrays: 32K 0.88 to
    0.96 against 0.92 to 1.02; 64K 0.66 to 0.73 against 0.63; 128K 0.53 to 0.60 against 0.46 to
    0.49."""
    import array

    def from_list(text: str):
        ids = array.array("I", encoding.encode_ordinary(text))
        if sys.byteorder != "little":
            ids.byteswap()
        return ids

    if not batch_ids:
        return from_list
    batch = getattr(encoding, "encode_batch", None)
    try:
        ids, _ = batch(["warm up"], 1, False)
        if ids.dtype.itemsize != 4 or ids.dtype.kind != "u" or ids.tolist() != encoding.encode_ordinary("warm up"):
            raise TypeError(ids.dtype)
    except Exception:  # (a quicktok without it, or of another form: its list, as before)
        return from_list
    return lambda text: batch([text], 1, False)[0].astype("<u4", copy=False)


def serve(name: str, batch_ids: bool = False) -> None:
    """The helper's loop (this file run as a script): answer requests until the input closes."""
    import array

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        import quicktok

        encoding = quicktok.get_encoding(name)
        ids_of = _ids_function(encoding, batch_ids)
    except Exception:
        stdout.write(UNAVAILABLE)
        stdout.flush()
        return
    stdout.write(READY)
    stdout.flush()
    while True:
        head = stdin.read(1 + _LENGTH.size)
        if len(head) < 1 + _LENGTH.size:
            return
        (size,) = _LENGTH.unpack_from(head, 1)
        data = stdin.read(size)
        if len(data) < size:
            return
        try:
            if head[:1] == ENCODE:
                items = ids_of(data.decode("utf-8"))
            else:
                (number,) = _LENGTH.unpack_from(data)
                sizes = array.array("Q", data[_LENGTH.size : _LENGTH.size * (1 + number)])
                if sys.byteorder != "little":
                    sizes.byteswap()
                items, offset = array.array("I"), _LENGTH.size * (1 + number)
                for length in sizes:
                    items.append(encoding.count(data[offset : offset + length].decode("utf-8")))
                    offset += length
                if sys.byteorder != "little":
                    items.byteswap()
        except Exception:
            stdout.write(_LENGTH.pack(FAILED))
        else:
            stdout.write(_LENGTH.pack(len(items)))
            stdout.write(memoryview(items).cast("B"))
        stdout.flush()


if __name__ == "__main__":
    serve(sys.argv[1], batch_ids="--batch-ids" in sys.argv[2:])
