"""Find and read the sources: every supported format through its reader; a bad file is reported, never fatal."""

from __future__ import annotations

import errno
import functools
import hashlib
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from index.errors import ExtractionError, SourceError
from ingest.budget import Budget, ReadPool
from ingest.formats import SHOWN, Reader, reader_for
from ingest.scan import MAX_DEPTH, Found, ReadParams, find_sources, identify, scan_sources
from ingest.structure import Layout

log = logging.getLogger(__name__)
SUFFIXES = SHOWN
__all__ = [
    "MAX_DEPTH",
    "SUFFIXES",
    "Extracted",
    "Found",
    "ReadParams",
    "SourceDoc",
    "SourceError",
    "find_sources",
    "identify",
    "read_source",
    "read_sources",
    "scan_sources",
    "source_id_for",
    "title_of",
]  # scanning lives in scan.py
# Read in this process even under a budget: the worst small text file measured (1 MB of « ![ » Markdown, linear at
# 15 µs a byte) costs 1 s at 64 KB, and a worker costs 0.2 s to start; the seed article alone needs none.
INLINE_BYTES = 64 * 1024
INLINE_SUFFIXES = (".txt", ".md", ".markdown")
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # NONBLOCK: a FIFO swapped in never hangs


@dataclass(frozen=True, slots=True)
class SourceDoc:
    """One source: its stable id, where it came from, a title, its stored text, content hash and structure."""

    source_id: str
    path: str
    title: str
    text: str
    sha256: str
    layout: Layout | None = None  # None: worked out from the text (plain text and Markdown), or `cached`
    cached: bool = False  # the text is the previous version's: same bytes, same reader version, not parsed again


@dataclass(frozen=True, slots=True)
class Extracted:
    """A file as the published version holds it, so an unchanged PDF or DOCX is not parsed again."""

    sha256: str  # of the reader's name and version and the raw bytes
    title: str
    text: Callable[[], str]  # read from the version's segment only on a hit


def source_id_for(path: Path, root: Path) -> str:
    """A readable, URL-safe id from the file's path; never `.` or `..`, whatever the name."""
    shown = _shown_path(path, root)
    shown = shown[:-3] if shown.lower().endswith(".gz") else shown  # `usermod.8.gz` is `usermod`, `NEWS.md.gz` `NEWS`
    stem = shown.rsplit(".", 1)[0] if Path(shown).suffix else shown
    slug = re.sub(r"[^A-Za-z0-9._/-]+", "-", stem).strip("-/")
    parts = [p if p.strip(".") else "dots" for p in slug.split("/") if p]
    return "/".join(parts) or "source"


def title_of(text: str) -> str:
    """The first Markdown heading, else the first non-empty line, trimmed to a readable length."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    heading = next((line for line in lines if line.startswith("#")), None)
    title = (heading.lstrip("#").strip() if heading else lines[0]) if lines else ""
    return _clip(title)


def _clip(title: str) -> str:
    return title if len(title) <= 120 else title[:117].rstrip() + "…"


def _shown_path(path: Path, root: Path) -> str:
    """The path as the API, the web page and Slack show it: relative to the sources root, never absolute."""
    return (path.relative_to(root) if path.is_relative_to(root) else Path(path.name)).as_posix()


def read_source(path: Path | Found, root: Path, max_bytes: int | None = None) -> SourceDoc:
    """Read one file with its format's reader, or raise SourceError with the reason in one line."""
    found = path if isinstance(path, Found) else identify(path)
    path = found.path
    reader = reader_for(path.name)
    if reader is None:
        raise SourceError(path, f"unsupported format ({path.suffix or 'no extension'}); skipped (sourcier reads "
                                f"{', '.join(SUFFIXES)})")
    raw = _read_once(found, max_bytes)
    try:
        text, layout = reader.extract(raw, path.name)
    except ExtractionError as exc:
        raise SourceError(path, str(exc)) from exc
    except MemoryError:
        raise  # over a worker's memory cap: ingest/budget.py names the cap
    except Exception as exc:  # a reader library failing on hostile input must not stop the other files
        log.exception("reading %s failed", path)
        raise SourceError(path, f"could not be read as {reader.name} ({type(exc).__name__}); skipped") from exc
    if not text.strip():
        raise SourceError(path, "is empty; skipped")
    return SourceDoc(
        source_id=source_id_for(path, root),
        path=_shown_path(path, root),
        title=_clip(layout.title) if layout.title else title_of(text),
        text=text,
        sha256=_content_hash(reader, raw),
        layout=layout,
    )


def _content_hash(reader: Reader, raw: bytes) -> str:
    """A source's hash: its bytes and the reader that reads them, so improving a reader re-reads its files."""
    return hashlib.sha256(f"{reader.name}/{reader.version}\n".encode() + raw).hexdigest()


def _from_cache(found: Found, root: Path, max_bytes: int | None, extracted: Mapping[str, Extracted]) -> SourceDoc | None:
    """The previous version's text of a file whose bytes and reader are unchanged (hashed before any parsing)."""
    shown = _shown_path(found.path, root)
    entry, reader = extracted.get(shown), reader_for(found.path.name)
    if entry is None or reader is None:
        return None
    try:
        raw = _read_once(found, max_bytes)
    except SourceError:
        return None  # the real read reports why
    if _content_hash(reader, raw) != entry.sha256:
        return None
    return SourceDoc(source_id_for(found.path, root), shown, entry.title, entry.text(), entry.sha256, cached=True)


def _read_once(found: Found, max_bytes: int | None) -> bytes:
    """The bytes of the file the scan saw: opened once, without following a last link, checked by inode.

    Between the scan and the read a file can be swapped for a link to /etc/passwd or for a FIFO; reopening
    the path would follow the swap. One descriptor, and the same device and inode as at scan time, or no read.
    """
    try:
        fd = os.open(found.target, _OPEN_FLAGS)
    except OSError as exc:
        why = "was replaced by a symbolic link after the scan" if exc.errno == errno.ELOOP else exc.strerror
        raise SourceError(found.path, f"cannot be read ({why}); skipped") from exc
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (found.dev, found.ino) or not stat.S_ISREG(st.st_mode):
            raise SourceError(found.path, "was replaced by another file while ingest ran; skipped (the next ingest "
                                          "reads it)")
        if max_bytes is not None and st.st_size > max_bytes:
            raise SourceError(found.path, f"is {st.st_size / 2**20:.1f} MB, over the {max_bytes / 2**20:g} MB cap "
                                          "(SOURCIER_MAX_SOURCE_MB); skipped")
        return _read_all(fd, found.path, max_bytes)
    except OSError as exc:
        raise SourceError(found.path, f"cannot be read ({exc.strerror})") from exc
    finally:
        os.close(fd)


def _read_all(fd: int, path: Path, max_bytes: int | None) -> bytes:
    """Read to the end, stopping past the cap: a file growing after fstat is still bounded."""
    parts: list[bytes] = []
    size = 0
    while chunk := os.read(fd, 1 << 20):
        parts.append(chunk)
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise SourceError(path, f"grew over the {max_bytes / 2**20:g} MB cap (SOURCIER_MAX_SOURCE_MB) while "
                                    "being read; skipped")
    return b"".join(parts)


def read_sources(paths: Iterable[Path | Found], root: Path, params: ReadParams | None = None,
                 known: Mapping[str, str] | None = None,
                 extracted: Mapping[str, Extracted] | None = None) -> tuple[list[SourceDoc], list[SourceError]]:
    """Read every path; one bad file skips only itself; a file `extracted` holds with the same hash is not parsed.

    `known` maps the paths of the published version to their ids: a file keeps its id for as long as it
    keeps its path, so links already shared (Slack answers) keep opening the same document. A new file
    whose id is taken gets its extension, then a short hash of its path, appended.
    """
    known = dict(known or {})
    outcomes = _read_each(list(paths), root, params, extracted or {})
    docs = [o for o in outcomes if isinstance(o, SourceDoc)]
    errors = [o for o in outcomes if isinstance(o, SourceError)]
    taken = set(known.values())  # a removed file's id is not handed to another file straight away
    out: list[SourceDoc] = []
    for doc in docs:
        sid = known.get(doc.path)
        if sid is None:
            sid = doc.source_id
            if sid in taken:  # "notes.txt" beside "notes.md", or "a b.txt" beside "a-b.txt"
                sid = f"{doc.source_id}-{doc.path.rsplit('.', 1)[-1]}"
            if sid in taken:
                sid = f"{doc.source_id}-{hashlib.sha256(doc.path.encode()).hexdigest()[:8]}"
            taken.add(sid)
        out.append(SourceDoc(sid, doc.path, doc.title, doc.text, doc.sha256, doc.layout, doc.cached))
    return out, errors


def _inline(found: Found) -> bool:
    """A small text file, read faster here than a worker starts (INLINE_BYTES)."""
    try:
        return found.path.suffix.lower() in INLINE_SUFFIXES and os.stat(found.target).st_size <= INLINE_BYTES
    except OSError:
        return True  # the read itself reports why it cannot open the file


def _read_here(found: Found, root: Path, max_bytes: int | None) -> SourceDoc | SourceError:
    """One file read in this process: its document or the reason it is skipped."""
    try:
        return read_source(found, root, max_bytes)
    except SourceError as exc:
        return exc
    except MemoryError:
        return SourceError(found.path, "ran out of memory while being read; skipped (set SOURCIER_READ_MEMORY_MB)")


def _read_each(paths: list[Path | Found], root: Path, params: ReadParams | None,
               extracted: Mapping[str, Extracted]) -> list[SourceDoc | SourceError]:
    """Every file's document or reason, in order: unchanged files from `extracted`, small text files here, the
    others in workers under the budget."""
    max_bytes = params.max_bytes if params else None
    budget = params.budget if params else None
    out: dict[int, SourceDoc | SourceError] = {}
    pooled: list[tuple[int, Found]] = []
    for at, path in enumerate(paths):
        try:
            found = path if isinstance(path, Found) else identify(path)
        except SourceError as exc:
            out[at] = exc
            continue
        if (cached := _from_cache(found, root, max_bytes, extracted)) is not None:
            out[at] = cached
        elif budget is None or _inline(found):
            out[at] = _read_here(found, root, max_bytes)
        else:
            pooled.append((at, found))
    if pooled and budget is not None:
        out.update(zip((at for at, _ in pooled), _read_pooled([f for _, f in pooled], root, max_bytes, budget),
                       strict=True))
    return [out[at] for at in sorted(out)]


def _read_pooled(found: list[Found], root: Path, max_bytes: int | None,
                 budget: Budget) -> list[SourceDoc | SourceError]:
    """Files read in worker processes, each within the budget's time and memory."""
    with ReadPool(functools.partial(read_source, root=root, max_bytes=max_bytes), budget) as pool:
        return pool.map(found)
