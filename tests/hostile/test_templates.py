"""Someone else's templates, through the one renderer: a chat template (a `.jinja` file or an `hf:`
folder) and a `--template-dir` template get the same sandbox and the same bounds, checked while
rendering (time, output size counted as it grows, repetition, widths, recursion, no includes).

Each case runs `longsynth build` and asserts one `error:` line (exit 2), no traceback, bounded time
and bounded memory: before these bounds, a nested loop in a chat template ran for good, `"x"*3e9`
reached 8.7 GB and `|center(2e9)` 4.9 GB and then a Rust panic.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import longsynth.templating as templating
from longsynth.cli import cli

WRAP = "{% for m in messages %}<user>{{ m.content }}</user>{% endfor %}<assistant>"
CHAT_CASES = {  # name -> (template text, a fragment of the error line)
    "a nested loop": ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}" + WRAP,
                      "took more than 0.5 s"),
    "a huge repetition": ('{{ "x" * 3000000000 }}' + WRAP, "repetition of more than"),
    "a huge center": ('{{ "x"|center(2000000000) }}' + WRAP, "too wide"),
    "a huge ljust": ('{{ "x".ljust(10**9) }}' + WRAP, "str.ljust"),
    "a huge zfill": ('{{ "1".zfill(2000000000) }}' + WRAP, "str.zfill"),
    "a huge percent width": ('{{ "%2000000000d" % 1 }}' + WRAP, "asks for a width"),
    "a huge format width": ('{{ "{:2000000000}".format(1) }}' + WRAP, "asks for a width"),
    "a huge format filter": ('{{ "%2000000000s"|format("x") }}' + WRAP, "asks for a width"),
    "a huge indent": ('{{ ("a\n" * 500000)|indent(900000) }}' + WRAP, "indent"),
    "a replace that explodes": ('{{ ("x" * 900000)|replace("", "yyyy") }}' + WRAP, "a replace that makes"),
    "a str replace that explodes": ('{{ ("x" * 900000).replace("x", "y" * 900000) }}' + WRAP, "a replace"),
    "output that keeps growing": ('{% for i in range(5000) %}{{ "x" * 999999 }}{% endfor %}' + WRAP,
                                  "rendered more than"),
    "a recursive macro": ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}" + WRAP, "recursed too deeply"),
    "an include": ('{% include "other.jinja" %}' + WRAP, "includes or imports"),
    "an import": ('{% import "other.jinja" as o %}' + WRAP, "includes or imports"),
    "a huge power": ("{{ 10 ** 100000 }}" + WRAP, "too large a number"),
    "deeply nested syntax": ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}" + WRAP, "nested too deeply"),
    "a message changed": ("{{ messages[0].content|upper }}", "must place the user's message once"),
    # A namespace doubling its string forty times: 2^40 characters; it reached 3 GB before the timer fired.
    "a string doubled by ~": ('{% set ns = namespace(s="x") %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}'
                              "{% endfor %}{{ ns.s|length }}" + WRAP, "a ~ join of more than"),
    "a string doubled by +": ('{% set ns = namespace(s="x") %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}'
                              "{% endfor %}{{ ns.s|length }}" + WRAP, "a + of more than"),
    "a list doubled by +": ("{% set ns = namespace(s=[1]) %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
                            "{% endfor %}{{ ns.s|length }}" + WRAP, "a + of more than"),
}  # fmt: skip


def _build(tmp_path: Path, *extra: str):
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    args = ["build", "--lengths", "1k", "--samples", "1", "--depths", "50", "-o", str(tmp_path / "out"), *extra]
    result = CliRunner().invoke(cli, args)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    seconds = time.monotonic() - started
    print(f"bounded template: {extra[-1][-40:]!r} {seconds:.2f} s, peak memory +{grown:.0f} MiB")  # pytest -s
    return result, seconds, grown


def _one_line(result, says: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], result.stderr


@pytest.fixture(autouse=True)
def _short_renders(monkeypatch, tmp_path):
    monkeypatch.setattr(templating, "RENDER_SECONDS", 0.5)
    monkeypatch.setenv("LONGSYNTH_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("case", CHAT_CASES)
def test_a_hostile_chat_template_file_is_one_line(tmp_path, case):
    source, says = CHAT_CASES[case]
    (tmp_path / "evil.jinja").write_text(source)
    (tmp_path / "other.jinja").write_text("hello")
    result, seconds, grown = _build(tmp_path, "--set", f"chat_template={tmp_path / 'evil.jinja'}")
    _one_line(result, says)
    assert seconds < 30 and grown < 500, (seconds, grown)


@pytest.mark.parametrize("case", ["a nested loop", "a huge center", "output that keeps growing", "an include"])
def test_a_hostile_hf_chat_template_is_one_line(tmp_path, case):
    source, says = CHAT_CASES[case]
    folder = tmp_path / "tok"
    folder.mkdir()
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": source}))
    result, seconds, grown = _build(tmp_path, "--set", f"chat_template=hf:{folder}")
    _one_line(result, says)
    assert seconds < 30 and grown < 500, (seconds, grown)


FOLDER_CASES = {  # tokenizer folder contents -> a fragment of the error line
    "a non-UTF-8 template": ({"chat_template.jinja": b"\xff\xfe" + WRAP.encode()}, "not UTF-8"),
    "a non-UTF-8 config": ({"tokenizer_config.json": b'{"chat_template": "\xff"}'}, "not UTF-8"),
    "a deeply nested config": ({"tokenizer_config.json": b"[" * 100000 + b"]" * 100000}, "not JSON that can be read"),
    "a config that is a list": ({"tokenizer_config.json": b"[1, 2]"}, "not a JSON object"),
    "chat_template as a list of numbers": ({"tokenizer_config.json": b'{"chat_template": [1, 2]}'}, "no chat template"),
    "a huge template file": ({"chat_template.jinja": b"x" * (2 * 1024 * 1024)}, "at most 1024 KB"),
}  # fmt: skip


@pytest.mark.parametrize("case", FOLDER_CASES)
def test_a_hostile_tokenizer_folder_is_one_line(tmp_path, case):
    files, says = FOLDER_CASES[case]
    folder = tmp_path / "tok"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    result, seconds, _ = _build(tmp_path, "--set", f"chat_template=hf:{folder}")
    _one_line(result, says)


def test_a_non_utf8_chat_template_file_is_one_line(tmp_path):
    (tmp_path / "evil.jinja").write_bytes(b"\xff\xfe" + WRAP.encode())
    result, _, _ = _build(tmp_path, "--set", f"chat_template={tmp_path / 'evil.jinja'}")
    _one_line(result, "not UTF-8")


TEMPLATE_DIR_CASES = {
    "a huge center": ('{{ "x"|center(3000000000) }}', "too wide"),
    "a huge format width": ('{{ "{:3000000000}".format(1) }}', "asks for a width"),
    "output that keeps growing": ('{% for i in range(5000) %}{{ "x" * 999999 }}{% endfor %}', "rendered more than"),
    "a recursive macro": ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursed too deeply"),
}


@pytest.mark.parametrize("case", TEMPLATE_DIR_CASES)
def test_a_hostile_template_dir_is_bounded_while_rendering(tmp_path, case):
    """`--template-dir` checked its output's size only after rendering: `center(3e9)` reached 8.7 GB."""
    source, says = TEMPLATE_DIR_CASES[case]
    (tmp_path / "tpl" / "needle").mkdir(parents=True)
    (tmp_path / "tpl" / "needle" / "needle.j2").write_text(
        source + "One hidden {{ kind }} for {{ key }} is {{ value }}."
    )
    result, seconds, grown = _build(tmp_path, "--template-dir", str(tmp_path / "tpl"))
    _one_line(result, says)
    assert seconds < 30 and grown < 500, (seconds, grown)


def test_a_plain_chat_template_still_wraps_the_prompt(tmp_path):
    (tmp_path / "ok.jinja").write_text(WRAP + "{{ strftime_now('%d %b %Y') }}")
    result, _, _ = _build(tmp_path, "--set", f"chat_template={tmp_path / 'ok.jinja'}")
    assert result.exit_code == 0, result.output
