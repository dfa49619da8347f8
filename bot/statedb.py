"""Where state that replicas must agree on lives (Slack dedupe, votes and threads; re-index jobs): SQLite on one
machine, or the PostgreSQL of SOURCIER_DATABASE_URL that every replica shares.

Both take the same SQL (`?` placeholders, `ON CONFLICT`), so each store's logic is written once.
Each statement runs on its own and commits at once: dedupe and votes rely on a primary key, not on a lock.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from index.errors import DatabaseConfigError, DatabaseUnavailableError

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)
Row = tuple[Any, ...]
SCHEMA = "sourcier_state"  # the shared state's own schema, beside the index's in a shared database


class Sql(Protocol):
    """Runs one statement; returns its rows and how many rows it changed."""

    def run(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[Row], int]: ...

    def create(self, ddl: Sequence[str]) -> None: ...

    def close(self) -> None: ...


class SqliteSql:
    """One file under the data dir; safe across threads and worker processes (WAL, short writes)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")

    def run(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[Row], int]:
        """One statement, committed."""
        with self._lock:
            cursor = self._db.execute(sql, tuple(params))
            return cursor.fetchall(), cursor.rowcount

    def create(self, ddl: Sequence[str]) -> None:
        """Create the tables that are missing."""
        with self._lock:
            for statement in ddl:
                self._db.execute(statement)

    def close(self) -> None:
        """Release the file."""
        with self._lock:
            self._db.close()


class PostgresSql:
    """A small pool of connections to the shared database; a statement waits at most `timeout` for one."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        from index.pg.connect import connect

        self._errors = (psycopg.Error, TimeoutError)
        connect(url, timeout).close()  # a wrong URL or password in one sentence: a pool would only time out
        self._pool = ConnectionPool(url, min_size=1, max_size=4, timeout=timeout, open=False, name="state",
                                    check=ConnectionPool.check_connection,
                                    kwargs={"autocommit": True, "options": f"-c search_path={SCHEMA}"})
        try:
            self._pool.open(wait=True, timeout=timeout)
        except Exception as exc:
            self._pool.close()
            raise DatabaseConfigError(f"cannot open connections to the database of SOURCIER_DATABASE_URL: "
                                      f"{_reason(exc)}") from exc

    def run(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[Row], int]:
        """One statement on a pooled connection, committed; an outage is a DatabaseUnavailableError (HTTP 503)."""
        try:
            with self._pool.connection() as conn:
                cursor = conn.execute(sql.replace("?", "%s"), tuple(params))
                rows = cursor.fetchall() if cursor.description else []
                return rows, cursor.rowcount
        except self._errors as exc:
            raise DatabaseUnavailableError(f"the shared state database is unavailable: {_reason(exc)}") from exc

    def create(self, ddl: Sequence[str]) -> None:
        """Create the schema and missing tables, one replica at a time (concurrent CREATE ... IF NOT EXISTS
        can collide in PostgreSQL's catalog)."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (SCHEMA,))
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
                for statement in ddl:
                    conn.execute(statement.replace("REAL", "DOUBLE PRECISION"))
        except self._errors as exc:
            raise DatabaseConfigError(f"cannot create the shared state tables in the database: {_reason(exc)}") from exc

    def close(self) -> None:
        """Close the pool's connections."""
        self._pool.close()


class Mirror:
    """A small shared table held in memory, so that requests read it without a round trip: re-read every `every`
    seconds by a daemon thread (None: only when asked, for one-shot commands). Through an outage the last copy
    stays in use, and the database's word wins again as soon as it answers."""

    def __init__(self, sql: Sql, query: str, every: float | None) -> None:
        self._sql, self._query = sql, query
        self.rows: list[Row] = sql.run(query)[0]  # the first copy, or the outage's error at start-up
        self._stop = threading.Event()
        if every is not None:
            threading.Thread(target=self._follow, args=(max(every, 0.05),), daemon=True, name="mirror").start()

    def refresh(self) -> list[Row]:
        """Read the table now."""
        self.rows = self._sql.run(self._query)[0]
        return self.rows

    def write(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Change the table, then read it again: this process sees its own write at once."""
        self._sql.run(sql, params)
        self.refresh()

    def _follow(self, every: float) -> None:
        """Re-read until closed; an outage is logged once, not once a second."""
        failing = False
        while not self._stop.wait(every):
            try:
                self.refresh()
                failing = False
            except DatabaseUnavailableError as exc:
                if not failing:
                    log.warning("keeping the last copy of shared keys while the database is away: %s", exc)
                failing = True

    def close(self) -> None:
        """Stop following the table."""
        self._stop.set()


@contextmanager
def shared_for_a_command(settings: Settings) -> Iterator[PostgresSql | None]:
    """The shared database for one command (None without one), closed when it is done."""
    shared = shared_database(settings)
    try:
        yield shared
    finally:
        if shared is not None:
            shared.close()


def shared_database(settings: Settings) -> PostgresSql | None:
    """The database of SOURCIER_DATABASE_URL, or None when this deployment keeps its state on its own disk."""
    url = settings.database_url
    return PostgresSql(url.get_secret_value(), settings.database_timeout_seconds) if url is not None else None


def _reason(exc: BaseException) -> str:
    """The server's own words (« password authentication failed for user … ») on one line; psycopg never puts the
    password in them."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
