"""Export the French Debian Administrator's Handbook (HTML) to Markdown files for the eval corpora.

Run by hand, once, where the Debian package can be downloaded:

    apt-get download debian-handbook && dpkg -x debian-handbook_*.deb /tmp/hb
    .venv/bin/pip install lxml
    .venv/bin/python bench/handbook.py /tmp/hb/usr/share/doc/debian-handbook/html/fr-FR tests/data/eval/handbook

Headings become Markdown headings (sidebar titles one level below their section), paragraphs and
list items plain text, program listings fenced code blocks; navigation, banners and index anchors
are dropped. Tables are skipped. The output is committed, so tests need nothing beside the clone.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

from lxml import html

_DROP = ("//div[@id='banner']", "//p[@id='title']", "//ul[contains(@class,'docnav')]", "//script",
         "//style", "//a[contains(@class,'indexterm')]", "//table", "//div[contains(@class,'toc')]")
_HEADING = re.compile(r"h([1-6])")


def _text(node: html.HtmlElement) -> str:
    """The node's visible text on one line."""
    return " ".join(node.text_content().split())


def blocks(node: html.HtmlElement, level: list[int]) -> Iterator[str]:
    """Markdown blocks in document order; `level` holds the last heading level seen."""
    for child in node:
        if not isinstance(child.tag, str):
            continue
        tag, cls = child.tag, child.get("class") or ""
        heading = _HEADING.fullmatch(tag)
        if heading and "title" in cls:
            level[0] = int(heading.group(1))
            yield "#" * level[0] + " " + _text(child)
        elif tag == "p" and "title" in cls:  # sidebar, note or figure title
            yield "#" * min(level[0] + 1, 6) + " " + _text(child)
        elif tag == "pre":
            yield "```\n" + child.text_content().strip("\n") + "\n```"
        elif tag == "li":
            text = _text(child)
            if text:
                yield "- " + text
        elif tag == "p" or "para" in cls.split():
            if child.xpath(".//pre|.//ul|.//ol"):
                yield from blocks(child, level)
            else:
                text = _text(child)
                if text:
                    yield text
        else:
            yield from blocks(child, level)


def export(page: Path) -> str:
    """One HTML page as Markdown."""
    tree = html.fromstring(page.read_bytes())
    for path in _DROP:
        for node in tree.xpath(path):
            node.drop_tree()
    body = tree.find("body")
    return "\n\n".join(blocks(body if body is not None else tree, [1])) + "\n"


def main(source: Path, target: Path) -> None:
    """Export every page but the table of contents."""
    target.mkdir(parents=True, exist_ok=True)
    total = 0
    for page in sorted(source.glob("*.html")):
        if page.name == "index.html":
            continue
        text = export(page)
        total += len(text)
        (target / (page.stem + ".md")).write_text(text, encoding="utf-8")
    print(f"{len(list(target.glob('*.md')))} pages, {total:,} characters -> {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
