"""The live index version and how it is swapped: the one reference every question reads, and what replaces it."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from index.errors import EmbedderMismatchError, IndexCorruptError
from index.snapshot import Snapshot
from index.store import load_snapshot
from index.versions import CURRENT, current_version, take_lease

if TYPE_CHECKING:
    from bot.database import Database

log = logging.getLogger(__name__)


class LiveIndex:
    """One snapshot reference for an index directory or a database; replacing the reference is the whole hot swap."""

    def __init__(self, index_dir: Path, embedder: str, database: Database | None,
                 installed: Callable[[Snapshot], None]) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.database = database
        self._installed = installed  # what the engine forgets when the version changes
        self.current: Snapshot | None = None  # as loaded, without looking at CURRENT (None before the first load)
        self._lease: Path | None = None
        self._swap = threading.RLock()
        self._current_stat: tuple[int, int, int] | None = None

    def get(self) -> Snapshot:
        """The snapshot to answer from, always the published one: the hot-swap check.

        One stat() of CURRENT per call. When another process (`sourcier ingest`, a re-index job in another
        worker, `sourcier rollback`) has published a new version, the caller waits while it loads (a few
        milliseconds: the files are memory-mapped), so once `ingest` has returned no answer comes from the
        old version. Requests already running finish on the snapshot they hold. A live file that shrank
        (truncated by hand, a bad restore) drops the snapshot before its maps are read: a 503, not a SIGBUS.
        """
        if self.database is not None:
            return self.from_database(self.database)
        snap = self.current
        if snap is None or self._current_key() != self._current_stat:
            snap = self.refresh()
        elif (mapped := getattr(snap, "mapped", None)) is not None and (name := mapped.shrunk()) is not None:
            snap = self._drop_damaged(snap, name)
        return snap

    def from_database(self, database: Database) -> Snapshot:
        """The database's current version: asked at most every SOURCIER_DATABASE_POLL_SECONDS, loaded once."""
        name = database.current.name()
        snap = self.current
        if name is None:
            from index.pg.live import no_index

            raise no_index()
        if snap is None or snap.version != name:
            with self._swap:
                snap = self.current
                if snap is None or snap.version != name:
                    snap = self._install(database.load(name))
        return snap

    def _drop_damaged(self, snap: Snapshot, name: str) -> Snapshot:
        """Stop answering from a snapshot whose mapped file shrank; load CURRENT again, or raise its 503."""
        with self._swap:
            if self.current is snap:
                log.error("index version %s: %s changed size while served; no longer answering from it",
                          snap.version, name)
                self.current = None
            return self.refresh()  # a restored or republished version serves again; else IndexCorruptError

    def _current_key(self) -> tuple[int, int, int] | None:
        """Identity of the CURRENT file, which publishing replaces atomically."""
        try:
            st = os.stat(self.index_dir / CURRENT)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def refresh(self) -> Snapshot:
        """Catch up with CURRENT under the swap lock; a broken new version is logged and the old one kept."""
        with self._swap:
            key = self._current_key()
            snap = self.current
            if snap is not None and key == self._current_stat:
                return snap  # another request loaded it while this one waited
            try:
                if snap is not None and current_version(self.index_dir) in (None, snap.version):
                    self._current_stat = key
                    return snap
                return self.reload()
            except (IndexCorruptError, EmbedderMismatchError) as exc:
                if snap is None:
                    raise
                log.error("not swapping to the new CURRENT (%s); still serving %s", exc, snap.version)
                self._current_stat = key
                return snap

    def reload(self, version: str | None = None) -> Snapshot:
        """Load a version (default CURRENT) and make it live; the old one serves until this returns."""
        with self._swap:
            if self.database is not None:
                return self._install(self.database.load(version))
            key = self._current_key()
            snap = load_snapshot(self.index_dir, version, embedder=self.embedder)
            lease = take_lease(self.index_dir, snap.version)
            if self._lease is not None and self._lease != lease:
                self._lease.unlink(missing_ok=True)  # mapped files stay readable for in-flight requests
            self._lease, self._current_stat = lease, key
            return self._install(snap)

    def _install(self, snap: Snapshot) -> Snapshot:
        """Make a loaded snapshot live, then tell the engine."""
        if snap.manifest.embedder != self.embedder:
            raise EmbedderMismatchError(f"the index {snap.version} was built with embedder {snap.manifest.embedder!r}, "
                                        f"not {self.embedder!r}: set SOURCIER_EMBEDDER accordingly or re-ingest")
        self.current = snap
        self._installed(snap)
        log.debug("serving index version %s (%d chunks)", snap.version, snap.manifest.counts["chunks"])
        return snap
