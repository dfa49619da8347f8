"""PDF page hygiene: running headers and footers, table-of-contents pages and leader lines are not body text.

A PDF has no structure to say « this is the header »: a line repeated at the same place (first or last lines)
on most pages, page numbers aside, is page furniture; a page made mostly of « Titre ..... 12 » lines is a table
of contents, already given by the outline.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_EDGE = 2  # lines from the top and from the bottom where running headers and footers sit
_NUMBERS = re.compile(r"\d+|\b[ivxlcdm]+\b|[/|·•–—-]|\bpage\b|\bsur\b|\bof\b", re.IGNORECASE)
_LEADERS = re.compile(r"(?:\.\s?){4,}\s*(?:\d+|[ivxlcdm]+)$", re.IGNORECASE)
_ENTRY = re.compile(r"(?:[\dA-Z]{1,3}(?:\.\d+)*\.?\s+)?(.+?)\s+(?:\d+|[ivxlcdm]+)$", re.IGNORECASE)
_TOC_TITLES = frozenset({"table des matières", "sommaire", "contents", "table of contents", "inhaltsverzeichnis"})


def _shape(line: str) -> str:
    """The line without its page number (« Guide … Debian 9 / 58 » and « Guide … Debian iv » alike)."""
    return " ".join(_NUMBERS.sub(" ", line.lower()).split())


def _edges(lines: list[str]) -> list[tuple[int, str]]:
    """(place, shape) of the first and last lines of a page; place counts from the top (≥0) or the bottom (<0)."""
    top = [(i, _shape(line)) for i, line in enumerate(lines[:_EDGE])]
    bottom = [(i - len(lines), _shape(lines[i])) for i in range(max(_EDGE, len(lines) - _EDGE), len(lines))]
    return top + bottom


def drop_running_lines(pages: list[list[str]]) -> list[list[bool]]:
    """For every page, which lines to keep: a line repeated at the same place on most pages is dropped."""
    counts = Counter(edge for lines in pages for edge in set(_edges(lines)))
    need = max(3, (len(pages) + 1) // 2)
    running = {edge for edge, n in counts.items() if n >= need}
    keep = []
    for lines in pages:
        places = {place if place >= 0 else place + len(lines) for place, shape in _edges(lines)
                  if (place, shape) in running}
        keep.append([i not in places for i in range(len(lines))])
    return keep


def toc_line(line: str, titles: frozenset[str]) -> bool:
    """A contents entry: dot leaders then a page number, or a bookmark's title followed by its page number."""
    if _LEADERS.search(line):
        return True
    match = _ENTRY.fullmatch(line)
    return match is not None and " ".join(match.group(1).lower().split()) in titles


def toc_page(lines: Iterable[str], titles: frozenset[str]) -> bool:
    """A page that is mostly contents entries (and its « Table des matières » heading)."""
    body = [line for line in lines if line.lower() not in _TOC_TITLES]
    return len(body) >= 3 and sum(toc_line(line, titles) for line in body) >= 0.6 * len(body)
