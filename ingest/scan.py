"""Find the source files under a folder: links kept inside it, odd entries reported, each file's identity kept."""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from index.errors import SourceError
from ingest.budget import Budget
from ingest.formats import reader_for

MAX_DEPTH = 64  # folders below this many levels are skipped with a reason; real trees stay under 20


@dataclass(frozen=True, slots=True)
class ReadParams:
    """Which files are sources and how large one may be; defaults live in bot/config.py."""

    max_bytes: int
    include: tuple[str, ...] = ()  # fnmatch globs on the path relative to the root; empty = every file
    exclude: tuple[str, ...] = ()
    budget: Budget | None = None  # each file read in a worker under this time and memory cap; None: in-process


@dataclass(frozen=True, slots=True)
class Found:
    """A file the scan accepted and the identity it had then, so the read opens that very file, not a swap."""

    path: Path  # as found under the root: what is shown and what the id is made from
    target: Path  # the resolved path (a link inside the root points here)
    dev: int
    ino: int


def identify(path: Path) -> Found:
    """The file a path leads to now, for callers that pass paths rather than a scan's results."""
    try:
        target = path.resolve()
        st = os.stat(target)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a link loop (Python 3.11)
        raise SourceError(path, f"cannot be read ({getattr(exc, 'strerror', None) or exc})") from exc
    return Found(path, target, st.st_dev, st.st_ino)


def find_sources(root: Path) -> list[Path]:
    """Every supported file under root (or root itself) that can be read, in a stable order."""
    return [found.path for found in scan_sources(root)[0]]


def _wanted(rel: str, params: ReadParams | None) -> bool:
    """Whether the include and exclude globs keep this relative path."""
    if params is None:
        return True
    included = not params.include or any(fnmatch.fnmatchcase(rel, g) for g in params.include)
    return included and not any(fnmatch.fnmatchcase(rel, g) for g in params.exclude)


def _utf8(path: Path, root: Path) -> bool:
    """Whether a name can be stored: a Latin-1 `résumé.txt` decodes to surrogates that no UTF-8 write accepts."""
    try:
        path.relative_to(root).as_posix().encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(root: Path, skipped: list[SourceError]) -> list[Path]:
    """Every entry under root that is not a folder to descend, hidden ones passed over; iterative, so a tree
    990 folders deep cannot overflow the stack, and folders past MAX_DEPTH are reported, not read."""
    entries: list[Path] = []
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as listing:
                children = [(e.name, e.is_dir(follow_symlinks=False)) for e in listing if not e.name.startswith(".")]
        except OSError as exc:
            skipped.append(SourceError(folder, f"folder cannot be listed ({exc.strerror}); skipped"))
            continue
        for name, is_dir in children:
            path = folder / name
            if not _utf8(path, root):
                skipped.append(SourceError(path, "name is not valid UTF-8; skipped (rename it, e.g. "
                                                 "`convmv -f latin1 -t utf8 --notest`)"))
            elif not is_dir:
                entries.append(path)
            elif depth >= MAX_DEPTH:
                skipped.append(SourceError(path, f"folder more than {MAX_DEPTH} levels deep; skipped"))
            else:
                stack.append((path, depth + 1))
    return sorted(entries)


def scan_sources(root: Path, params: ReadParams | None = None) -> tuple[list[Found], list[SourceError]]:
    """The source files under root, with their identity, and the entries skipped with their reason.

    Hidden files and folders (`.git`) and files the globs leave out are passed over silently; anything
    else that is not read is reported. Symbolic links are followed only while they stay inside the
    sources folder: a link to /etc/passwd must not be indexed and served. Dangling links, FIFOs, sockets
    and devices are skipped, never read (reading a FIFO would block the ingest).
    """
    if root.is_file():
        return [identify(root)], []
    inside = root.resolve()
    found: list[Found] = []
    skipped: list[SourceError] = []
    for path in _walk(root, skipped):
        if not _wanted(path.relative_to(root).as_posix(), params):
            continue
        try:
            target = path.resolve()
            st = os.stat(target)
        except (OSError, RuntimeError) as exc:  # RuntimeError: a link loop (Python 3.11)
            why = "dangling symbolic link" if path.is_symlink() else \
                f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
            skipped.append(SourceError(path, f"{why}; skipped"))
            continue
        if not target.is_relative_to(inside):
            skipped.append(SourceError(path, "links outside the sources folder; skipped (links are followed only "
                                             "inside it)"))
        elif stat.S_ISDIR(st.st_mode):
            continue
        elif not stat.S_ISREG(st.st_mode):
            skipped.append(SourceError(path, "not a regular file (FIFO, socket or device); skipped"))
        elif reader_for(path.name) is None:
            skipped.append(SourceError(path, f"unsupported format ({path.suffix or 'no extension'}); skipped"))
        else:
            found.append(Found(path, target, st.st_dev, st.st_ino))
    return found, skipped
