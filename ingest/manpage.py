"""Man pages rendered as text (`man page | col -b`): the NAME line is the title, unindented lines are sections, and
a paragraph is wrapped at the header's width.

The `ADDUSER(8)  System Manager's Manual  ADDUSER(8)` header and the footer that ends with the same `ADDUSER(8)`
are furniture, never text; SYNOPSIS is command syntax, kept as code (never quoted).
"""

from __future__ import annotations

import re
from dataclasses import replace

from ingest.paragraphs import paragraph_regions, wrap_width
from ingest.structure import NAME_SECTIONS, Layout, Region

_HEADER = re.compile(r"(\S+)\((\w+)\)\s+.*\S\s+\1\(\2\)\s*")
CODE_SECTIONS = frozenset({"SYNOPSIS", "SYNOPSYS", "RÉSUMÉ", "SYNOPSE", "ÜBERSICHT", "SINOPSIS"})


def _indent(line: str) -> int:
    """Columns of leading blank, tabs expanded as a terminal shows them (col -b writes tabs)."""
    wide = line.expandtabs(8)
    return len(wide) - len(wide.lstrip())


def man_page(lines: list[str]) -> bool:
    """Whether the first non-blank line is a man page header: `NAME(SECTION) … NAME(SECTION)`."""
    first = next((line for line in lines if line.strip()), "")
    return bool(_HEADER.fullmatch(first.rstrip("\n")))


def _furniture(line: str, page: str) -> bool:
    """The header and footer lines: they start and/or end with the page's NAME(SECTION)."""
    stripped = line.strip()
    return _indent(line) == 0 and (stripped.startswith(page) or stripped.endswith(page))


def man_layout(text: str, starts: list[int], lines: list[str]) -> Layout:
    """Sections (unindented lines) and subsections (slightly indented), paragraphs between blank lines."""
    first = next(line for line in lines if line.strip())
    match = _HEADER.fullmatch(first.rstrip("\n"))
    page = f"{match.group(1)}({match.group(2)})" if match else ""
    title = ""
    sections: list[str] = []
    regions: list[Region] = []
    para = -1
    width = len(first.rstrip().expandtabs(8)) if match else wrap_width(lines)  # groff fills each paragraph to
    # the header's width; option lists (« -e, --expire » over its text) defeat a width guessed from the lines
    for n, line in enumerate([*lines, ""]):
        blank = not line.strip()
        heading = not blank and (_indent(line) < 5 or _furniture(line, page))
        if para >= 0 and (blank or heading):
            code = bool(sections) and sections[0].upper() in CODE_SECTIONS
            named = not title and bool(sections) and sections[0].upper() in NAME_SECTIONS
            if named:
                title = " ".join(text[starts[para]:starts[n]].split())
            path = tuple(p for p in (title, *sections) if p)
            found = [] if code else [replace(r, heading=named)  # the NAME line is the title: searched, not quoted
                                     for r in paragraph_regions(text, starts, para, n, path, width)]
            regions.extend(found)
            para = -1
        if heading and not _furniture(line, page):
            name = " ".join(line.split())
            sections = [name] if _indent(line) == 0 else sections[:1] + [name]
        elif not blank and not heading and para < 0:
            para = n
    return Layout(title or page, tuple(regions))
