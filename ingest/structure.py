"""Document structure: headings become section paths, body lines become text to split; code, tables skipped.

Headings are context for retrieval and citations ("Titre › Section"), never sentences to quote.
Offsets stay those of the stored text: a region is a [start, end) span of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from markdown_it import MarkdownIt

SEPARATOR = " › "
_MARKER = re.compile(r"[ \t]*(?:>[ \t]?)*(?:[-*+][ \t]+|\d{1,9}[.)][ \t]+)?(?:\[[ xX]\][ \t]+)?")
_TERMINAL = ".!?…;:,»\"”)]"


@dataclass(frozen=True, slots=True)
class Region:
    """A stretch of body text and the headings above it."""

    start: int
    end: int
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Layout:
    """A document's title and its body regions in order."""

    title: str
    regions: tuple[Region, ...]


def _line_starts(text: str) -> list[int]:
    """Offset of the first character of every line, plus the end of the text."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    return starts + [len(text)] if starts[-1] != len(text) else starts


def _nest(path: tuple[str, ...], levels: tuple[int, ...], level: int, title: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The path under a new heading: drop headings at its level or deeper, then add it."""
    keep = sum(1 for lv in levels if lv < level)
    return path[:keep] + (title,), levels[:keep] + (level,)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    """CommonMark with tables, so tables are recognised and skipped instead of split into sentences."""
    return MarkdownIt("commonmark").enable("table")


def _front_matter_lines(text: str) -> int:
    """How many lines a leading YAML front matter block takes (0 when there is none)."""
    match = re.match(r"---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|$)", text, re.DOTALL)
    return match.group(0).count("\n") + (0 if match.group(0).endswith("\n") else 1) if match else 0


def markdown_layout(text: str) -> Layout:
    """Headings (ATX or setext) nest into paths; paragraphs and list items are body; code, tables, HTML skipped."""
    starts = _line_starts(text)
    skip = _front_matter_lines(text)
    tokens = _parser().parse(text[starts[min(skip, len(starts) - 1)]:])
    regions: list[Region] = []
    path: tuple[str, ...] = ()
    levels: tuple[int, ...] = ()
    title = ""
    in_table = 0
    for i, token in enumerate(tokens):
        in_table += token.type == "table_open"
        in_table -= token.type == "table_close"
        if token.map is None or in_table:
            continue
        first, last = token.map[0] + skip, token.map[1] + skip
        if token.type == "heading_open":
            heading = " ".join(tokens[i + 1].content.split())
            title = title or heading
            path, levels = _nest(path, levels, int(token.tag[1:]), heading)
        elif token.type == "paragraph_open":
            for line in range(first, last):
                begin, end = starts[line], starts[line + 1]
                begin = _MARKER.match(text, begin, end).end()  # type: ignore[union-attr]
                if text[begin:end].strip():
                    regions.append(Region(begin, end, path))
    return Layout(title, tuple(regions))


def _heading_line(line: str) -> bool:
    """A short line with no sentence-ending punctuation: a title or a heading in plain text."""
    line = line.strip()
    return 0 < len(line) <= 120 and line[-1] not in _TERMINAL and not line.startswith(("-", "*", "•"))


def text_layout(text: str) -> Layout:
    """Plain text: a heading-like line standing alone between blank lines is a heading (the first, the title)."""
    starts = _line_starts(text)
    lines = [text[a:b].rstrip("\n") for a, b in pairwise(starts)]
    regions: list[Region] = []
    path: tuple[str, ...] = ()
    title = ""
    for n, line in enumerate(lines):
        alone = (n == 0 or not lines[n - 1].strip()) and (n + 1 == len(lines) or not lines[n + 1].strip())
        if alone and _heading_line(line):
            heading = " ".join(line.split())
            path = (heading,) if not title else (title, heading)
            title = title or heading
        elif line.strip():
            regions.append(Region(starts[n], starts[n] + len(line), path))
    return Layout(title, tuple(regions))


def layout_of(text: str, path: str) -> Layout:
    """The layout for a source, by its file type; a document of headings only keeps its lines as body."""
    layout = markdown_layout(text) if path.lower().endswith((".md", ".markdown")) else text_layout(text)
    if layout.regions:
        return layout
    starts = _line_starts(text)
    lines = (Region(a, b, ()) for a, b in pairwise(starts) if text[a:b].strip())
    return Layout(layout.title, tuple(lines))
