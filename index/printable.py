"""Text from files and sources made inert for display: control, bidi and undecodable characters become visible
escapes, so a file name or a title cannot start a new line, reverse the text after it, or drive a terminal."""

from __future__ import annotations

import os
import re
from pathlib import Path

# C0 but tab and newline, DEL, C1 (0x9b is CSI, 0x9d OSC), bidi marks, overrides and isolates, lone surrogates
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LINE_UNSAFE = re.compile(f"[\n\t{UNSAFE.pattern[1:-1]}]")  # one line: newline and tab escaped too


def _shown(match: re.Match[str]) -> str:
    """A character as inert text: `\\x1b`, `\\u202e`, `\\n`; a non-UTF-8 file name's byte as `\\xe9`."""
    char = match.group()
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's escape for an undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    return {"\n": "\\n", "\t": "\\t"}.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str) -> str:
    """Text with every control character shown, never obeyed; newlines and tabs are kept."""
    return UNSAFE.sub(_shown, text)


def printable_path(path: Path | str) -> str:
    """A path as one inert line any UTF-8 writer accepts: `r\\xe9sum\\xe9.txt`, `a\\nb`, `x\\u202etxt.exe`."""
    return _LINE_UNSAFE.sub(_shown, os.fsdecode(path))
