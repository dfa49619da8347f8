"""Read .txt/.md sources into normalised documents; a bad file is reported, never fatal to the others."""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from index.errors import SourceError
from ingest.text import normalise

SUFFIXES = (".txt", ".md")


@dataclass(frozen=True, slots=True)
class SourceDoc:
    """One source: its stable id, where it came from, a title, its normalised text and content hash."""

    source_id: str
    path: str
    title: str
    text: str
    sha256: str


def source_id_for(path: Path, root: Path) -> str:
    """A readable, URL-safe id that stays stable while the file keeps its name."""
    rel = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
    stem = str(rel.with_suffix("")).replace("\\", "/")
    return re.sub(r"[^A-Za-z0-9._/-]+", "-", stem).strip("-/") or "source"


def title_of(text: str) -> str:
    """The first Markdown heading, else the first non-empty line, trimmed to a readable length."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    heading = next((line for line in lines if line.startswith("#")), None)
    title = (heading.lstrip("#").strip() if heading else lines[0]) if lines else ""
    return title if len(title) <= 120 else title[:117].rstrip() + "…"


def _shown_path(path: Path, root: Path) -> str:
    """The path as the API, the web page and Slack show it: relative to the sources root, never absolute."""
    return (path.relative_to(root) if path.is_relative_to(root) else Path(path.name)).as_posix()


def _looks_utf16(raw: bytes) -> bool:
    """A UTF-16 byte-order mark, whole code units, and mostly Latin letters once decoded (binary junk that
    happens to start with FF FE decodes to CJK noise)."""
    if not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or len(raw) % 2:
        return False
    try:
        letters = [c for c in raw.decode("utf-16") if c.isalpha()]
    except UnicodeDecodeError:
        return False
    return bool(letters) and sum(ord(c) < 0x250 for c in letters) >= 0.9 * len(letters)


def read_source(path: Path, root: Path) -> SourceDoc:
    """Decode one file strictly as UTF-8 (BOM and CRLF accepted) or raise SourceError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(path, f"cannot be read ({exc.strerror})") from exc
    utf16 = _looks_utf16(raw)  # Windows editors save "Unicode" so
    if b"\x00" in raw and not utf16:
        raise SourceError(path, "looks binary (contains NUL bytes); skipped")
    try:
        decoded = raw.decode("utf-16") if utf16 else raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(path, f"is not valid {'UTF-16' if utf16 else 'UTF-8'} (byte {exc.start}); "
                                "re-save it as UTF-8") from exc
    text = normalise(decoded)
    if not text.strip():
        raise SourceError(path, "is empty; skipped")
    return SourceDoc(
        source_id=source_id_for(path, root),
        path=_shown_path(path, root),
        title=title_of(text),
        text=text,
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def find_sources(root: Path) -> list[Path]:
    """Every .txt/.md file under root (or root itself) that can be read, in a stable order."""
    return scan_sources(root)[0]


def scan_sources(root: Path) -> tuple[list[Path], list[SourceError]]:
    """The source files under root, and the entries skipped with their reason.

    Symbolic links are followed only while they stay inside the sources folder: a link to /etc/passwd
    must not be indexed and served. Dangling links, FIFOs, sockets and devices are skipped, never read
    (reading a FIFO would block the ingest).
    """
    if root.is_file():
        return [root], []
    inside = root.resolve()
    paths: list[Path] = []
    skipped: list[SourceError] = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in SUFFIXES or (path.is_dir() and not path.is_symlink()):
            continue
        target = path.resolve()
        if path.is_symlink() and not target.exists():
            skipped.append(SourceError(path, "dangling symbolic link; skipped"))
        elif not target.is_relative_to(inside):
            skipped.append(SourceError(path, "links outside the sources folder; skipped (links are followed only "
                                             "inside it)"))
        elif not target.is_file():
            if not target.is_dir():
                skipped.append(SourceError(path, "not a regular file (FIFO, socket or device); skipped"))
        else:
            paths.append(path)
    return paths, skipped


def read_sources(paths: Iterable[Path], root: Path) -> tuple[list[SourceDoc], list[SourceError]]:
    """Read every path; return the good documents and the errors, so one bad file skips only itself."""
    docs: list[SourceDoc] = []
    errors: list[SourceError] = []
    taken: set[str] = set()
    for path in paths:
        try:
            doc = read_source(path, root)
        except SourceError as exc:
            errors.append(exc)
            continue
        if doc.source_id in taken:  # "notes.txt" beside "notes.md", or "a b.txt" beside "a-b.txt"
            unique = f"{doc.source_id}-{path.suffix.lstrip('.')}"
            if unique in taken:
                unique = f"{doc.source_id}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
            doc = replace(doc, source_id=unique)
        taken.add(doc.source_id)
        docs.append(doc)
    return docs, errors
