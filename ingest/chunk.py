"""Pack whole sentences into overlapping chunks that keep exact source offsets; pure, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import groupby

from index.records import Chunk
from ingest.plaintext import layout_of
from ingest.read import SourceDoc
from ingest.structure import SEPARATOR, Region
from ingest.text import Span, sentences

# Preferred places to cut an over-long sentence, best first.
_BREAKS = (re.compile(r"[,;:]\s"), re.compile(r"\s[-–—]\s"), re.compile(r"\s"))


def split_long(text: str, span: Span, max_chars: int) -> list[Span]:
    """Cut a sentence longer than max_chars at clause breaks (else spaces) so no chunk overflows."""
    pieces: list[Span] = []
    start, end = span
    while end - start > max_chars:
        window_end = start + max_chars
        cut = None
        for pattern in _BREAKS:
            found = [m.end() for m in pattern.finditer(text, start + max_chars // 3, window_end)]
            if found:
                cut = found[-1]
                break
        cut = cut or window_end
        pieces.append(Span(start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        pieces.append(Span(start, end))
    return [Span(s, e) for s, e in pieces if e > s]


def _code_lines(text: str, region: Region) -> list[Span]:
    """Each non-blank line of a code block: a command line is the unit a how-to question is answered by."""
    lines, at = [], region.start
    for line in text[region.start : region.end].split("\n"):
        if line.strip():
            lead = len(line) - len(line.lstrip())
            lines.append(Span(at + lead, at + len(line.rstrip())))
        at += len(line) + 1
    return lines


def _units(text: str, regions: list[Region], max_chars: int) -> tuple[list[Span], set[Span], set[Span]]:
    """Sentences of the regions (any over max_chars cut into clauses), which are code lines, which headings."""
    units: list[Span] = []
    code: set[Span] = set()
    headings: set[Span] = set()
    for region in regions:
        if region.code:
            spans = _code_lines(text, region)
        else:
            spans = [Span(region.start, region.end)] if region.whole else sentences(text, region.start, region.end)
        for span in spans:
            pieces = _trimmed(text, split_long(text, span, max_chars) if span.end - span.start > max_chars else [span])
            units.extend(pieces)
            code.update(pieces if region.code else ())
            headings.update(pieces if region.heading else ())
    return units, code, headings


def _trimmed(text: str, units: list[Span]) -> list[Span]:
    """Drop trailing whitespace a clause cut may leave, keeping spans exact."""
    out = []
    for start, end in units:
        while end > start and text[end - 1].isspace():
            end -= 1
        out.append(Span(start, end))
    return out


def chunk_document(doc: SourceDoc, size: int, overlap: int, max_chars: int = 1200) -> list[Chunk]:
    """Group consecutive sentences of one section up to `size` characters, repeating `overlap` sentences."""
    if not 0 <= overlap:
        raise ValueError("overlap must be >= 0")
    chunks: list[Chunk] = []
    layout = doc.layout or layout_of(doc.text, doc.path)
    for (path, anchor, page), run in groupby(layout.regions, key=lambda r: (r.path, r.anchor, r.page)):
        regions = list(run)
        if all(r.heading for r in regions):
            continue  # a heading with no body under it answers nothing on its own
        units, code, headings = _units(doc.text, regions, min(size, max_chars))
        where = Where(SEPARATOR.join(path), anchor, page, frozenset(code), frozenset(headings))
        chunks.extend(_pack(doc, units, size, overlap, where, len(chunks)))
    return chunks


@dataclass(frozen=True, slots=True)
class Where:
    """What every chunk of one run carries: its section path, the heading's anchor, its PDF page."""

    section: str
    anchor: str
    page: int
    code: frozenset[Span] = frozenset()  # the units that are code lines
    headings: frozenset[Span] = frozenset()  # the units that are the section's heading


def _pack(doc: SourceDoc, units: list[Span], size: int, overlap: int, where: Where, first: int) -> list[Chunk]:
    """Chunks of one section, numbered from `first`."""
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j = i
        while j + 1 < len(units) and units[j + 1].end - units[i].start <= size:
            j += 1
        start, end = units[i].start, units[j].end
        ordinal = first + len(chunks)
        chunks.append(
            Chunk(
                chunk_id=f"{doc.source_id}#{ordinal}",
                source_id=doc.source_id,
                title=doc.title,
                text=doc.text[start:end],
                start=start,
                end=end,
                ordinal=ordinal,
                sentences=tuple((u.start, u.end) for u in units[i : j + 1]),
                section=where.section,
                anchor=where.anchor,
                page=where.page,
                code=tuple(n for n, u in enumerate(units[i : j + 1]) if u in where.code),
                headings=tuple(n for n, u in enumerate(units[i : j + 1]) if u in where.headings),
            )
        )
        if j + 1 >= len(units):
            break
        i = max(i + 1, j + 1 - overlap)
    return chunks
