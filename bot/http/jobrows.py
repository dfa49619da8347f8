"""Re-index jobs in the index database, when replicas share one: any replica answers for any job, and one job runs
at a time across all of them. The replica running a job holds a session advisory lock on a connection of its own;
if it dies, PostgreSQL drops the lock with the connection, so its job reads as interrupted, never running forever."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bot.database import Database
from index.pg.connect import connect, lend

_JOB_LOCK = 0x4A6F6273  # "Jobs"


class PgJobRows:
    """Job records as rows, and the lock that makes one job at a time."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._holder: psycopg.Connection[Any] | None = None

    def claim(self) -> bool:
        """Take the one-job lock for this process (False: another replica runs a job)."""
        conn = connect(self._db.url, self._db.timeout)
        row = conn.execute("select pg_try_advisory_lock(%s)", (_JOB_LOCK,)).fetchone()
        if not row or not row[0]:
            conn.close()
            return False
        self._holder = conn
        return True

    def release(self) -> None:
        """Give the lock back (closing its connection ends the session that holds it)."""
        if self._holder is not None:
            self._holder.close()
            self._holder = None

    def held_elsewhere(self) -> bool:
        """Whether some replica (this one included, through its own connection) holds the lock now."""
        with lend(self._db.pool, self._db.timeout) as conn:
            row = conn.execute("select pg_try_advisory_lock(%s)", (_JOB_LOCK,)).fetchone()
            got = bool(row and row[0])
            if got:
                conn.execute("select pg_advisory_unlock(%s)", (_JOB_LOCK,))
        return not got

    def save(self, data: dict[str, Any]) -> None:
        """Write a job's record."""
        with lend(self._db.pool, self._db.timeout) as conn:
            conn.execute("insert into reindex_jobs (job_id, data) values (%s, %s) on conflict (job_id) do update "
                         "set data = excluded.data, updated_at = now()", (data["job_id"], Jsonb(data)))

    def load(self, job_id: str) -> dict[str, Any] | None:
        """A job's record, or None."""
        with lend(self._db.pool, self._db.timeout) as conn:
            row = conn.execute("select data from reindex_jobs where job_id = %s", (job_id,)).fetchone()
        return dict(row[0]) if row else None

    def prune(self, keep: int) -> None:
        """Keep the records of the last `keep` jobs."""
        with lend(self._db.pool, self._db.timeout) as conn:
            conn.execute("delete from reindex_jobs where job_id not in (select job_id from reindex_jobs "
                         "order by updated_at desc limit %s)", (keep,))
