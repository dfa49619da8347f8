"""The ingest job queue: procrastinate on the index database, its tables in a schema of their own.

procrastinate (over pgqueuer: docs/scaling.md) brings what a home-made queue would get wrong: a job taken by one
worker only (`for update skip locked`), retries, a worker heartbeat, and the jobs of a worker that stopped
beating found again (`stalled_jobs`) and handed back to the queue. Everything it stores lives in the
`procrastinate` schema, reached through each connection's search_path, apart from sourcier's own tables.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException

from index.errors import DatabaseConfigError, DatabaseUnavailableError, IngestError
from index.pg.connect import connect, where

SCHEMA = "procrastinate"
QUEUE = "sourcier-ingest"
TASK = "embed_file"
STALLED_BEATS = 3  # a worker silent for this many heartbeats is taken as dead, its file handed to another
_FINAL_BAD = ("failed", "cancelled", "aborted")
_LOCK = 0x51756575  # one `db migrate` creating the queue's schema at a time


def make_app(url: str) -> procrastinate.App:
    """A procrastinate app on the database (not opened): its connections see only the queue's schema."""
    connector = procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=4,
                                               kwargs={"options": f"-c search_path={SCHEMA}"})
    return procrastinate.App(connector=connector)


def queue_ready(conn: psycopg.Connection[Any]) -> bool:
    """Whether procrastinate's schema is in this database."""
    row = conn.execute("select to_regclass(%s) is not null", (f"{SCHEMA}.procrastinate_jobs",)).fetchone()
    return bool(row and row[0])


def apply_queue_schema(url: str) -> bool:
    """Create procrastinate's schema (in its own schema) unless it is there; True when it was created now."""
    with connect(url) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK,))
        try:
            if queue_ready(conn):
                return False
            conn.execute(f"create schema if not exists {SCHEMA}")
            app = make_app(url)
            with queue_errors(url), app.open():
                app.schema_manager.apply_schema()
            return True
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK,))


def require_queue(url: str) -> None:
    """Refuse to queue or work before `sourcier db migrate` created the queue, in one sentence."""
    with connect(url) as conn:
        if not queue_ready(conn):
            raise DatabaseConfigError(f"the database at {where(url)} has no job queue (ingest and re-index jobs) "
                                      "yet: run `sourcier db migrate`, then start again")


@contextmanager
def queue_errors(url: str) -> Iterator[None]:
    """procrastinate's connection failures as the one-line error the CLI prints."""
    try:
        yield
    except ConnectorException as exc:
        cause = exc.__cause__ or exc
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        raise DatabaseUnavailableError(f"the ingest queue at {where(url)} is unreachable ({reason[:160]})") from exc


async def defer_file(app: procrastinate.App, path: str, root: str) -> int:
    """Queue one file (its path is the queueing lock: a second coordinator joins the job already waiting)."""
    for _ in range(3):
        try:
            return await app.configure_task(TASK, queue=QUEUE, queueing_lock=path, lock=path).defer_async(
                path=path, root=root)
        except AlreadyEnqueued:
            rows = await app.connector.execute_query_all_async(
                "select id from procrastinate_jobs where queueing_lock = %(lock)s and status = 'todo'", lock=path)
            if rows:
                return int(rows[0]["id"])  # (else it started meanwhile: queue it again)
    raise IngestError(f"could not queue {path}: another coordinator keeps queueing it")


async def wait_for(app: procrastinate.App, jobs: dict[int, str], seconds: float, poll: float = 0.25) -> None:
    """Return once every job succeeded; IngestError naming the files of failed jobs, or those still pending when
    `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        rows = await app.connector.execute_query_all_async(
            "select id, status::text as status, attempts from procrastinate_jobs where id = any(%(ids)s)",
            ids=list(jobs))
        status = {int(r["id"]): (str(r["status"]), int(r["attempts"])) for r in rows}
        failed = [f"{jobs[i]} ({s} after {n} attempts)" for i, (s, n) in sorted(status.items()) if s in _FINAL_BAD]
        if failed:
            raise IngestError(f"embedding failed for {len(failed)} of {len(jobs)} files (see the ingest workers' "
                              f"logs); nothing published: {_names(failed)}")
        pending = [path for i, path in jobs.items() if status.get(i, ("", 0))[0] != "succeeded"]
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise IngestError(f"{len(pending)} of {len(jobs)} files still not embedded after {seconds:g} s "
                              "(SOURCIER_INGEST_WAIT_SECONDS); is a `sourcier ingest-worker` running where the files "
                              f"are? Nothing published; still pending: {_names(pending)}")
        await asyncio.sleep(poll)


def _names(items: list[str], shown: int = 10) -> str:
    """The first few of a list, and how many more."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


async def retry_stalled(app: procrastinate.App, heartbeat: float, task: str = TASK) -> list[int]:
    """Hand back to the queue the jobs of workers silent for STALLED_BEATS heartbeats (killed mid-file)."""
    stalled = await app.job_manager.get_stalled_jobs(task_name=task, seconds_since_heartbeat=STALLED_BEATS * heartbeat)
    retried = []
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
        except ConnectorException:  # another worker retried it first: it is no longer `doing`
            continue
        assert job.id is not None
        retried.append(job.id)
    return retried
