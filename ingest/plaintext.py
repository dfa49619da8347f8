"""Plain text as a person reads it: paragraphs between blank lines, headings alone on their line, and man pages.

In text wrapped at 72–100 columns (RFCs, READMEs, mails, `man | col -b`) a wrapped line continues its sentence,
so a sentence that runs over several lines is quoted whole; a line broken on purpose (a scraped page's items)
stays apart (ingest/paragraphs.py). Regions are spans of the file's own text: offsets stay exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

from ingest.manpage import man_layout, man_page
from ingest.paragraphs import PROMPT, paragraph_regions, wrap_width
from ingest.structure import Layout, Region, line_starts, markdown_layout

_TERMINAL = ".!?…;:,»\"”)]"


def _heading_line(line: str) -> bool:
    """A short line with no sentence-ending punctuation: a title or a heading in plain text."""
    if PROMPT.match(line):
        return False  # « $ man 1 bash » alone is a command, not a heading
    line = line.strip()
    return 0 < len(line) <= 120 and line[-1] not in _TERMINAL and not line.startswith(("-", "*", "•", "="))


def _runs(lines: list[str]) -> Iterator[tuple[int, int]]:
    """[first, last) line numbers of each run of non-blank lines: the paragraphs."""
    first = None
    for n, line in enumerate([*lines, ""]):
        if line.strip() and first is None:
            first = n
        elif not line.strip() and first is not None:
            yield first, n
            first = None


def text_layout(text: str) -> Layout:
    """Plain text: a heading-like line alone between blank lines is a heading (the first, the title); man pages
    (a `NAME(8) … NAME(8)` first line) by their own layout."""
    starts = line_starts(text)
    lines = [text[a:b] for a, b in pairwise(starts)]
    if man_page(lines):
        return man_layout(text, starts, lines)
    regions: list[Region] = []
    path: tuple[str, ...] = ()
    title = ""
    width = wrap_width(lines)
    for first, last in _runs(lines):
        if last - first == 1 and _heading_line(lines[first]):
            heading = " ".join(lines[first].split())
            path = (heading,) if not title else (title, heading)
            title = title or heading
            begin = starts[first] + len(lines[first]) - len(lines[first].lstrip())
            regions.append(Region(begin, starts[first] + len(lines[first].rstrip()), path, whole=True, heading=True))
        else:
            regions.extend(paragraph_regions(text, starts, first, last, path, width))
    return Layout(title, tuple(regions))


def layout_of(text: str, path: str) -> Layout:
    """The layout for a source, by its file type; a document of headings only keeps its lines as body."""
    layout = markdown_layout(text) if path.lower().endswith((".md", ".markdown")) else text_layout(text)
    if any(not r.heading for r in layout.regions):
        return layout
    starts = line_starts(text)
    lines = (Region(a, a + len(text[a:b].rstrip()), ()) for a, b in pairwise(starts) if text[a:b].strip())
    return Layout(layout.title, tuple(lines))
