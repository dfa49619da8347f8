"""Re-index jobs on the shared database's queue (procrastinate, as the ingest workers' files): with
SOURCIER_DATABASE_URL every server process works the queue, so any replica takes a job another one accepted, one
re-index runs at a time across all of them, a cancellation reaches the replica running it, and a replica killed
mid-job stops beating, so another one hands the job back to the queue and runs it again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.job_context import AbortReason, JobContext

from index.errors import JobRunningError
from index.pg.queue import STALLED_BEATS, make_app, require_queue, retry_stalled

log = logging.getLogger(__name__)
TASK = "reindex"
QUEUE = "sourcier-reindex"
_LOCK = "sourcier-reindex"  # one job waiting, one running, across every replica
_SHUTDOWN_WAIT = 5.0  # seconds a stopping server gives its running job before it is recorded as interrupted
Run = Callable[[str, bool, str, Callable[[], bool]], Awaitable[None]]  # job id, replace, created at, user abort?


class ReindexQueue:
    """The queue of one server process: accepts jobs for every replica, and works them one at a time."""

    def __init__(self, url: str, heartbeat: float) -> None:
        require_queue(url)  # `sourcier db migrate` made it: else one sentence at start-up
        self.app = make_app(url)
        self.heartbeat = heartbeat

    def register(self, run: Run) -> None:
        """What a job does when this process takes it (ReindexJobs runs it as a local job)."""

        async def task(context: JobContext, job_id: str, replace: bool, created_at: str) -> None:
            await run(job_id, replace, created_at, lambda: context.abort_reason() == AbortReason.USER_REQUEST)

        self.app.task(name=TASK, queue=QUEUE, pass_context=True)(task)

    async def _live(self, job_id: str | None = None) -> dict[str, Any] | None:
        """The queue's row (id, job id, todo or doing) of a job waiting or running, this one or any."""
        rows = await self.app.connector.execute_query_all_async(
            "select id, args->>'job_id' as job_id, status::text as status from procrastinate_jobs "
            "where task_name = %(task)s and status in ('todo', 'doing') "
            "and (%(job_id)s::text is null or args->>'job_id' = %(job_id)s) order by id limit 1",
            task=TASK, job_id=job_id)
        return dict(rows[0]) if rows else None

    async def busy(self) -> tuple[str, str] | None:
        """(job id, queued or running) of a job waiting or running on any replica, if there is one."""
        row = await self._live()
        if row is None:
            return None
        return str(row["job_id"]), "running" if row["status"] == "doing" else "queued"

    async def defer(self, job_id: str, replace: bool, created_at: str) -> int:
        """Queue a job; two replicas accepting one at the same moment: the second is refused."""
        try:
            return await self.app.configure_task(TASK, queue=QUEUE, queueing_lock=_LOCK, lock=_LOCK).defer_async(
                job_id=job_id, replace=replace, created_at=created_at)
        except AlreadyEnqueued:
            raise JobRunningError("another re-index job was queued at the same moment; see its status") from None

    async def cancel(self, job_id: str) -> str:
        """Cancel a waiting job at once, or ask the replica running it to stop it: what it was (todo, doing), or
        "" when the queue no longer holds it waiting or running."""
        row = await self._live(job_id)
        if row is None:
            return ""
        await self.app.job_manager.cancel_job_by_id_async(int(row["id"]), abort=True)
        return str(row["status"])

    async def open(self) -> None:
        """Open the queue's connections (before the first request)."""
        await self.app.open_async()

    async def close(self) -> None:
        """Close them (after the worker stopped)."""
        await self.app.close_async()

    async def work(self) -> None:
        """Take jobs until cancelled (the server stops), handing back those of replicas that died; a worker that
        stops on a database outage (procrastinate stops it when its heartbeat cannot be written) starts again."""
        recover = asyncio.create_task(self._recover())
        try:
            while True:
                try:
                    await self.app.run_worker_async(
                        queues=[QUEUE], concurrency=1, wait=True, install_signal_handlers=False, listen_notify=True,
                        delete_jobs="successful",  # the outcome stays in reindex_jobs: no row per job forever
                        name=f"{socket.gethostname()}:{os.getpid()}", update_heartbeat_interval=self.heartbeat,
                        stalled_worker_timeout=STALLED_BEATS * self.heartbeat,
                        shutdown_graceful_timeout=_SHUTDOWN_WAIT)
                    log.warning("the re-index queue's worker stopped; starting it again")
                except Exception as exc:  # noqa: BLE001 - an outage must not end this replica's share of the work
                    log.warning("the re-index queue's worker stopped (%s); starting it again", exc)
                await asyncio.sleep(self.heartbeat)
        finally:
            recover.cancel()

    async def _recover(self) -> None:
        """Every heartbeat, queue again the job of a replica that stopped beating."""
        while True:
            try:
                for job_id in await retry_stalled(self.app, self.heartbeat, TASK):
                    log.warning("re-index job %d was held by a server that stopped; queued again", job_id)
            except Exception as exc:  # noqa: BLE001 - a database outage must not end the loop: try next beat
                log.warning("cannot look for stalled re-index jobs: %s", exc)
            await asyncio.sleep(self.heartbeat)
