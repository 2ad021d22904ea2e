"""`terminal.printable`: what a terminal would act on is shown as an escape, everything else kept."""

from __future__ import annotations

import json
import unicodedata

from longsynth.terminal import printable

BIDI_CONTROLS = {  # Unicode's explicit bidirectional formatting characters (UAX #9), by name
    "ARABIC LETTER MARK", "LEFT-TO-RIGHT MARK", "RIGHT-TO-LEFT MARK", "LEFT-TO-RIGHT EMBEDDING",
    "RIGHT-TO-LEFT EMBEDDING", "POP DIRECTIONAL FORMATTING", "LEFT-TO-RIGHT OVERRIDE", "RIGHT-TO-LEFT OVERRIDE",
    "LEFT-TO-RIGHT ISOLATE", "RIGHT-TO-LEFT ISOLATE", "FIRST STRONG ISOLATE", "POP DIRECTIONAL ISOLATE",
}  # fmt: skip


def test_every_control_and_bidi_character_is_escaped_and_nothing_else_changes():
    for point in range(0x3000):
        char = chr(point)
        control = unicodedata.category(char) == "Cc" and char not in "\n\t"
        acted_on = control or unicodedata.name(char, "") in BIDI_CONTROLS
        shown = printable(f"a{char}b")
        assert shown == (f"a\\u{point:04x}b" if acted_on else f"a{char}b"), hex(point)


def test_an_escaped_json_line_is_the_same_json():
    value = {"text": "x\x1b[2J\u009b\u202ey 中文\n"}
    line = json.dumps(value, ensure_ascii=False)
    assert json.loads(printable(line)) == value
