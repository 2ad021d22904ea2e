"""A real OpenAI-compatible HTTP server on 127.0.0.1 with a deterministic "model", for the tests.

The model reads a needle prompt: it answers the asked key's value when that needle sits in the first
half of the prompt, and a wrong number otherwise, so scores show a clear depth boundary. Faults are
set per server: answer an HTTP status, hang past the client's timeout, or drop the connection, for
the first N requests of each prompt (so retries recover), or always for prompts holding a marker.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

QUESTION = re.compile(r"hidden \w+ for ([a-z]+-[a-z]+) in the text")
WRONG = "0000000"


def needle_answer(prompt: str) -> str:
    """The asked key's value if its needle is in the first half of the prompt, else a wrong number."""
    asked = QUESTION.search(prompt)
    if not asked:
        return "I cannot tell."
    needle = re.search(rf"hidden \w+ for {re.escape(asked.group(1))} is (\d+)", prompt)
    if needle is None or needle.start() > len(prompt) / 2:
        return f"The number is {WRONG}."
    return f"The number is {needle.group(1)}."


@dataclass
class Faults:
    status: int = 0  # answer this HTTP status ...
    hang: float = 0.0  # ... or sleep this long first ...
    drop: bool = False  # ... or close the connection without answering ...
    first: int = 0  # ... for the first `first` requests of each prompt
    always_marker: str = ""  # a prompt holding this text always gets the fault
    delay: float = 0.0  # every answer waits this long (a slow model)
    # A hostile server: answers every request itself (handler, parsed body); see test_hostile_server.py.
    raw: Callable[[BaseHTTPRequestHandler, dict], None] | None = None


@dataclass
class State:
    faults: Faults = field(default_factory=Faults)
    key: str | None = None  # the Authorization the server demands, if any
    seen: Counter = field(default_factory=Counter)  # requests per prompt
    requests: int = 0
    authorizations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    state: State  # set on the class the server is made with

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "needle-reader", "object": "model"}]})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        state = self.state
        chat = self.path.endswith("/chat/completions")
        prompt = body["messages"][-1]["content"] if chat else body.get("prompt", "")
        with state.lock:
            state.requests += 1
            state.seen[prompt] += 1
            attempt = state.seen[prompt]
            state.authorizations.append(self.headers.get("Authorization", ""))
        if state.key is not None and self.headers.get("Authorization") != f"Bearer {state.key}":
            self._send(401, {"error": "bad key"})
            return
        faults = state.faults
        if faults.raw is not None:
            faults.raw(self, body)
            return
        faulty = attempt <= faults.first or (faults.always_marker and faults.always_marker in prompt)
        if faulty and faults.drop:
            self.close_connection = True
            self.connection.close()
            return
        if faulty and faults.hang:
            time.sleep(faults.hang)
        if faulty and faults.status:
            self._send(faults.status, {"error": "fault"})
            return
        if faults.delay:
            time.sleep(faults.delay)
        text = needle_answer(prompt)
        usage = {"prompt_tokens": len(prompt) // 4, "completion_tokens": 5, "total_tokens": len(prompt) // 4 + 5}
        choice = {"index": 0, "finish_reason": "stop"}
        choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
        self._send(200, {"id": "x", "object": "chat.completion", "choices": [choice], "usage": usage})


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-request (a `run` that stopped on a full disk with requests in
        flight) is not the server's error: socketserver printed its traceback to stderr, where a test
        that counts the client's error lines, running in this process, read it as the client's."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Loopback:
    """`with Loopback() as server:` a server on 127.0.0.1 at `server.url` (the /v1 base)."""

    def __init__(self, state: State | None = None, port: int = 0):
        self.state = state or State()
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = _Server(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Loopback:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":  # a server for a person or a benchmark: python tests/eval/loopback.py [PORT] [DELAY]
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    delay = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    with Loopback(State(faults=Faults(delay=delay)), port=port) as server:
        print(server.url, flush=True)
        threading.Event().wait()
