"""What keeps an ingest safe to run beside servers: one at a time per index directory, and a full or
read-only disk reported as one clear error while the published version keeps serving."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index.errors import IngestError


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
