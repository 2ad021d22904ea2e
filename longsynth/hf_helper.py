"""Someone's Hugging Face tokenizer, run in a process of its own with a deadline on every request.

A tokenizer.json is input from someone else, and the `tokenizers` library runs the regular
expressions in it (a pre-tokenizer's split, a normalizer's replace) with a backtracking engine.
One that backtracks without end makes the engine give up and the library panic: in this process
that was a BaseException no `except Exception` stops, and a note on the terminal. One that
backtracks a little less never gives up: a 1K-token needle build took hours (23 ms a character).
Neither can be told from the file, and a call into the library cannot be interrupted (it holds the
interpreter lock). So the library runs in a helper process: each request has a deadline from its
size (`deadline`), a helper past it is killed, and a panic or a kill is one `TokenizerError` naming
the tokenizer. The helper's stderr goes nowhere, so the library's notes never reach the terminal.

The helper runs this file, by path, with stdlib and `tokenizers` only. The protocol is one request
at a time: the parent writes an operation byte, the payload's length (8 bytes, little-endian) and
the payload; the helper answers a status byte (`OK`, or `FAILED` with a UTF-8 message as its data),
the data's length and the data. Operations: `LOAD` a tokenizer.json's path (no data back); `IDS`
a text's ids and `ENDS` each of its tokens' end offsets in characters (uint32 each); `COUNTS`
texts (their number, each one's UTF-8 length as uint64, then their bytes) to their token counts
(uint32 each); `DECODE` ids (uint32) to text. The helper exits when its input closes, which is
also what happens when the parent dies.
"""

from __future__ import annotations

import struct
import sys

LOAD, IDS, ENDS, COUNTS, DECODE = b"L", b"I", b"E", b"C", b"D"
OK, FAILED = b"K", b"F"
_LENGTH = struct.Struct("<Q")

if __package__:  # imported by a build; run as the helper (a script, by path), it needs stdlib only
    from .quick_helper import stop_process

SECONDS = 30.0  # every request's deadline starts here ...
BYTES_PER_SECOND = 16_000  # ... and grows by a second per this many bytes it sends (a real tokenizer:
# a megabyte or more a second, so 60 times the slowest it is allowed)
LOAD_BYTES_PER_SECOND = 2_000_000  # loading: a second per this many bytes of tokenizer.json


def deadline(payload_bytes: int, per_second: int = BYTES_PER_SECOND) -> float:
    """Seconds a request of this many bytes may take before the helper is killed."""
    return SECONDS + payload_bytes / per_second


class HelperFailed(Exception):
    """The helper refused a request (its message), took longer than its deadline, or stopped."""


class TokenizerProcess:
    """The helper process for one tokenizer file (see the module docstring). Thread-safe: one request
    at a time. A copy in another process (pickled, or forked) starts its own helper."""

    def __init__(self, file: str):
        import threading

        self.file = file
        self._lock = threading.Lock()
        self._process = None
        self._pid = None

    def __reduce__(self):
        return (TokenizerProcess, (self.file,))

    def ask(self, operation: bytes, payload: bytes, per_second: int = BYTES_PER_SECOND) -> bytes:
        """Send one request and return the answer's data; HelperFailed on a refusal, a deadline
        passed (the helper is killed) or a helper that stopped."""
        import os

        with self._lock:
            try:
                if self._process is None or self._pid != os.getpid():
                    self._start()
                return self._exchange(operation, payload, deadline(len(payload), per_second))
            except HelperFailed:
                raise
            except (OSError, ValueError, EOFError) as exc:
                self._kill()
                raise HelperFailed(f"the tokenizer process stopped ({exc or type(exc).__name__})") from None

    def _start(self) -> None:
        import os
        import subprocess
        import weakref

        self._process = subprocess.Popen(
            [sys.executable, "-I", __file__, repr(SECONDS)],  # (the helper's deadlines are the parent's)
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        self._pid = os.getpid()
        weakref.finalize(self, stop_process, self._process)
        self._exchange(LOAD, self.file.encode("utf-8"), deadline(os.path.getsize(self.file), LOAD_BYTES_PER_SECOND))

    def _exchange(self, operation: bytes, payload: bytes, seconds: float) -> bytes:
        import time

        limit = time.monotonic() + seconds
        process = self._process
        process.stdin.write(operation + _LENGTH.pack(len(payload)))
        process.stdin.write(payload)
        process.stdin.flush()
        head = self._read(1 + _LENGTH.size, limit, seconds)
        (size,) = _LENGTH.unpack_from(head, 1)
        data = self._read(size, limit, seconds)
        if head[:1] != OK:
            raise HelperFailed(data.decode("utf-8", "replace"))
        return data

    def _read(self, size: int, limit: float, seconds: float) -> bytes:
        """`size` bytes of the helper's answer, waiting no later than `limit` (then it is killed)."""
        import os
        import select
        import time

        out = self._process.stdout
        chunks, wanted = [], size
        while wanted:
            left = limit - time.monotonic()
            readable = select.select([out], [], [], max(0.0, left))[0] if left > 0 else []
            if not readable:
                self._kill()
                raise HelperFailed(f"it took more than {seconds:.0f} s on one request, and was stopped")
            chunk = os.read(out.fileno(), min(wanted, 1 << 20))
            if not chunk:
                self._kill()
                raise EOFError("it exited")
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                stop_process(self._process)
                self._process = None


def _uint32(values) -> bytes:
    import array

    items = array.array("I", values)
    if sys.byteorder != "little":
        items.byteswap()
    return items.tobytes()


def _answer(operation: bytes, data: bytes, tokenizer):
    """The data of one request's answer (the helper's side)."""
    import array

    if operation == IDS:
        return _uint32(tokenizer.encode(data.decode("utf-8"), add_special_tokens=False).ids)
    if operation == ENDS:
        offsets = tokenizer.encode(data.decode("utf-8"), add_special_tokens=False).offsets
        return _uint32(end for _, end in offsets)
    if operation == COUNTS:
        (number,) = _LENGTH.unpack_from(data)
        sizes = array.array("Q", data[_LENGTH.size : _LENGTH.size * (1 + number)])
        if sys.byteorder != "little":
            sizes.byteswap()
        texts, offset = [], _LENGTH.size * (1 + number)
        for length in sizes:
            texts.append(data[offset : offset + length].decode("utf-8"))
            offset += length
        return _uint32(len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False))
    if operation == DECODE:
        ids = array.array("I", data)
        if sys.byteorder != "little":
            ids.byteswap()
        return tokenizer.decode(ids.tolist()).encode("utf-8", "surrogatepass")
    raise ValueError(f"unknown operation {operation!r}")


def serve() -> None:
    """The helper's loop (this file run as a script): answer requests until the input closes.

    A request that runs past its deadline is the parent's to stop; should the parent be gone (killed
    while the library ran), the helper ends itself a little after the deadline: faulthandler's timer
    runs on a thread of its own in C, where a Python thread would wait for the interpreter lock the
    library holds."""
    import faulthandler
    import os

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    tokenizer = None
    while True:
        head = stdin.read(1 + _LENGTH.size)
        if len(head) < 1 + _LENGTH.size:
            return
        (size,) = _LENGTH.unpack_from(head, 1)
        data = stdin.read(size)
        if len(data) < size:
            return
        try:
            load_size = os.path.getsize(data.decode("utf-8")) if head[:1] == LOAD else 0
        except (OSError, ValueError):
            load_size = 0
        seconds = deadline(load_size, LOAD_BYTES_PER_SECOND) if head[:1] == LOAD else deadline(size)
        faulthandler.dump_traceback_later(seconds + 5, exit=True)  # (its note goes to stderr: nowhere)
        try:
            if head[:1] == LOAD:
                import tokenizers

                tokenizer = tokenizers.Tokenizer.from_file(data.decode("utf-8"))
                answer = b""
            else:
                answer = _answer(head[:1], data, tokenizer)
        except BaseException as exc:  # a panic of the library's Rust is a BaseException
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            message = (str(exc).strip().splitlines() or [type(exc).__name__])[0].encode("utf-8", "replace")
            stdout.write(FAILED + _LENGTH.pack(len(message)) + message)
        else:
            stdout.write(OK + _LENGTH.pack(len(answer)) + answer)
        finally:
            faulthandler.cancel_dump_traceback_later()
        stdout.flush()


if __name__ == "__main__":
    SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS
    serve()
