"""Index versions on disk: new directories written aside, then published by flipping CURRENT atomically."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from index.errors import IndexCorruptError, IndexNotFoundError

CURRENT = "CURRENT"
LEASES = ".leases"
TMP_PREFIX = ".tmp-"
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:-\d{6})?Z-[0-9a-f]{4}$")


def new_version_name(now: datetime | None = None) -> str:
    """Sortable by time, unique by a random suffix: 2026-11-29T10-45-00-123456Z-1a2b."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y-%m-%dT%H-%M-%S-%f')}Z-{secrets.token_hex(2)}"


def is_version_name(name: str) -> bool:
    """True for directory names this module creates, so nothing else is ever pruned."""
    return bool(_VERSION.match(name))


def current_version(index_dir: Path) -> str | None:
    """The published version's name, or None when nothing is published; IndexCorruptError when CURRENT is
    not a file naming a version (a directory, binary bytes, a path)."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"{index_dir / CURRENT} is unreadable ({exc}); run `sourcier rollback` or "
                                "`sourcier ingest` to rewrite it") from exc
    if name and not is_version_name(name):
        raise IndexCorruptError(f"{index_dir / CURRENT} does not name a version ({name[:40]!r}); run "
                                "`sourcier rollback` or `sourcier ingest` to rewrite it")
    return name or None


def require_current(index_dir: Path) -> str:
    """The published version, or a clear error saying how to build one."""
    name = current_version(index_dir)
    if name is None:
        raise IndexNotFoundError(f"no index in {index_dir}: build one with `sourcier ingest seeds/`")
    return name


def list_versions(index_dir: Path) -> list[str]:
    """Complete version directories, oldest first."""
    if not index_dir.is_dir():
        return []
    return sorted(p.name for p in index_dir.iterdir() if p.is_dir() and is_version_name(p.name))


def fsync_dir(path: Path) -> None:
    """Persist a rename, so a crash cannot undo a publish."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so readers see the old bytes or the new ones, never a mix."""
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{secrets.token_hex(4)}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def publish(index_dir: Path, version: str) -> None:
    """Point CURRENT at a complete version."""
    if not (index_dir / version).is_dir():
        raise IndexNotFoundError(f"no version {version!r} in {index_dir}; see `sourcier versions`")
    write_atomic(index_dir / CURRENT, f"{version}\n".encode())


def fsync_files(directory: Path) -> None:
    """Persist every file under a directory before it is renamed into place."""
    for child in directory.rglob("*"):
        if child.is_file():
            with open(child, "rb") as handle:
                os.fsync(handle.fileno())


@contextmanager
def staging(index_dir: Path, version: str) -> Iterator[Path]:
    """A scratch directory that becomes index_dir/version only if the block finishes."""
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = index_dir / f"{TMP_PREFIX}{version}"
    tmp.mkdir()
    try:
        yield tmp
        fsync_files(tmp)
        os.replace(tmp, index_dir / version)
        fsync_dir(index_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def clean_leftovers(index_dir: Path) -> list[str]:
    """Remove scratch files an interrupted ingest left behind; call while holding the ingest lock."""
    if not index_dir.is_dir():
        return []
    removed = [p for p in index_dir.iterdir() if p.name.startswith(TMP_PREFIX)]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return [p.name for p in removed]


def process_alive(pid: int) -> bool:
    """Whether a process of this host still exists (signal 0 checks without touching it)."""
    if pid <= 0:  # 0 and negatives name process groups, never one process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def take_lease(index_dir: Path, version: str) -> Path | None:
    """Mark a version as in use by this process, so prune() leaves it alone; None on a read-only index."""
    lease = index_dir / LEASES / f"{version}.{os.getpid()}"
    try:
        lease.parent.mkdir(exist_ok=True)
        lease.touch()
    except OSError:
        return None
    return lease


def leased_versions(index_dir: Path) -> set[str]:
    """Versions some live process still serves; leases of dead processes are removed on the way."""
    held: set[str] = set()
    for lease in (index_dir / LEASES).glob("*.*") if (index_dir / LEASES).is_dir() else []:
        version, _, pid = lease.name.rpartition(".")
        if pid.isdigit() and process_alive(int(pid)):
            held.add(version)
        else:
            lease.unlink(missing_ok=True)
    return held


def prune(index_dir: Path, keep: int) -> list[str]:
    """Delete the oldest versions until `keep` are left, never the published one nor one a running server holds.

    Held and published versions count among the `keep` (six were listed with KEEP=5 when they did not); only
    when they alone are more than `keep` are more versions left. Call collect_garbage() after it.
    """
    current = current_version(index_dir)
    held = leased_versions(index_dir)
    versions = list_versions(index_dir)
    spare = [v for v in versions if v != current and v not in held]
    doomed = spare[: max(0, len(versions) - max(keep, 1))]
    for name in doomed:
        shutil.rmtree(index_dir / name, ignore_errors=True)
    return doomed
