"""HTML pages (wiki exports, intranet pages): the main content's headings, paragraphs, lists, tables and code.

lxml (libxml2) parses; navigation, banners, footers, forms, scripts and styles are dropped before reading.
selectolax (lexbor) parses twice as fast, but parsing the 2.4 MB handbook takes 30 ms with lxml against
minutes of embedding, and lxml's tree (`text`/`tail`, XPath, encoding detection) keeps this reader small.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree, html

from index.errors import ExtractionError
from ingest.structure import Block, Layout, assemble, table_rows
from ingest.text import normalise

_DROP = frozenset({"script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
                   "button", "select", "iframe", "svg", "head", "object", "canvas", "audio", "video"})
_BOILERPLATE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_BOILERPLATE = re.compile(r"^(?:nav|navbar|navigation|menu|breadcrumbs?|footer|banner|toc|cookies?|"
                          r"skip-?link|docnav|pagination|share|social|masthead|site-header|site-footer)$")
_BLOCKS = frozenset({"p", "div", "li", "dd", "dt", "blockquote", "section", "article", "ul", "ol", "dl", "figure",
                     "figcaption", "caption", "address", "center", "main", "details", "summary", "body", "hr"})
_HEADING = re.compile(r"h([1-6])")
# Permalinks generators add to headings: Sphinx/MkDocs « ¶ » or « # » (a.headerlink), Docusaurus' a.hash-link,
# GitHub's a.anchor (an SVG icon), VitePress' a.header-anchor, anchor.js, « 🔗 » and « § » of other themes.
_PERMALINK_CLASSES = frozenset({"headerlink", "hash-link", "anchor", "anchor-link", "header-anchor", "heading-anchor",
                                "permalink", "anchorjs-link", "heading-link", "header-link"})
_PERMALINK_TEXT = frozenset({"", "¶", "#", "🔗", "§", "⚓", "🔗︎", "\u200b"})
# Inline declarations a browser never shows; `!important` and spacing vary, the meaning does not.
_HIDDEN_STYLE = frozenset({"display:none", "visibility:hidden", "visibility:collapse"})


# libxml2 stops building the tree past 256 levels (2,048 with XML_PARSE_HUGE) and drops the rest of the page
# without an error; huge_tree reads real pages whole, and a deeper one is refused by name, never cut short.
_MAX_DEPTH = 2048
_TOO_DEEP = "Excessive depth in document"


def _parse(raw: bytes, encoding: str | None) -> etree._Element:
    """Parse with libxml2's deep-tree option; a page deeper than it can go is an ExtractionError, not a cut page."""
    parser = html.HTMLParser(encoding=encoding, huge_tree=True)
    tree = html.document_fromstring(raw, parser=parser)
    if any(_TOO_DEEP in str(entry.message) for entry in parser.error_log):
        raise ExtractionError(f"is nested deeper than {_MAX_DEPTH} elements, past which the HTML parser would drop "
                              "the rest of the page; skipped")
    return tree


def _decode(raw: bytes) -> etree._Element:
    """UTF-8 when the bytes are UTF-8; else the declared charset, with latin-1 read as windows-1252 (as browsers do)."""
    try:
        raw.decode("utf-8")
        encoding: str | None = "utf-8"
    except UnicodeDecodeError:
        encoding = None
    try:
        tree = _parse(raw, encoding)
        found = (tree.getroottree().docinfo.encoding or "").lower()
        if encoding is None and found in ("", "iso-8859-1", "latin-1", "us-ascii", "ascii"):
            tree = _parse(raw, "cp1252")
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"is not readable HTML ({exc}); skipped") from exc
    return tree


def _boilerplate(el: etree._Element) -> bool:
    """Navigation and page furniture, by tag, ARIA role, or a class or id named like it."""
    if el.tag in _DROP or el.get("role") in _BOILERPLATE_ROLES:
        return True
    names = (el.get("class") or "").split() + [el.get("id") or ""]
    return any(_BOILERPLATE.match(name.lower()) for name in names if name)


def _permalink(a: html.HtmlElement) -> bool:
    """A link to its own heading's id that shows only a pilcrow, a hash, a link icon, or nothing."""
    if not (a.get("href") or "").startswith("#"):
        return False
    names = set((a.get("class") or "").split())
    return bool(names & _PERMALINK_CLASSES) or " ".join(a.text_content().split()) in _PERMALINK_TEXT


def _drop_permalinks(tree: html.HtmlElement) -> None:
    """Remove heading permalinks (their text, not the text after them), so « Planification¶ » reads « Planification »."""
    for a in [a for a in tree.iter("a") if _permalink(a)]:
        a.drop_tree()


def _hidden(el: etree._Element) -> bool:
    """Text a reader never sees (`hidden`, `aria-hidden="true"`, inline display:none or visibility:hidden) is no answer."""
    if el.get("hidden") is not None or (el.get("aria-hidden") or "").strip().lower() == "true":
        return True
    style = "".join((el.get("style") or "").lower().split()).replace("!important", "")
    return any(rule in _HIDDEN_STYLE for rule in style.split(";"))


def _drop_hidden(tree: html.HtmlElement) -> None:
    """Remove hidden elements with their text (never their tail, which is visible), before any text is read."""
    for el in [el for el in tree.iter() if isinstance(el.tag, str) and _hidden(el)]:
        if el.getparent() is not None:
            el.drop_tree()


def _main(tree: etree._Element) -> etree._Element:
    """The page's main content when it says which it is, else the body."""
    for query in ("//main", "//*[@role='main']", "//article"):
        found = tree.xpath(query)
        if len(found) == 1:
            return found[0]
    body = tree.find("body")
    return body if body is not None else tree


def _text(el: etree._Element) -> str:
    """Visible text on one line."""
    return " ".join(normalise(el.text_content()).split())


def _anchor(heading: etree._Element) -> str:
    """The id a link can target: the heading's, an anchor inside it, or its section's."""
    for el in heading.iter():
        if isinstance(el.tag, str) and (el.get("id") or el.get("name")):
            return str(el.get("id") or el.get("name"))
    parent = heading.getparent()
    return str(parent.get("id") or "") if parent is not None and parent.tag in ("section", "article") else ""


def _rows(table: etree._Element) -> Iterator[Block]:
    """Table rows as blocks; a first row of <th> cells labels the others."""
    rows = [[_text(c) for c in tr if c.tag in ("td", "th")] for tr in table.iter("tr")]
    first = next(table.iter("tr"), None)
    header = rows[0] if first is not None and len(first) and all(c.tag == "th" for c in first) else None
    return table_rows(rows[1:] if header else rows, header)


class _Flow:
    """Walks the tree in document order, gathering inline text into paragraphs between block elements."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._inline: list[str] = []

    def flush(self) -> None:
        text = normalise("".join(self._inline))
        self._inline = []
        if text.strip():
            self.blocks.append(Block("text", text))

    def walk(self, root: etree._Element) -> None:
        """Document order with an explicit stack: a page 2,000 elements deep must not hit Python's recursion limit."""
        stack: list[etree._Element | str | None] = [root]  # an element to visit, inline text, or None: a flush
        while stack:
            item = stack.pop()
            if item is None:
                self.flush()
            elif isinstance(item, str):
                self._inline.append(item)
            else:
                stack.extend(self._visit(item))

    def _visit(self, el: etree._Element) -> list[etree._Element | str | None]:
        """Read one element; return what is left to walk inside it, last first (the order the stack pops)."""
        tag = el.tag if isinstance(el.tag, str) else ""
        heading = _HEADING.fullmatch(tag)
        if not tag or _boilerplate(el):
            return []
        if heading:
            self.flush()
            self.blocks.append(Block("heading", _text(el), int(heading.group(1)), _anchor(el)))
            return []
        if tag == "pre":
            self.flush()
            self.blocks.append(Block("code", normalise(el.text_content())))
            return []
        if tag == "table":
            self.flush()
            self.blocks.extend(_rows(el))
            return []
        block = tag in _BLOCKS
        if block:
            self.flush()
        self._inline.append(" " if tag == "br" else el.text or "")
        rest: list[etree._Element | str | None] = [None] if block else []
        for child in reversed(el):
            rest.extend([child.tail or "", child])
        return rest


def read_html(raw: bytes, name: str) -> tuple[str, Layout]:
    """The page's main content as text with its headings as sections and their ids as anchors."""
    tree = _decode(raw)
    _drop_hidden(tree)
    _drop_permalinks(tree)
    flow = _Flow()
    flow.walk(_main(tree))
    flow.flush()
    title = " ".join(normalise(tree.findtext(".//title") or "").split())
    return assemble(flow.blocks, title)
