"""Plain text: decoded as it is, so citation offsets point into the file's own text (Markdown: markdown.py)."""

from __future__ import annotations

import codecs

from index.errors import ExtractionError
from ingest.plaintext import layout_of
from ingest.structure import Layout
from ingest.text import normalise


def _looks_utf16(raw: bytes) -> bool:
    """A UTF-16 byte-order mark, whole code units, and mostly Latin letters once decoded (binary junk that
    happens to start with FF FE decodes to CJK noise)."""
    if not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or len(raw) % 2:
        return False
    try:
        letters = [c for c in raw.decode("utf-16") if c.isalpha()]
    except UnicodeDecodeError:
        return False
    return bool(letters) and sum(ord(c) < 0x250 for c in letters) >= 0.9 * len(letters)


def decode(raw: bytes) -> str:
    """Strict UTF-8 (BOM and CRLF accepted) or BOM-marked UTF-16, normalised; anything else is refused."""
    utf16 = _looks_utf16(raw)  # Windows editors save "Unicode" so
    if b"\x00" in raw and not utf16:
        raise ExtractionError("looks binary (contains NUL bytes); skipped")
    try:
        decoded = raw.decode("utf-16") if utf16 else raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExtractionError(f"is not valid {'UTF-16' if utf16 else 'UTF-8'} (byte {exc.start}); "
                              "re-save it as UTF-8") from exc
    return normalise(decoded)


def read_text(raw: bytes, name: str) -> tuple[str, Layout]:
    """A .txt file: title lines standing alone are headings."""
    text = decode(raw)
    return text, layout_of(text, name)
