"""OpenDocument text (.odt): content.xml's body and meta.xml's title, parsed by lxml with entities and network off.

odfpy is not used: it rejects the styles.xml that pandoc 2.17 writes, prints that XML to stdout (which breaks
`sourcier ingest --json`) and then yields an empty document. The body needs only content.xml.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from index.errors import ExtractionError
from ingest.formats.archive import open_archive, parse_entry
from ingest.structure import Block, Layout, assemble, headed_rows, join_code

KIND = "OpenDocument (.odt)"
_NS = {"office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
       "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
       "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
       "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
       "dc": "http://purl.org/dc/elements/1.1/"}
_T = f"{{{_NS['text']}}}"
_TABLE = f"{{{_NS['table']}}}"
_STYLE = f"{{{_NS['style']}}}"
_SKIP_INLINE = frozenset({"note", "annotation", "annotation-end", "tracked-changes", "bookmark-ref", "frame"})
_CONTAINERS = frozenset({"list", "list-item", "section", "list-header", "index-body", "soft-page-break"})
_CODE_STYLES = ("preformatted", "source", "code", "listing")  # « Preformatted Text » (LibreOffice, pandoc)
_MAX_SPACES = 256  # a code line's indent; `<text:s text:c="50000000"/>` (30 bytes) must not become 50 MB


def _local(el: etree._Element) -> str:
    """An element's name without its namespace ("" for comments)."""
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _spaces(count: str) -> str:
    """A code line's run of text:s spaces, capped: the count is the file's word, not a size to allocate."""
    return " " * (min(int(count), _MAX_SPACES) if count.isdigit() and len(count) < 4 else
                  _MAX_SPACES if count.isdigit() else 1)


def inline_text(el: etree._Element, code: bool = False) -> str:
    """What a paragraph shows: text:s spaces, tabs and line breaks; notes, comments and frames left out.

    A run of text:s spaces counts only in code (its indent, up to _MAX_SPACES): anywhere else spaces collapse
    to one in the stored text, so a 110 KB file of huge counts no longer expands to gigabytes first."""
    parts = [el.text or ""]
    for child in el:
        name = _local(child)
        if name == "s":
            parts.append(_spaces(child.get(_T + "c") or "1") if code else " ")
        elif name == "tab":
            parts.append("\t")
        elif name == "line-break":
            parts.append("\n")
        elif name and name not in _SKIP_INLINE:
            parts.append(inline_text(child, code))
        parts.append(child.tail or "")
    return "".join(parts)


def _parents(content: etree._Element) -> dict[str, str]:
    """Automatic style → the named style it derives from (pandoc's P12 → Preformatted_20_Text)."""
    return {str(s.get(_STYLE + "name")): str(s.get(_STYLE + "parent-style-name") or "")
            for s in content.iterfind("office:automatic-styles/style:style", _NS)}


def _is_code(style: str, parents: dict[str, str]) -> bool:
    """A paragraph style that is, or derives from, a preformatted/source-code style."""
    seen: set[str] = set()
    while style and style not in seen:
        if any(mark in style.lower() for mark in _CODE_STYLES):
            return True
        seen.add(style)
        style = parents.get(style, "")
    return False


def _blocks(node: etree._Element, parents: dict[str, str]) -> Iterator[Block]:
    """Headings with their outline level, paragraphs, code (one paragraph per line) and table rows, in order."""
    for child in node:
        name = _local(child)
        style = child.get(_T + "style-name") or ""
        if name == "p" and _is_code(style, parents):
            yield Block("code", inline_text(child, code=True))
        elif name == "h":
            level = child.get(_T + "outline-level") or "1"
            yield Block("heading", inline_text(child), int(level) if level.isdigit() else 1)
        elif name == "p":
            yield Block("heading", inline_text(child), 0) if style == "Title" else Block("text", inline_text(child))
            yield from _notes(child, parents)
        elif name == "table":
            rows = [[inline_text(c) for c in r if _local(c) == "table-cell"] for r in child.iter(_TABLE + "table-row")]
            yield from headed_rows(rows)
        elif name in _CONTAINERS:
            yield from _blocks(child, parents)  # tracked changes, frames, fields are not body text


def _notes(paragraph: etree._Element, parents: dict[str, str]) -> Iterator[Block]:
    """A paragraph's footnotes and endnotes, as paragraphs after it (inline, they would cut its sentence)."""
    for body in paragraph.iter(_T + "note-body"):
        yield from _blocks(body, parents)


def read_odt(raw: bytes, name: str) -> tuple[str, Layout]:
    """An OpenDocument text's body in order, outline levels as sections, the title from meta.xml first."""
    with open_archive(raw, KIND) as archive:
        content = parse_entry(archive, "content.xml", KIND)
        meta = parse_entry(archive, "meta.xml", KIND)
    body = content.find("office:body/office:text", _NS) if content is not None else None
    if body is None:
        raise ExtractionError(f"is not a valid {KIND} file (no text body in content.xml); skipped")
    title = meta.findtext("office:meta/dc:title", default="", namespaces=_NS) if meta is not None else ""
    return assemble(join_code(_blocks(body, _parents(content))), " ".join(title.split()), given_first=True)
