"""PDF: the text layer page by page (PDFium), the outline (bookmarks) as sections, the page in every citation.

pypdfium2 over pdfminer.six: PDFium is the engine of Chrome's viewer, reads the same text a reader sees, and
is about 20 times faster here (docs/performance.md). Headings come from the outline; without one (a page
printed by a browser, a document exported without bookmarks), from lines set larger than the body, and
paragraphs from the spacing (pdflines.py). Running headers and footers and contents pages are left out
(pdfpage.py); lines set in a monospace font are code.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from itertools import groupby

import pypdfium2 as pdfium

from index.errors import ExtractionError
from ingest.formats.pdflines import (
    Line,
    body_size,
    heading_level,
    heading_levels,
    leading,
    read_lines,
    starts_paragraph,
)
from ingest.formats.pdfpage import drop_running_lines, toc_line, toc_page
from ingest.structure import Block, Layout, assemble
from ingest.text import normalise

_BULLET = re.compile(r"[•◦▪‣●○■□–—*-]\s|\d{1,3}[.)]\s")
_ENDS = tuple(".!?:…»;")
_SOFT = ("\x02", "\u00ad")  # PDFium's mark for a hyphen it added at a line break, and the soft hyphen
_NUMBER = re.compile(r"(?:[\dA-Z]{1,3}(?:\.\d+)*\.?\s+)?")  # « 1.1 » before a heading's title


def _open(raw: bytes) -> pdfium.PdfDocument:
    """The document, or one clear line for an encrypted or broken file."""
    try:
        return pdfium.PdfDocument(raw)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ExtractionError("is password-protected; skipped (remove the password to index it)") from exc
        raise ExtractionError(f"is not a readable PDF ({exc}); skipped") from exc


def _outline(pdf: pdfium.PdfDocument) -> tuple[dict[int, list[tuple[int, str]]], frozenset[str]]:
    """Bookmarks by page index: (level from 1, title); and every bookmark's title, to recognise contents lines."""
    marks: dict[int, list[tuple[int, str]]] = defaultdict(list)
    titles: set[str] = set()
    for item in pdf.get_toc(max_depth=6):
        title = " ".join(normalise(item.get_title()).split())
        titles.add(title.lower())
        dest = item.get_dest()
        index = dest.get_index() if dest is not None else None
        if title and index is not None:
            marks[index].append((item.level + 1, title))
    return marks, frozenset(titles)


def _inline_code(lines: list[Line]) -> list[Line]:
    """A lone monospace line right after a sentence that goes on (« vérifier avec ») is that sentence's end."""
    out = list(lines)
    for i in range(1, len(lines)):
        after_text = not lines[i - 1].mono and not lines[i - 1].text.endswith(_ENDS)
        alone = i + 1 == len(lines) or not lines[i + 1].mono
        if lines[i].mono and after_text and alone:
            out[i] = lines[i]._replace(text=" ".join(lines[i].text.split()), mono=False)
    return out


def _paragraphs(lines: list[Line], page: int, spacing: float) -> Iterator[Block]:
    """Wrapped lines joined into paragraphs: a new one after end punctuation, at a bullet, or where the type or
    the spacing says so."""
    current, previous = "", None
    for line in lines:
        if current and (current.endswith(_ENDS) or _BULLET.match(line.text) or
                        (previous is not None and starts_paragraph(previous, line, spacing))):
            yield Block("text", current, page=page)
            current = ""
        if current.endswith(_SOFT):
            current = current[:-1] + line.text  # PDFium marks a word broken at the line end: « informa|tique »
        elif current.endswith("-") and line.text[:1].islower():
            current += line.text  # a compound split after its hyphen: « porte-|manteau »
        else:
            current = f"{current} {line.text}" if current else line.text
        previous = line
    if current:
        yield Block("text", current, page=page)


def _body(lines: list[Line], page: int, spacing: float) -> Iterator[Block]:
    """Monospace runs as code blocks, the other lines joined into paragraphs."""
    for mono, run in groupby(lines, key=lambda line: line.mono):
        texts = list(run)
        yield from [Block("code", "\n".join(line.text for line in texts), page=page)] if mono else \
            _paragraphs(texts, page, spacing)


def _clean(blocks: Iterator[Block]) -> Iterator[Block]:
    """No hyphenation marks left in the stored text."""
    for block in blocks:
        yield block if not any(m in block.text for m in _SOFT) else \
            Block(block.kind, block.text.replace("\x02", "").replace("\u00ad", ""), block.level, block.anchor,
                  block.page)


def _is_heading(line: Line, title: str) -> bool:
    """The line shows the bookmark's title, maybe after its number (« 1.1 Dynamique sociale de Debian »); outlines
    often write ' where the page prints ’."""
    text, title = line.text.replace("’", "'"), title.replace("’", "'")
    return not line.mono and text.endswith(title) and bool(_NUMBER.fullmatch(text[:-len(title)]))


def _page_blocks(lines: list[Line], marks: list[tuple[int, str]], page: int,
                 sizes: dict[float, int]) -> Iterator[Block]:
    """A page's headings where their lines are (else at the top), and its paragraphs and code. `sizes`: without an
    outline, the font sizes of headings and their levels."""
    at: dict[int, tuple[int, str]] = {}
    for level, title in marks:
        found = next((i for i, line in enumerate(lines) if i not in at and _is_heading(line, title)), None)
        if found is None:
            yield Block("heading", title, level, f"page={page}", page)
        else:
            at[found] = (level, title)
    for i, line in enumerate(lines):
        inferred = heading_level(line, sizes)
        if inferred is not None and i not in at:
            at[i] = (inferred, line.text)
    spacing, start = leading(lines), 0
    for i in sorted(at):
        yield from _body(lines[start:i], page, spacing)
        yield Block("heading", at[i][1], at[i][0], f"page={page}", page)
        start = i + 1
    yield from _body(lines[start:], page, spacing)


def _fold(text: str) -> str:
    """A title as contents entries repeat it: case and spacing aside."""
    return " ".join(text.lower().split())


def _contents_entry(line: Line, inferred: set[str], sizes: dict[float, int]) -> bool:
    """Without an outline, a body-size line that repeats a heading found by its size is a contents entry (a
    browser prints a page's table of contents as links, without page numbers)."""
    return bool(inferred) and heading_level(line, sizes) is None and _fold(line.text) in inferred


def read_pdf(raw: bytes, name: str) -> tuple[str, Layout]:
    """Every page's text layer, sections from the outline, the metadata title first; a PDF of scanned images is
    refused, not indexed empty."""
    pdf = _open(raw)
    try:
        marks, titles = _outline(pdf)
        pages = [read_lines(pdf[index]) for index in range(len(pdf))]
        title = " ".join(normalise(str(pdf.get_metadata_dict().get("Title", ""))).split())
    finally:
        pdf.close()
    keep = drop_running_lines([[line.text for line in lines] for lines in pages])
    bodies = [[line for line, k in zip(lines, kept, strict=True) if k] for lines, kept in zip(pages, keep, strict=True)]
    sizes = {} if marks else heading_levels(bodies, body_size(bodies))  # the outline, when there is one, says
    inferred = {_fold(line.text) for lines in bodies for line in lines if heading_level(line, sizes) is not None}
    blocks: list[Block] = []
    for index, body in enumerate(bodies):
        if toc_page((line.text for line in body), titles):
            continue
        body = [line for line in body if line.mono or not (toc_line(line.text, titles) or _contents_entry(
            line, inferred, sizes))]
        blocks.extend(_clean(_page_blocks(_inline_code(body), marks.get(index, []), index + 1, sizes)))
    if not any(b.kind == "text" for b in blocks):
        raise ExtractionError("has no text layer (a scanned PDF?): OCR is not supported; skipped")
    return assemble(blocks, title, given_first=True)
