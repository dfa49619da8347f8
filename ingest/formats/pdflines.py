"""A PDF page's lines with what the eye uses to see paragraphs and headings: font size, baseline, monospace.

A PDF printed by a browser or exported without bookmarks has no outline: its headings are only bigger text, and
its paragraphs are only wider gaps. Without them « A.1. Le labyrinthe de Debian » was glued to the first sentence
of its section, and quoted with it.
"""

from __future__ import annotations

import ctypes
import statistics
from collections import Counter
from itertools import pairwise
from typing import NamedTuple

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ingest.text import normalise

_FIXED_PITCH = 1  # FXFONT_FIXED_PITCH in the font flags PDFium reports
_SAMPLE = 40  # characters looked at per line to tell monospace (a command) from a proportional font
HEADING_SIZE = 1.2  # a line in a font this much larger than the body's is a heading (when there is no outline)
MAX_HEADING = 150  # characters: longer is a sentence in large type
PARAGRAPH_GAP = 1.4  # a baseline this much further below the last one than the page's usual line spacing


class Line(NamedTuple):
    """A line of a page's text layer: whether it is monospace, its first character's font size and baseline."""

    text: str
    mono: bool
    size: float = 0.0
    baseline: float = 0.0


def _mono(textpage: pdfium.PdfTextPage, seen: list[int]) -> bool:
    """Whether most of these characters are in a fixed-pitch font."""
    flags = ctypes.c_int()
    fixed = 0
    for index in seen:
        pdfium_c.FPDFText_GetFontInfo(textpage.raw, index, None, 0, ctypes.byref(flags))
        fixed += bool(flags.value & _FIXED_PITCH)
    return bool(seen) and fixed >= 0.8 * len(seen)


def _origin(textpage: pdfium.PdfTextPage, index: int) -> tuple[float, float]:
    """A character's font size and baseline height on the page."""
    x, y = ctypes.c_double(), ctypes.c_double()
    pdfium_c.FPDFText_GetCharOrigin(textpage.raw, index, ctypes.byref(x), ctypes.byref(y))
    return round(float(pdfium_c.FPDFText_GetFontSize(textpage.raw, index)), 1), float(y.value)


def read_lines(page: pdfium.PdfPage) -> list[Line]:
    """The page's non-empty lines; PDFium's character indices match the text's, so fonts can be looked up."""
    textpage = page.get_textpage()
    try:
        out: list[Line] = []
        at = 0
        for raw in textpage.get_text_range().splitlines(keepends=True):
            seen = [at + i for i, c in enumerate(raw) if not c.isspace()][:_SAMPLE]
            at += len(raw)
            mono = _mono(textpage, seen)
            text = normalise(raw).rstrip() if mono else " ".join(normalise(raw).split())
            if text.strip():
                out.append(Line(text, mono, *_origin(textpage, seen[0])))
        return out
    finally:
        textpage.close()


def body_size(pages: list[list[Line]]) -> float:
    """The font size most of the document's prose is set in."""
    sizes: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            if not line.mono:
                sizes[line.size] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def heading_levels(pages: list[list[Line]], body: float) -> dict[float, int]:
    """Font sizes that mark headings (larger than the body's), largest first as level 1, at most three levels."""
    sizes = {line.size for lines in pages for line in lines
             if _shaped_like_heading(line) and body > 0 and line.size >= HEADING_SIZE * body}
    return {size: level for level, size in enumerate(sorted(sizes, reverse=True)[:3], 1)}


def heading_level(line: Line, levels: dict[float, int]) -> int | None:
    """The line's heading level, when its size is a heading's and it reads like one."""
    return levels.get(line.size) if _shaped_like_heading(line) else None


def _shaped_like_heading(line: Line) -> bool:
    """Short, proportional type, not ending like a sentence that goes on."""
    return not line.mono and len(line.text) <= MAX_HEADING and not line.text.endswith((".", ",", ";", ":"))


def leading(lines: list[Line]) -> float:
    """The page's usual distance between two baselines of one paragraph (0 when it cannot be told)."""
    steps = [a.baseline - b.baseline for a, b in pairwise(lines)
             if not a.mono and not b.mono and a.size == b.size and a.baseline > b.baseline]
    return statistics.median(steps) if steps else 0.0


def starts_paragraph(previous: Line, line: Line, spacing: float) -> bool:
    """A change of font size, or a gap wider than the page's line spacing, unless the line visibly goes on with
    the previous one's sentence (it ends mid-phrase and this one starts in lower case)."""
    if previous.text[-1:].isalnum() and line.text[:1].islower():
        return False
    resized = abs(line.size - previous.size) > 0.1 * max(line.size, previous.size)
    gap = previous.baseline - line.baseline
    return resized or (spacing > 0 and gap > PARAGRAPH_GAP * spacing)
