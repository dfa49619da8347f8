"""One reader per file format: bytes in, stored text and layout out. The registry is the list of what ingest reads.

A reader's version is part of every source's content hash, so improving a reader re-reads its files on the
next incremental ingest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

from ingest.formats import gz, html, markdown, odt, office, pdf, plain, roff
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
    ".pdf": Reader("pdf", 3, pdf.read_pdf),  # 3: headings from the type size, paragraphs from the spacing
    ".docx": Reader("docx", 2, office.read_docx),
    ".odt": Reader("odt", 2, odt.read_odt),
}
MAN = Reader("man", 1, roff.read_roff)  # `passwd.1`, `usermod.8.gz`: any man section, gzipped or not
SHOWN = (*READERS, ".1–.9", "any of them gzipped (.gz)")  # what messages list as read


def _gzipped(reader: Reader) -> Reader:
    """The same reader for the gzipped file (`NEWS.md.gz`): it reads what the file holds, under its inner name."""
    def extract(raw: bytes, name: str) -> tuple[str, Layout]:
        return reader.extract(gz.gunzip(raw), name.removesuffix(".gz").removesuffix(".GZ"))
    return Reader(f"{reader.name}.gz", reader.version, extract)


def reader_for(name: str) -> Reader | None:
    """The reader of a file, by its name's suffix (a gzipped file's, by the suffix before `.gz`)."""
    if roff.man_suffix(name):
        return MAN
    inner, suffix = os.path.splitext(name)
    if suffix.lower() == ".gz":
        found = READERS.get(os.path.splitext(inner)[1].lower())
        return _gzipped(found) if found is not None else None
    return READERS.get(suffix.lower())
