"""The one door a server's reply comes through (`longsynth run`): bounded in time and bytes, checked
field by field, scrubbed of secrets.

A server is someone else's program. Trusting its reply piecemeal is how an endless chunked reply ran
past its 5 s timeout to 3 GB (httpx's timeout bounds each read, not the request), a 2 MB gzip bomb
grew to 8.3 GB, a `usage` of "abc" or NaN crashed the run and stayed in the partial file, and a 401
body echoing the Authorization header put the key into `predictions.parquet`. Here:

- one deadline covers the whole request (connect, send, every byte of the reply);
- the body is read raw and decompressed here, a chunk at a time, and cut off past `MAX_REPLY_BYTES`
  of decompressed text (only identity, gzip and deflate are accepted);
- only the fields we store are read, each checked (text a string, token counts whole numbers within
  bounds); anything else is not a completion;
- error text is one line of at most 200 characters with every secret of the request masked (the
  key, the URL's user and password, every header value we sent).
"""

from __future__ import annotations

import asyncio
import json
import math
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

MAX_REPLY_BYTES = 4 * 1024 * 1024  # decompressed; a completion of a few thousand tokens is a few KB
MAX_TOKENS_FIELD = 10**9  # a usage count above this is not a count
ERROR_CHARS = 200
ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


class ReplyError(Exception):
    """The reply broke a bound (time, size, encoding): recorded as the row's error, never raised out."""


@dataclass(frozen=True)
class Reply:
    status: int
    retry_after: str | None
    body: bytes


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None


def secrets_of(url: str, headers: dict[str, str]) -> list[str]:
    """Everything of a request that must never be stored or printed: header values (and the key in a
    `Bearer` value), and the URL's user and password (as written and decoded)."""
    found = []
    for value in headers.values():
        found.append(value)
        found.extend(value.split()[1:])  # "Bearer KEY" -> KEY
    parts = urlsplit(url)
    for piece in (parts.username, parts.password):
        if piece:
            found += [piece, unquote(piece)]
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """One line, at most ERROR_CHARS long, with every secret masked (before it is cut, so a secret cut
    in half cannot survive)."""
    line = " ".join(str(text).split())
    for secret in secrets:
        line = line.replace(secret, "***")
    return line[:ERROR_CHARS]


async def _read_body(response: httpx.Response) -> bytes:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "", *_WBITS):
        raise ReplyError(f"the reply uses content encoding {encoding[:40]!r}; only gzip and deflate are read")
    inflate = zlib.decompressobj(_WBITS[encoding]) if encoding in _WBITS else None
    body = bytearray()
    async for chunk in response.aiter_raw():
        data = chunk
        while data:
            room = MAX_REPLY_BYTES - len(body) + 1
            if inflate is None:
                piece, data = data[:room], data[room:]
            else:
                try:
                    piece = inflate.decompress(data, room)
                except zlib.error:
                    raise ReplyError(f"the reply is not valid {encoding}") from None
                data = inflate.unconsumed_tail
            body += piece
            if len(body) > MAX_REPLY_BYTES:
                raise ReplyError(f"the reply is larger than {MAX_REPLY_BYTES // 1024 // 1024} MiB")
    return bytes(body)


async def post(client: httpx.AsyncClient, url: str, payload: dict[str, Any], headers: dict[str, str], seconds: float):
    """POST `payload` and read the whole reply within `seconds` in all and MAX_REPLY_BYTES; raises
    ReplyError, httpx.TimeoutException or httpx.TransportError."""

    async def exchange() -> Reply:
        sent = {**headers, "Accept-Encoding": ACCEPT_ENCODING}
        async with client.stream("POST", url, json=payload, headers=sent, timeout=seconds) as response:
            body = await _read_body(response)
            return Reply(response.status_code, response.headers.get("retry-after"), body)

    try:
        return await asyncio.wait_for(exchange(), seconds)
    except asyncio.TimeoutError:
        raise httpx.TimeoutException(f"no whole reply within {seconds:g} s") from None


TimeoutError = httpx.TimeoutException  # a request (or the whole reply) that took too long
TransportError = httpx.TransportError  # a connection refused, dropped or reset


def client(concurrency: int, seconds: float) -> httpx.AsyncClient:
    """The one HTTP client of a run: at most `concurrency` connections."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(limits=limits, timeout=seconds)


def reachable(url: str, headers: dict[str, str], seconds: float) -> str | None:
    """None if anything answers at `url` within `seconds` (any HTTP answer will do), else why not."""
    try:
        with httpx.stream("GET", url, headers=headers, timeout=seconds) as response:
            response.close()  # the status is enough: the body is not read
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None


def _count(value: Any) -> int | None:
    """A usage count as stored: a whole number in [0, MAX_TOKENS_FIELD], else unknown (None)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        return None
    return int(value) if 0 <= value <= MAX_TOKENS_FIELD else None


def completion(body: bytes, chat: bool) -> Completion:
    """The fields we store from a 200 reply, each checked; ValueError if it is not a completion."""
    try:
        data = json.loads(body.decode("utf-8"))
        choice = data["choices"][0]
        text = choice["message"]["content"] if chat else choice["text"]
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError, RecursionError):
        raise ValueError("the reply is not an OpenAI-style completion") from None
    if text is not None and not isinstance(text, str):
        raise ValueError("the reply's text is not a string")
    usage = data.get("usage") if isinstance(data, dict) else None
    usage = usage if isinstance(usage, dict) else {}
    return Completion(text or "", _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")))


def error_text(reply: Reply, secrets: list[str]) -> str:
    """`HTTP <status>: <body>`, scrubbed, for a reply that is an error."""
    body = reply.body[: ERROR_CHARS * 8].decode("utf-8", errors="replace")
    return scrub(f"HTTP {reply.status}: {body}", secrets)
