"""The PostgreSQL backend as the engine uses it: its pools, the current version, publish and rollback.

Ingest still builds the version on this machine (incremental by content hash, as on disk), then publishes it
into the database in one transaction; every replica pointed at the same database serves it within
SOURCIER_DATABASE_POLL_SECONDS. With SOURCIER_DATABASE_READ_URL a replica reads the index from a streaming
standby: a version commits there as one transaction too, so a standby that lags shows the previous version
whole, never part of the new one; writes and flips always go to the primary.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg

from bot.config import Settings
from index.errors import DatabaseUnavailableError
from index.pg.connect import lend, open_pool
from index.pg.live import Current, load, versions
from index.pg.publish import flip, publish_snapshot
from index.pg.rowcache import RowCache
from index.pg.snapshot import PgSnapshot
from index.store import IndexSnapshot

log = logging.getLogger(__name__)
_CATCH_UP_STEP = 0.02  # seconds between two looks at the standby's replay position


def _replayed(conn: psycopg.Connection[Any], lsn: str) -> bool:
    """Whether this server has replayed the primary's WAL up to `lsn` (a primary has, by definition)."""
    row = conn.execute("select coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, true)", (lsn,)).fetchone()
    return bool(row and row[0])


class Database:
    """A process's connections to the index database (primary, and the standby it reads from) and what it asks."""

    def __init__(self, settings: Settings) -> None:
        assert settings.database_url is not None, "Database needs SOURCIER_DATABASE_URL"
        self.timeout = settings.database_timeout_seconds
        self.keep = settings.keep_versions
        self.pool = open_pool(settings.database_url.get_secret_value(), settings.database_pool_size, self.timeout)
        read_url = settings.database_read_url
        self.reads = self.pool if read_url is None else open_pool(read_url.get_secret_value(),
                                                                  settings.database_pool_size, self.timeout)
        self.current = Current(self.reads, self.timeout, settings.database_poll_seconds)
        self.rows = RowCache()  # passages read, shared by the versions this process loads (their rows are shared)

    def load(self, name: str | None = None) -> PgSnapshot:
        """A stored version (default: the current one), as the read side has it."""
        return load(self.reads, self.timeout, name, self.rows)

    def publish(self, snapshot: IndexSnapshot) -> str:
        """Write a version built on disk (only its changed sources) and make it current."""
        with lend(self.pool, self.timeout) as conn:
            name = publish_snapshot(conn, snapshot, self.keep)
        self._await_standby()
        return name

    def rollback(self, name: str) -> None:
        """Make a stored version current again."""
        with lend(self.pool, self.timeout) as conn:
            flip(conn, name)
        self._await_standby()

    def _await_standby(self) -> None:
        """Give the standby up to the timeout to replay what the primary just committed (usually milliseconds), so
        this process serves its own publish at once; a standby further behind is left to catch up."""
        self.current.forget()
        if self.reads is self.pool:
            return
        with lend(self.pool, self.timeout) as conn:
            row = conn.execute("select pg_current_wal_lsn()::text").fetchone()
        lsn, deadline = str(row[0]) if row else "0/0", time.monotonic() + self.timeout
        try:
            with lend(self.reads, self.timeout) as conn:
                while not _replayed(conn, lsn):
                    if time.monotonic() > deadline:
                        log.warning("the standby of SOURCIER_DATABASE_READ_URL is more than %g s behind the primary;"
                                    " this replica serves the previous version until it catches up", self.timeout)
                        return
                    time.sleep(_CATCH_UP_STEP)
        except DatabaseUnavailableError as exc:  # the publish itself is committed: only this replica's view waits
            log.warning("published, but the standby of SOURCIER_DATABASE_READ_URL did not answer: %s", exc)

    def versions(self) -> list[dict[str, Any]]:
        """Stored versions, oldest first (the primary's list)."""
        return versions(self.pool, self.timeout)

    def close(self) -> None:
        """Close the pools' connections."""
        if self.reads is not self.pool:
            self.reads.close()
        self.pool.close()
