"""One reader per file format: bytes in, stored text and layout out. The registry is the list of what ingest reads.

A reader's version is part of every source's content hash, so improving a reader re-reads its files on the
next incremental ingest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ingest.formats import html, markdown, odt, office, pdf, plain
from ingest.structure import Layout

Extract = Callable[[bytes, str], tuple[str, Layout]]


class Reader(NamedTuple):
    """A format's extraction function and its version."""

    name: str
    version: int
    extract: Extract


READERS: dict[str, Reader] = {
    ".txt": Reader("text", 3, plain.read_text),
    ".md": Reader("markdown", 2, markdown.read_markdown),
    ".markdown": Reader("markdown", 2, markdown.read_markdown),
    ".html": Reader("html", 3, html.read_html),
    ".htm": Reader("html", 3, html.read_html),
    ".pdf": Reader("pdf", 2, pdf.read_pdf),
    ".docx": Reader("docx", 2, office.read_docx),
    ".odt": Reader("odt", 2, odt.read_odt),
}
