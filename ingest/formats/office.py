"""Word (.docx, python-docx) and OpenDocument (.odt, odfpy): heading styles become sections, tables rows.

Both are zip archives of XML, checked before parsing so a zip bomb is refused instead of filling memory.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph
from odf import teletype
from odf.element import Element
from odf.opendocument import load

from index.errors import ExtractionError
from ingest.structure import Block, Layout, assemble, headed_rows

MAX_UNZIPPED = 64 * 2**20  # XML this large is not a document a person wrote
_HEADING_STYLE = re.compile(r"(?:heading|titre|überschrift|título|titolo)\s*(\d)", re.IGNORECASE)


def _archive(raw: bytes, kind: str) -> None:
    """A zip whose XML expands to a sane size, else one clear line."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unzipped = sum(i.file_size for i in archive.infolist() if i.filename.endswith(".xml"))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ExtractionError(f"is not a valid {kind} file (not a readable zip archive); skipped") from exc
    if unzipped > MAX_UNZIPPED:
        raise ExtractionError(f"expands to {unzipped / 2**20:.0f} MB of XML when unzipped (a zip bomb?); skipped")


def _docx_level(paragraph: Paragraph) -> int | None:
    """The heading level of a paragraph's style (« Titre 1 », "Heading 2"; "Title" is 0), else None."""
    style = paragraph.style
    while style is not None:
        name = style.name or ""
        if name.lower() in ("title", "titre"):
            return 0
        match = _HEADING_STYLE.fullmatch(name.strip())
        if match:
            return int(match.group(1))
        style = style.base_style
    return None


def _docx_table(table: Table) -> Iterator[Block]:
    """Rows of a Word table, a merged cell counted once."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:  # a merged cell repeats: keep it once
            if not cells or cell.text != cells[-1]:
                cells.append(cell.text)
        rows.append(cells)
    return headed_rows(rows)


def read_docx(raw: bytes, name: str) -> tuple[str, Layout]:
    """A Word document's paragraphs and tables in order, heading styles as sections."""
    _archive(raw, "Word (.docx)")
    try:
        document = docx.Document(io.BytesIO(raw))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors... for a broken package
        raise ExtractionError(f"is not a readable Word (.docx) file ({type(exc).__name__}); skipped") from exc
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(_docx_table(item))
            continue
        level = _docx_level(item)
        blocks.append(Block("text", item.text) if level is None else Block("heading", item.text, level))
    return assemble(blocks, document.core_properties.title or "")


def _odt_blocks(node: Element) -> Iterator[Block]:
    """Headings (text:h with their outline level), paragraphs, list items and table rows, in order."""
    for child in node.childNodes:
        tag = getattr(child, "qname", ("", ""))[1]
        if tag == "h":
            level = child.getAttribute("outlinelevel")
            yield Block("heading", teletype.extractText(child), int(level) if level and level.isdigit() else 1)
        elif tag == "p":
            yield Block("text", teletype.extractText(child))
        elif tag == "table":
            rows = [[teletype.extractText(c) for c in r.childNodes if getattr(c, "qname", ("", ""))[1] == "table-cell"]
                    for r in _descendants(child, "table-row")]
            yield from headed_rows(rows)
        elif tag in ("list", "list-item", "section", "list-header", "index-body"):
            yield from _odt_blocks(child)  # anything else (tracked changes, frames, fields) is not body text


def _descendants(node: Element, tag: str) -> Iterator[Element]:
    """Every descendant element with this local name (table rows sit in header-rows and row groups)."""
    for child in node.childNodes:
        if getattr(child, "qname", ("", ""))[1] == tag:
            yield child
        elif getattr(child, "childNodes", None):
            yield from _descendants(child, tag)


def read_odt(raw: bytes, name: str) -> tuple[str, Layout]:
    """An OpenDocument text's body in order, outline levels as sections."""
    _archive(raw, "OpenDocument (.odt)")
    try:
        document = load(io.BytesIO(raw))
    except Exception as exc:  # odfpy raises zip, SAX and KeyError failures for a broken package
        raise ExtractionError(f"is not a readable OpenDocument (.odt) file ({type(exc).__name__}); skipped") from exc
    titles = [teletype.extractText(t) for t in _descendants(document.meta, "title")]
    return assemble(_odt_blocks(document.text), titles[0] if titles else "")
