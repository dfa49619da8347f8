"""Find and read the sources: every supported format through its reader; a bad file is reported, never fatal."""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from index.errors import ExtractionError, SourceError
from ingest.formats import READERS
from ingest.structure import Layout

log = logging.getLogger(__name__)
SUFFIXES = tuple(READERS)


@dataclass(frozen=True, slots=True)
class ReadParams:
    """Which files are sources and how large one may be; defaults live in bot/config.py."""

    max_bytes: int
    include: tuple[str, ...] = ()  # fnmatch globs on the path relative to the root; empty = every file
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceDoc:
    """One source: its stable id, where it came from, a title, its stored text, content hash and structure."""

    source_id: str
    path: str
    title: str
    text: str
    sha256: str
    layout: Layout | None = None  # None: worked out from the text (plain text and Markdown)


def source_id_for(path: Path, root: Path) -> str:
    """A readable, URL-safe id from the file's path; never `.` or `..`, whatever the name."""
    stem = _shown_path(path, root).rsplit(".", 1)[0] if path.suffix else _shown_path(path, root)
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


def read_source(path: Path, root: Path, max_bytes: int | None = None) -> SourceDoc:
    """Read one file with its format's reader, or raise SourceError with the reason in one line."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise SourceError(path, f"unsupported format ({path.suffix or 'no extension'}); skipped (sourcier reads "
                                f"{', '.join(SUFFIXES)})")
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise SourceError(path, f"is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:g} MB cap "
                                    "(SOURCIER_MAX_SOURCE_MB); skipped")
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(path, f"cannot be read ({exc.strerror})") from exc
    try:
        text, layout = reader.extract(raw, path.name)
    except ExtractionError as exc:
        raise SourceError(path, str(exc)) from exc
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
        sha256=hashlib.sha256(f"{reader.name}/{reader.version}\n".encode() + raw).hexdigest(),
        layout=layout,
    )


def find_sources(root: Path) -> list[Path]:
    """Every supported file under root (or root itself) that can be read, in a stable order."""
    return scan_sources(root)[0]


def _wanted(rel: str, params: ReadParams | None) -> bool:
    """Whether the include and exclude globs keep this relative path."""
    if params is None:
        return True
    included = not params.include or any(fnmatch.fnmatchcase(rel, g) for g in params.include)
    return included and not any(fnmatch.fnmatchcase(rel, g) for g in params.exclude)


def scan_sources(root: Path, params: ReadParams | None = None) -> tuple[list[Path], list[SourceError]]:
    """The source files under root, and the entries skipped with their reason.

    Hidden files and folders (`.git`) and files the globs leave out are passed over silently; anything
    else that is not read is reported. Symbolic links are followed only while they stay inside the
    sources folder: a link to /etc/passwd must not be indexed and served. Dangling links, FIFOs, sockets
    and devices are skipped, never read (reading a FIFO would block the ingest).
    """
    if root.is_file():
        return [root], []
    inside = root.resolve()
    paths: list[Path] = []
    skipped: list[SourceError] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in path.relative_to(root).parts) or not _wanted(rel, params):
            continue
        if path.is_dir() and not path.is_symlink():
            continue
        target = path.resolve()
        if path.is_symlink() and not target.exists():
            skipped.append(SourceError(path, "dangling symbolic link; skipped"))
        elif not target.is_relative_to(inside):
            skipped.append(SourceError(path, "links outside the sources folder; skipped (links are followed only "
                                             "inside it)"))
        elif target.is_dir():
            continue
        elif not target.is_file():
            skipped.append(SourceError(path, "not a regular file (FIFO, socket or device); skipped"))
        elif path.suffix.lower() not in READERS:
            skipped.append(SourceError(path, f"unsupported format ({path.suffix or 'no extension'}); skipped"))
        else:
            paths.append(path)
    return paths, skipped


def read_sources(paths: Iterable[Path], root: Path, params: ReadParams | None = None,
                 known: Mapping[str, str] | None = None) -> tuple[list[SourceDoc], list[SourceError]]:
    """Read every path; one bad file skips only itself.

    `known` maps the paths of the published version to their ids: a file keeps its id for as long as it
    keeps its path, so links already shared (Slack answers) keep opening the same document. A new file
    whose id is taken gets its extension, then a short hash of its path, appended.
    """
    known = dict(known or {})
    docs: list[SourceDoc] = []
    errors: list[SourceError] = []
    for path in paths:
        try:
            docs.append(read_source(path, root, params.max_bytes if params else None))
        except SourceError as exc:
            errors.append(exc)
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
        out.append(SourceDoc(sid, doc.path, doc.title, doc.text, doc.sha256, doc.layout))
    return out, errors
