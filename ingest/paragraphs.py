"""Hard-wrapped plain text: which line breaks are wraps (the sentence goes on) and which are the author's.

Text wrapped at a column (RFCs, READMEs, mails, `man | col -b`, `pandoc -t plain`) breaks a line only when the
next word would not fit; a line that stops short of the column, ends a sentence, or is followed by a list
item was broken on purpose. So a scraped page whose every line is an item keeps its lines apart, and a
wrapped paragraph reads as one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

from ingest.structure import Region

PROMPT = re.compile(r"[ \t]+[$#%] \S")  # an indented shell prompt: « $ man 1 bash », « # apt install x »
_ITEM = re.compile(r"[ \t]*(?:[-*+•◦‣–—][ \t]|\d{1,3}[.)][ \t]|\(?[a-z]\)[ \t])")
_ENDS = tuple(".!?…:;")
_HYPHENS = ("-", "‐")  # groff's U+2010 at a hyphenated line end
_WIDEST = 100  # columns: mails and RFCs wrap at 72, man at 80, some READMEs at 100
_NARROWEST = 40
_UNWRAPPED = 10**6  # every line break is the author's


def _width(line: str) -> int:
    """Columns a line takes on a terminal (col -b writes tabs)."""
    return len(line.rstrip().expandtabs(8))


def wrap_width(lines: list[str]) -> int:
    """The column the text was wrapped at: the 90th percentile of the lines another line follows, wider table
    rows left aside; text whose lines mostly run longer than any wrapping column was not wrapped at all."""
    inner = [_width(a) for a, b in pairwise(lines) if a.strip() and b.strip()]
    short = sorted(w for w in inner if w <= _WIDEST)
    if not short or len(short) < len(inner) / 2:
        return _UNWRAPPED
    width = short[int(0.9 * (len(short) - 1))]
    filled = sum(w >= 0.75 * width for w in short)  # wrapped lines fill the column; scraped items do not
    return width if width >= _NARROWEST and filled >= 0.6 * len(short) else _UNWRAPPED


def wrapped(line: str, following: str, width: int) -> bool:
    """Whether the break after `line` is a wrap: a hyphenated word, or the next word would not have fit."""
    if _ITEM.match(following):
        return False
    end = line.rstrip()
    if end.endswith(_HYPHENS):
        return True
    words = following.split()
    return not end.endswith(_ENDS) and bool(words) and _width(line) + 1 + len(words[0]) > width


def paragraph_regions(text: str, starts: list[int], first: int, last: int, path: tuple[str, ...],
                      width: int) -> Iterator[Region]:
    """Lines [first, last) as regions: a wrapped line continues its sentence, a line broken on purpose starts
    a new region; a paragraph of indented command lines is code, never quoted."""
    lines = [text[starts[n]:starts[n + 1]] for n in range(first, last)]
    if all(PROMPT.match(line) for line in lines if line.strip()):
        return
    begin = end = -1
    previous = ""
    for n, line in zip(range(first, last), lines, strict=True):
        if not re.search(r"\w", line):  # blank, or a rule of dashes under a title
            continue
        if begin >= 0 and not wrapped(previous, line, width):
            yield Region(begin, end, path)
            begin = -1
        if begin < 0:
            begin = starts[n] + len(line) - len(line.lstrip())
        end = starts[n] + len(line.rstrip())
        previous = line
    if begin >= 0:
        yield Region(begin, end, path)
