"""The PostgreSQL backend as the engine uses it: one pool, the current version, publish and rollback.

Ingest still builds the version on this machine (incremental by content hash, as on disk), then publishes it
into the database in one transaction; every replica pointed at the same database serves it within
SOURCIER_DATABASE_POLL_SECONDS.
"""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from index.pg.connect import lend, open_pool
from index.pg.live import Current, load, versions
from index.pg.publish import flip, publish_snapshot
from index.pg.snapshot import PgSnapshot
from index.store import IndexSnapshot


class Database:
    """A process's connection pool to the index database and what it asks of it."""

    def __init__(self, settings: Settings) -> None:
        assert settings.database_url is not None, "Database needs SOURCIER_DATABASE_URL"
        self.timeout = settings.database_timeout_seconds
        self.keep = settings.keep_versions
        self.pool = open_pool(settings.database_url.get_secret_value(), settings.database_pool_size, self.timeout)
        self.current = Current(self.pool, self.timeout, settings.database_poll_seconds)

    def load(self, name: str | None = None) -> PgSnapshot:
        """A stored version (default: the current one)."""
        return load(self.pool, self.timeout, name)

    def publish(self, snapshot: IndexSnapshot) -> str:
        """Write a version built on disk (only its changed sources) and make it current."""
        with lend(self.pool, self.timeout) as conn:
            name = publish_snapshot(conn, snapshot, self.keep)
        self.current.forget()
        return name

    def rollback(self, name: str) -> None:
        """Make a stored version current again."""
        with lend(self.pool, self.timeout) as conn:
            flip(conn, name)
        self.current.forget()

    def versions(self) -> list[dict[str, Any]]:
        """Stored versions, oldest first."""
        return versions(self.pool, self.timeout)

    def close(self) -> None:
        """Close the pool's connections."""
        self.pool.close()
