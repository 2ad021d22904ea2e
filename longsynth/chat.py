"""Chat templates: the text a chat model wraps a user message in, so a row's `prompt` is exactly what
the model is sent.

`none` sends the input as it is. `hf:<folder or Hub id>` uses the tokenizer's own template (from
`chat_template.jinja` or the `chat_template` of `tokenizer_config.json`); a path to a `.jinja` file
uses that file. Templates are rendered once, in jinja2's immutable sandbox, around a placeholder
message, which gives the text before and after the input. `strftime_now` returns a fixed date, so
the same spec builds the same bytes on any day.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from .errors import SpecError
from .network import download_hub_file, hub_unreachable
from .templating import render_source

MESSAGE = "\x00LongSynth-Message\x00"  # mixed case: a template that changes case is caught
FIXED_DATE = "26 Jul 2024"  # what `strftime_now` gives: a template's date must not change the bytes


@dataclass(frozen=True)
class ChatTemplate:
    """The text a chat template puts before and after the user's message (both empty for `none`)."""

    name: str
    before: str = ""
    after: str = ""


def _raise(message: str) -> None:
    raise jinja2.TemplateError(message)


def _token_text(value: Any) -> str:
    """A special token as `tokenizer_config.json` states it: a string, or {"content": ...}."""
    if isinstance(value, dict):
        return str(value.get("content", ""))
    return str(value or "")


def _render(source: str, config: dict[str, Any], where: str) -> ChatTemplate:
    """The template rendered around a placeholder message, in the one bounded sandbox (someone else's
    template: timed, its output counted as it grows, no includes)."""
    variables = {
        "messages": [{"role": "user", "content": MESSAGE}],
        "add_generation_prompt": True,
        "bos_token": _token_text(config.get("bos_token")),
        "eos_token": _token_text(config.get("eos_token")),
        "raise_exception": _raise,
        "strftime_now": lambda fmt: FIXED_DATE,
    }
    text = render_source(source, variables, f"chat template {where}", trim_blocks=True, lstrip_blocks=True)
    if text.count(MESSAGE) != 1:
        raise SpecError(f"chat template {where} must place the user's message once, unchanged")
    before, after = text.split(MESSAGE)
    return ChatTemplate(where, before, after)


MAX_TEMPLATE_BYTES = 1024 * 1024  # a chat template or tokenizer config, at most (real ones are a few KB)


def _read(path: Path, what: str) -> str:
    """A chat template's file: a regular file of at most MAX_TEMPLATE_BYTES, UTF-8 (else one line)."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_TEMPLATE_BYTES:
            raise SpecError(f"{what} {str(path)!r} is not a file of at most {MAX_TEMPLATE_BYTES // 1024} KB")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{what} {str(path)!r} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise SpecError(f"{what} {str(path)!r} cannot be read: {exc.strerror or exc}") from None


def _config(text: str, where: str) -> dict[str, Any]:
    """tokenizer_config.json as a dict (a list, a number or JSON nested past reading is one line)."""
    try:
        config = json.loads(text)
    except (ValueError, RecursionError):
        raise SpecError(f"the tokenizer_config.json of {where} is not JSON that can be read") from None
    if not isinstance(config, dict):
        raise SpecError(f"the tokenizer_config.json of {where} is not a JSON object")
    return config


def _hf_files(spec: str) -> tuple[str | None, dict[str, Any]]:
    """(chat_template.jinja text or None, tokenizer_config.json) of a local folder or a Hub id."""
    folder = Path(spec)
    if folder.is_dir():
        config_path, jinja_path = folder / "tokenizer_config.json", folder / "chat_template.jinja"
        config = _config(_read(config_path, "tokenizer config"), spec) if config_path.exists() else {}
        return (_read(jinja_path, "chat template") if jinja_path.exists() else None), config
    import huggingface_hub  # heavy: only for Hub ids

    found = {}
    for name in ("tokenizer_config.json", "chat_template.jinja"):
        try:
            cached = huggingface_hub.try_to_load_from_cache(spec, name)
        except Exception:  # not a valid repo id
            cached = None
        if isinstance(cached, str):
            found[name] = _read(Path(cached), name)
    if "tokenizer_config.json" not in found:
        reason = hub_unreachable()
        if reason:
            raise SpecError(f"chat_template 'hf:{spec}': not in the local Hub cache, and {reason}")
        try:
            for name in ("tokenizer_config.json", "chat_template.jinja"):
                try:
                    where = f"chat_template 'hf:{spec}'"
                    found[name] = _read(Path(download_hub_file(spec, name, MAX_TEMPLATE_BYTES, SpecError, where)), name)
                except huggingface_hub.errors.EntryNotFoundError:
                    continue
        except SpecError:
            raise
        except Exception as exc:
            raise SpecError(f"chat_template 'hf:{spec}' could not be fetched: {type(exc).__name__}") from None
    return found.get("chat_template.jinja"), _config(found.get("tokenizer_config.json", "{}"), spec)


@functools.lru_cache(maxsize=8)
def load_chat_template(name: str) -> ChatTemplate:
    """`none`, `hf:<folder or Hub id>`, or a `.jinja` file (a one-line SpecError if unusable)."""
    if name in ("", "none"):
        return ChatTemplate("none")
    if name.startswith("hf:"):
        try:
            source, config = _hf_files(name[3:])
        except (OSError, ValueError) as exc:
            raise SpecError(f"chat_template {name!r} could not be read: {exc}") from None
        if source is None:
            source = config.get("chat_template")
            if isinstance(source, list):  # named templates: the default one
                named = [t for t in source if isinstance(t, dict)]
                source = next((t.get("template") for t in named if t.get("name") == "default"), None)
        if not isinstance(source, str):
            raise SpecError(f"chat_template {name!r}: the tokenizer has no chat template; use none or a .jinja file")
        return _render(source, config, repr(name))
    path = Path(name)
    if path.suffix != ".jinja" or not path.is_file():
        raise SpecError(f"chat_template {name!r} is not none, hf:<folder or Hub id>, or a .jinja file")
    return _render(_read(path, "chat template"), {}, repr(name))
