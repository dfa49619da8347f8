"""What keeps an ingest safe to run beside servers: one at a time per index directory, a full or read-only
disk reported as one clear error while the published version keeps serving, and no index replaced unasked."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index.errors import IngestError, ReplaceRefusedError
from index.manifest import Manifest

REPLACE_HINT = 'pass --replace (over HTTP: {"replace": true}) to replace it'


@contextmanager
def disk_errors(index_dir: Path) -> Iterator[None]:
    """A read-only or full disk becomes one clear IngestError; the published version is untouched."""
    try:
        yield
    except OSError as exc:
        try:
            free = f"{shutil.disk_usage(index_dir if index_dir.exists() else index_dir.parent).free / 2**20:.1f} MB free"
        except OSError:
            free = "free space unknown"
        raise IngestError(f"cannot write a new index version in {index_dir} ({exc.strerror or exc}; {free}); "
                          "the current version keeps serving") from exc


@contextmanager
def ingest_lock(index_dir: Path) -> Iterator[None]:
    """One ingest at a time per index directory; a second one fails fast with a clear message."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IngestError(f"another ingest is running on {index_dir}; wait for it to finish") from exc
        yield
    finally:
        os.close(fd)


def ingest_running(index_dir: Path) -> bool:
    """True while some process holds the ingest lock of this index directory."""
    try:
        fd = os.open(index_dir / ".lock", os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock this check may have taken
    return False


def _named(ids: list[str]) -> str:
    """Up to ten source ids, then how many more."""
    more = f" and {len(ids) - 10} more" if len(ids) > 10 else ""
    return ", ".join(ids[:10]) + more


def refuse_replacing(published: Manifest | None, root: Path, new_ids: set[str]) -> None:
    """Stop an ingest that would silently replace the team's index: one from another folder than the one the
    index was built from, or one that would remove more than half of the indexed sources."""
    if published is None or not published.sources:
        return
    removed = sorted(set(published.sources) - new_ids)
    what = f"it would remove {len(removed)} of {len(published.sources)} indexed sources" + \
           (f" ({_named(removed)})" if removed else "")
    recorded = published.sources_root
    if recorded and Path(recorded) != root.resolve():
        raise ReplaceRefusedError(f"refusing to ingest {root}: the index was built from {recorded} and {what}; "
                                  f"run `sourcier ingest {recorded}` to update it, or {REPLACE_HINT}")
    if 2 * len(removed) > len(published.sources):
        check = "check the folder" if recorded else \
            "the index does not record the folder it was built from: run `sourcier ingest DIR` with that folder once"
        raise ReplaceRefusedError(f"refusing to ingest {root}: {what}, more than half; {check}, or {REPLACE_HINT}")
