"""Text someone else wrote, made safe to print on a terminal.

A dataset folder, a corpus or a server's reply is someone else's input, and `inspect`, `validate`
and the error lines print parts of it. A terminal acts on control characters: an escape sequence in
a row's text can clear the screen and print a fake verdict, retitle the window, or set the
clipboard; a right-to-left override reorders what is shown (text that reads as one thing and is
another). `printable` shows each such character as its `\\uXXXX` escape instead, which is also how
JSON writes it, so a JSON line stays JSON.
"""

from __future__ import annotations

_KEPT = {"\n", "\t"}
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = {
    point: f"\\u{point:04x}"
    for point in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI]
    if chr(point) not in _KEPT
}


def printable(text: str) -> str:
    """`text` with every control character but newline and tab (C0, DEL, C1) and every bidirectional
    mark, override or isolate shown as its `\\uXXXX` escape: what a terminal shows is what the text holds."""
    return text.translate(_ESCAPES)
