"""Document structure: headings become section paths, body lines become text to split, code lines units of their own.

Plain text and man pages are laid out in ingest/plaintext.py, ingest/manpage.py and ingest/paragraphs.py.

Headings are context for retrieval and citations ("Titre › Section"), never sentences to quote.
Offsets stay those of the stored text: a region is a [start, end) span of it. Markdown and plain text keep
their own text; the other formats' readers emit blocks that `assemble` lays out as the stored text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from typing import Literal

from markdown_it import MarkdownIt

SEPARATOR = " › "
NAME_SECTIONS = frozenset({"NOM", "NAME", "NOMBRE", "NAMEN", "NOME"})  # a man page's first section: its title
_MARKER = re.compile(r"[ \t]*(?:>[ \t]?)*(?:[-*+][ \t]+|\d{1,9}[.)][ \t]+)?(?:\[[ xX]\][ \t]+)?")


@dataclass(frozen=True, slots=True)
class Region:
    """A stretch of body text, the headings above it, the heading's anchor and the PDF page (0: none)."""

    start: int
    end: int
    path: tuple[str, ...]
    anchor: str = ""
    page: int = 0
    whole: bool = False  # a table row: one unit, never split into sentences
    code: bool = False  # a code block: each line one unit, quoted only as code when it answers
    heading: bool = False  # the section's heading: a unit retrieval reads like a sentence, never quoted


@dataclass(frozen=True, slots=True)
class Section:
    """A run of body text under one heading (and on one page): what `/v1/sources/{id}` lists."""

    start: int
    end: int
    path: str
    anchor: str = ""
    page: int = 0


@dataclass(frozen=True, slots=True)
class Block:
    """What a format reader finds, in order: a heading (level 1-6), a paragraph, a table row, or code."""

    kind: Literal["heading", "text", "row", "code"]
    text: str
    level: int = 0
    anchor: str = ""
    page: int = 0


@dataclass(frozen=True, slots=True)
class Layout:
    """A document's title and its body regions in order."""

    title: str
    regions: tuple[Region, ...]


def line_starts(text: str) -> list[int]:
    """Offset of the first character of every line, plus the end of the text."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    return starts + [len(text)] if starts[-1] != len(text) else starts


def _nest(path: tuple[str, ...], levels: tuple[int, ...], level: int, title: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The path under a new heading: drop headings at its level or deeper, then add it."""
    keep = sum(1 for lv in levels if lv < level)
    return path[:keep] + (title,), levels[:keep] + (level,)


@lru_cache(maxsize=1)
def markdown_parser() -> MarkdownIt:
    """CommonMark with tables, so tables are recognised and skipped instead of split into sentences."""
    return MarkdownIt("commonmark").enable("table")


def front_matter_lines(text: str) -> int:
    """How many lines a leading YAML front matter block takes (0 when there is none)."""
    match = re.match(r"---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|$)", text, re.DOTALL)
    return match.group(0).count("\n") + (0 if match.group(0).endswith("\n") else 1) if match else 0


def slug(heading: str, taken: dict[str, int]) -> str:
    """The anchor GitHub, GitLab and most wikis give a Markdown heading, unique within the document.

    `taken` maps every anchor given out to the next suffix to try when it comes again, so 20,000 identical
    headings take 20,000 steps, not the 200 million of trying -1, -2, … from the start each time (35 s)."""
    base = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
    if base not in taken:
        taken[base] = 1
        return base
    n = taken[base]
    while f"{base}-{n}" in taken:  # « a-1 » written by hand before the second « a »: each name is skipped once
        n += 1
    taken[base] = n + 1
    anchor = f"{base}-{n}"
    taken[anchor] = 1
    return anchor


def markdown_layout(text: str) -> Layout:
    """Headings (ATX or setext) nest into paths; paragraphs and list items are body; code, tables, HTML skipped.

    A hard-wrapped paragraph is one region, so a sentence may run over several lines."""
    starts = line_starts(text)
    skip = front_matter_lines(text)
    tokens = markdown_parser().parse(text[starts[min(skip, len(starts) - 1)]:])
    regions: list[Region] = []
    path: tuple[str, ...] = ()
    levels: tuple[int, ...] = ()
    title = anchor = ""
    anchors: dict[str, int] = {}
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
            anchor = slug(heading, anchors)
            line = text[starts[first] : starts[first + 1]].rstrip()
            if token.markup.startswith("#") and heading:  # ATX: the heading's words on its line, past the #s
                at = starts[first] + line.find(tokens[i + 1].content) if tokens[i + 1].content in line else -1
                if at >= starts[first]:
                    regions.append(Region(at, at + len(tokens[i + 1].content), path, anchor, whole=True,
                                          heading=True))
        elif token.type == "paragraph_open" and path == (title,) and title.upper() in NAME_SECTIONS:
            title = " ".join(tokens[i + 1].content.split())  # a man page through pandoc: « # NOM », then its line
            path = (title, path[0])
            regions.extend(_paragraph(text, starts, first, last, path, anchor))
        elif token.type == "paragraph_open":
            regions.extend(_paragraph(text, starts, first, last, path, anchor))
    return Layout(title, tuple(regions))


def _paragraph(text: str, starts: list[int], first: int, last: int, path: tuple[str, ...],
               anchor: str) -> list[Region]:
    """A paragraph's lines as regions: continuation lines join the line above unless a marker (`>`) starts them."""
    out: list[Region] = []
    for line in range(first, last):
        begin, end = starts[line], starts[line + 1]
        body = _MARKER.match(text, begin, end).end()  # type: ignore[union-attr]
        if not text[body:end].strip():
            continue
        if out and line > first and not text[begin:body].strip():
            out[-1] = Region(out[-1].start, end, path, anchor)
        else:
            out.append(Region(body, end, path, anchor))
    return out


def _block_text(block: Block) -> str:
    """Code keeps its lines; anything else is one line with single spaces, so sentences split cleanly."""
    if block.kind == "code":
        return "\n".join(line.rstrip() for line in block.text.strip("\n").splitlines())
    return " ".join(block.text.split())


def join_code(blocks: Iterable[Block]) -> Iterator[Block]:
    """Consecutive code blocks as one (Office files keep a code listing as one paragraph per line)."""
    code: list[Block] = []
    for block in [*blocks, Block("text", "")]:  # an empty block closes a trailing listing; assemble skips it
        if block.kind == "code":
            code.append(block)
            continue
        if code:
            yield Block("code", "\n".join(c.text for c in code), page=code[0].page)
            code = []
        yield block


def assemble(blocks: Iterable[Block], title: str = "", given_first: bool = False) -> tuple[str, Layout]:
    """The stored text of an extracted document (blocks one per line, blank lines between all but table rows)
    and its layout; the first heading is the title, else the one the format gave (HTML <title>, PDF metadata),
    or that one first when the format's own title is the author's (`given_first`: ODT meta.xml, PDF metadata)."""
    parts: list[str] = []
    regions: list[Region] = []
    path: tuple[str, ...] = ()
    levels: tuple[int, ...] = ()
    anchor, at, previous, first = "", 0, "", ""
    for block in blocks:
        body = _block_text(block)
        if not body:
            continue
        if parts:
            gap = "\n" if block.kind == previous == "row" else "\n\n"
            parts.append(gap)
            at += len(gap)
        parts.append(body)
        if block.kind == "heading":
            first = first or body
            path, levels = _nest(path, levels, block.level, body)
            anchor = block.anchor
            regions.append(Region(at, at + len(body), path, anchor, block.page, whole=True, heading=True))
        else:
            regions.append(Region(at, at + len(body), path, anchor, block.page, whole=block.kind == "row",
                                  code=block.kind == "code"))
        at += len(body)
        previous = block.kind
    return "".join(parts) + "\n", Layout((title or first) if given_first else (first or title), tuple(regions))


def sections_of(layout: Layout) -> tuple[Section, ...]:
    """The runs of text under one heading and page, the heading included (a passage may start at it), for
    `/v1/sources/{id}` and the viewer; a heading with no body under it is no section."""
    runs = groupby(layout.regions, key=lambda r: (r.path, r.anchor, r.page))
    return tuple(Section(rs[0].start, rs[-1].end, SEPARATOR.join(p), a, pg)
                 for (p, a, pg), rs in ((k, list(g)) for k, g in runs) if not all(r.heading for r in rs))


def headed_rows(rows: list[list[str]]) -> Iterator[Block]:
    """Rows of a table with no marked header (Word, OpenDocument): a first row of short labels heads the rest."""
    labels = len(rows) > 1 and all(0 < len(c.strip()) <= 40 for c in rows[0])
    return table_rows(rows[1:] if labels else rows, rows[0] if labels else None)


def table_rows(rows: Iterable[list[str]], header: list[str] | None = None) -> Iterator[Block]:
    """One block per row, cells labelled by the header row when it fits: « Délai : 2 mois ; Coût : gratuit »."""
    for cells in rows:
        cells = [" ".join(c.split()) for c in cells]
        if not any(cells):
            continue
        if header and len(header) == len(cells):
            yield Block("row", " ; ".join(f"{h} : {c}" if h else c for h, c in zip(header, cells, strict=True) if c))
        else:
            yield Block("row", " ; ".join(c for c in cells if c))
