"""Where re-index job statuses are kept, so that any worker process or replica can answer for any job: JSON files
under the data dir (one machine), or a table of the shared database (replicas)."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Any, Protocol

from bot.statedb import Sql

log = logging.getLogger(__name__)
KEEP = 50  # the last jobs kept, as the 404 message promises
_ID = re.compile(r"[0-9a-f]{16}")


class JobRecords(Protocol):
    """Saves and finds job statuses (plain dicts: bot.http.jobs.Job as JSON)."""

    def save(self, job_id: str, status: dict[str, Any]) -> None: ...

    def load(self, job_id: str) -> dict[str, Any] | None: ...


class FileJobRecords:
    """One JSON file per job; best effort (a read-only data dir only loses cross-worker status)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def save(self, job_id: str, status: dict[str, Any]) -> None:
        """Write the status atomically, then keep the last KEEP files."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / f".{job_id}.json"
            tmp.write_text(json.dumps(status, ensure_ascii=False), encoding="utf-8")
            tmp.replace(self.directory / f"{job_id}.json")
            for old in sorted(self.directory.glob("*.json"), key=lambda f: f.stat().st_mtime)[:-KEEP]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot record re-index job %s in %s: %s", job_id, self.directory, exc)

    def load(self, job_id: str) -> dict[str, Any] | None:
        """The status another worker wrote, or None."""
        if not _ID.fullmatch(job_id):
            return None
        try:
            data = json.loads((self.directory / f"{job_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


_TABLE = (("CREATE TABLE IF NOT EXISTS reindex_jobs (job_id TEXT PRIMARY KEY, status TEXT NOT NULL, "
          "updated_at REAL NOT NULL)"),)


class SqlJobRecords:
    """A table of the shared database: every replica sees every job."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        sql.create(_TABLE)

    def save(self, job_id: str, status: dict[str, Any]) -> None:
        """Insert or update the status, then keep the last KEEP jobs."""
        self.sql.run("INSERT INTO reindex_jobs VALUES (?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET "
                     "status = excluded.status, updated_at = excluded.updated_at",
                     (job_id, json.dumps(status, ensure_ascii=False), time.time()))
        self.sql.run("DELETE FROM reindex_jobs WHERE job_id NOT IN "
                     "(SELECT job_id FROM reindex_jobs ORDER BY updated_at DESC LIMIT ?)", (KEEP,))

    def load(self, job_id: str) -> dict[str, Any] | None:
        """The status any replica wrote, or None."""
        rows, _ = self.sql.run("SELECT status FROM reindex_jobs WHERE job_id = ?", (job_id,))
        return json.loads(rows[0][0]) if rows else None
