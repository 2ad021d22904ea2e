"""Whether the Hugging Face Hub can be reached, asked once with a short timeout.

The Hub clients retry a connection that cannot succeed for half a minute, printing a line per retry.
A tokenizer or corpus named by Hub id is first looked up in the local cache; if it is not there, this
check turns "no network" into one error line within seconds.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from urllib.parse import urlparse

PROBE_SECONDS = 3.0


def hub_offline_by_choice() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_unreachable(timeout: float = PROBE_SECONDS) -> str | None:
    """Why the Hub cannot be reached now, or None if a connection opens within `timeout` seconds
    (the name lookup included, which a socket timeout does not bound: it runs on a helper thread)."""
    if hub_offline_by_choice():
        return "HF_HUB_OFFLINE is set"
    return _probe(os.environ.get("HF_ENDPOINT") or "https://huggingface.co", timeout)


@functools.lru_cache(maxsize=4)
def _probe(url: str, timeout: float) -> str | None:
    endpoint = urlparse(url)
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or (443 if endpoint.scheme != "http" else 80)
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    probe = threading.Thread(target=connect, name="longsynth-hub-probe", daemon=True)
    probe.start()
    probe.join(timeout)
    if not outcome:
        return f"{host} did not answer within {timeout:g} s"
    if outcome[0] is not None:
        return f"{host} cannot be reached ({outcome[0].strerror or outcome[0]})"
    return None


def download_hub_file(repo_id: str, filename: str, limit: int, error: type[Exception], what: str) -> str:
    """A file of a Hub repo, downloaded into the Hub cache once the Hub's record of its size shows it
    holds at most `limit` bytes (else `error`, naming `what`). A repo is someone else's: its
    tokenizer.json or chat template could be gigabytes, downloaded whole before any check on the
    file could refuse it. A missing file raises what huggingface_hub raises for it."""
    import huggingface_hub  # heavy: only for Hub ids

    size = huggingface_hub.get_hf_file_metadata(huggingface_hub.hf_hub_url(repo_id, filename)).size
    if size is None or size > limit:
        held = "an unknown number of" if size is None else f"{size:,}"
        raise error(f"{what}: the Hub's {repo_id}/{filename} holds {held} bytes, more than the {limit:,} it may have")
    return huggingface_hub.hf_hub_download(repo_id, filename)
