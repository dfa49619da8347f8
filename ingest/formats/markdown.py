"""Markdown as a person reads it: markdown-it renders the blocks, the stored text has no `**`, backticks or link syntax.

Headings (ATX or setext) become sections with GitHub-style anchors; paragraphs and list items are text; fenced and
indented code is code (never quoted); tables are rows labelled by their header; HTML blocks and YAML front matter
are left out. Offsets are into this rendered text, which is what is stored and quoted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from markdown_it.token import Token

from ingest.formats.plain import decode
from ingest.manpage import CODE_SECTIONS
from ingest.structure import (
    NAME_SECTIONS,
    Block,
    Layout,
    assemble,
    front_matter_lines,
    line_starts,
    markdown_parser,
    slug,
    table_rows,
)

_EN_DASH = re.compile(r"(?<=\s)--(?=\s)")  # pandoc's Markdown writes a man page's « \- » so


def inline_text(token: Token) -> str:
    """An inline token as read: text and code spans as they show, links by their text, images by their alt;
    inline HTML is not rendered, so it stays as written (each edge escapes it)."""
    parts: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(inline_text(child))
    return _EN_DASH.sub("–", "".join(parts))


def _table(tokens: Sequence[Token], i: int) -> tuple[list[Block], int]:
    """The rows of the table opening at tokens[i] (header cells label the others), and the index after it."""
    rows: list[list[str]] = []
    header: list[str] | None = None
    while tokens[i].type != "table_close":
        token = tokens[i]
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline":
            rows[-1].append(inline_text(token))
        elif token.type == "thead_close":
            header = rows.pop() if rows else None
        i += 1
    return list(table_rows(rows, header)), i


def _blocks(tokens: Sequence[Token]) -> Iterator[Block]:
    """Headings, paragraphs (list items and quotes included), code and table rows, in order."""
    anchors: dict[str, int] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "heading_open":
            heading = inline_text(tokens[i + 1])
            yield Block("heading", heading, int(token.tag[1:]), slug(" ".join(heading.split()), anchors))
        elif token.type == "paragraph_open":
            yield Block("text", inline_text(tokens[i + 1]))
        elif token.type in ("fence", "code_block"):
            yield Block("code", token.content)
        elif token.type == "table_open":
            rows, i = _table(tokens, i)
            yield from rows
        i += 1


def _man_title(blocks: list[Block]) -> str:
    """A man page through pandoc starts « # NOM » then its NAME line: that line is the title."""
    heads = [b for b in blocks[:2] if b.text.strip()]
    if len(heads) == 2 and heads[0].kind == "heading" and heads[0].text.strip().upper() in NAME_SECTIONS:
        return " ".join(heads[1].text.split())
    return ""


def _synopsis_as_code(blocks: list[Block]) -> Iterator[Block]:
    """A man page's SYNOPSIS is command syntax: code, as in the page rendered by man."""
    synopsis = False
    for block in blocks:
        synopsis = block.text.strip().upper() in CODE_SECTIONS if block.kind == "heading" else synopsis
        yield Block("code", block.text) if synopsis and block.kind == "text" else block


def read_markdown(raw: bytes, name: str) -> tuple[str, Layout]:
    """A Markdown file rendered to the text a reader sees, with its headings as sections."""
    text = decode(raw)
    starts = line_starts(text)
    body = text[starts[min(front_matter_lines(text), len(starts) - 1)]:]
    blocks = list(_blocks(markdown_parser().parse(body)))
    man = _man_title(blocks)
    return assemble(_synopsis_as_code(blocks) if man else blocks, man, given_first=bool(man))
