"""PDF: the text layer page by page (PDFium), the outline (bookmarks) as sections, the page in every citation.

pypdfium2 over pdfminer.six: PDFium is the engine of Chrome's viewer, reads the same text a reader sees, and
is about 20 times faster here (docs/performance.md); pdfminer's layout analysis is not needed when the
outline gives the headings.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

import pypdfium2 as pdfium

from index.errors import ExtractionError
from ingest.structure import Block, Layout, assemble
from ingest.text import normalise

_BULLET = re.compile(r"[•◦▪‣●○■□–—*-]\s|\d{1,3}[.)]\s")
_ENDS = tuple(".!?:…»;")
_SOFT = ("\x02", "\u00ad")  # PDFium's mark for a hyphen it added at a line break, and the soft hyphen


def _open(raw: bytes) -> pdfium.PdfDocument:
    """The document, or one clear line for an encrypted or broken file."""
    try:
        return pdfium.PdfDocument(raw)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ExtractionError("is password-protected; skipped (remove the password to index it)") from exc
        raise ExtractionError(f"is not a readable PDF ({exc}); skipped") from exc


def _outline(pdf: pdfium.PdfDocument) -> dict[int, list[tuple[int, str]]]:
    """Bookmarks by page index: (level from 1, title)."""
    marks: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for item in pdf.get_toc(max_depth=6):
        title = " ".join(normalise(item.get_title()).split())
        dest = item.get_dest()
        index = dest.get_index() if dest is not None else None
        if title and index is not None:
            marks[index].append((item.level + 1, title))
    return marks


def _paragraphs(lines: list[str], page: int) -> Iterator[Block]:
    """Wrapped lines joined into paragraphs: a new one after end punctuation or at a bullet."""
    current = ""
    for line in lines:
        if current and (current.endswith(_ENDS) or _BULLET.match(line)):
            yield Block("text", current, page=page)
            current = ""
        if current.endswith(_SOFT):
            current = current[:-1] + line  # PDFium marks a word broken at the line end: « informa|tique »
        elif current.endswith("-") and line[:1].islower():
            current += line  # a compound split after its hyphen: « porte-|manteau »
        else:
            current = f"{current} {line}" if current else line
    if current:
        yield Block("text", current, page=page)


def _clean(blocks: Iterator[Block]) -> Iterator[Block]:
    """No hyphenation marks left in the stored text."""
    for block in blocks:
        yield block if not any(m in block.text for m in _SOFT) else \
            Block(block.kind, block.text.replace("\x02", "").replace("\u00ad", ""), block.level, block.anchor,
                  block.page)


def _page_blocks(text: str, marks: list[tuple[int, str]], page: int) -> Iterator[Block]:
    """A page's headings where their lines are (else at the top), and its paragraphs."""
    lines = [" ".join(line.split()) for line in normalise(text).splitlines()]
    lines = [line for line in lines if line]
    at: dict[int, tuple[int, str]] = {}
    for level, title in marks:
        found = next((i for i, line in enumerate(lines) if i not in at and line == title), None)
        if found is None:
            yield Block("heading", title, level, f"page={page}", page)
        else:
            at[found] = (level, title)
    start = 0
    for i in sorted(at):
        yield from _paragraphs(lines[start:i], page)
        yield Block("heading", at[i][1], at[i][0], f"page={page}", page)
        start = i + 1
    yield from _paragraphs(lines[start:], page)


def read_pdf(raw: bytes, name: str) -> tuple[str, Layout]:
    """Every page's text layer, sections from the outline; a PDF of scanned images is refused, not indexed empty."""
    pdf = _open(raw)
    try:
        marks = _outline(pdf)
        blocks: list[Block] = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            blocks.extend(_clean(_page_blocks(textpage.get_text_range(), marks.get(index, []), index + 1)))
            textpage.close()
            page.close()
        title = str(pdf.get_metadata_dict().get("Title", "")).strip()
    finally:
        pdf.close()
    if not any(b.kind == "text" for b in blocks):
        raise ExtractionError("has no text layer (a scanned PDF?): OCR is not supported; skipped")
    return assemble(blocks, title)
