"""Background re-index jobs: one at a time, the old snapshot serving until the new one is live.

On one machine a job runs in the server process that accepted it. With a shared database it goes through the
queue (bot/http/reindex_queue.py): any server process of any replica may run it, and its status is the
database's."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.engine import Engine
from bot.http.child import ingest_in_child
from bot.http.job_records import KEEP, FileJobRecords, JobRecords
from bot.http.metrics import Metrics
from bot.http.reindex_queue import ReindexQueue
from index.errors import IngestError, JobRunningError, JobStateError, SourcierError
from index.versions import current_version, list_versions, process_alive
from ingest.guards import ingest_running

log = logging.getLogger(__name__)
_CANCELLED = "cancelled: the ingest process was stopped; the old version keeps serving"
_INTERRUPTED = "interrupted: the server stopped during the job"
_FINAL = ("done", "failed", "cancelled")
_CANCEL_WAIT = 30.0  # seconds a cancellation waits for the replica running the job to stop it


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Job:
    """A re-index request and what became of it."""

    job_id: str
    status: str = "queued"
    created_at: str = ""
    finished_at: str | None = None
    report: dict[str, object] | None = None
    error: str | None = None
    worker: int = 0  # pid of the server process running it, so other workers never call it interrupted too soon
    host: str = ""  # the machine of that process: another replica cannot see its processes, so never calls it dead


class ReindexJobs:
    """Starts re-index jobs on a worker thread; their status is also written under the data dir,
    so any worker process behind the same port can answer for any job."""

    def __init__(self, engine: Engine, metrics: Metrics, directory: Path, records: JobRecords | None = None,
                 queue: ReindexQueue | None = None) -> None:
        self._engine = engine
        self._records = records or FileJobRecords(directory)
        self._metrics = metrics
        self._jobs: dict[str, Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cancelling: set[str] = set()
        self._aborted: dict[str, Callable[[], bool]] = {}  # queued jobs running here: whether a user cancelled
        self._dir = directory
        self._queue = queue
        if queue is not None:
            queue.register(self._run_queued)

    def _save(self, job: Job) -> None:
        """Persist a job's status where every worker (and, with a shared database, every replica) finds it."""
        self._records.save(job.job_id, asdict(job))

    async def start(self, replace: bool = False) -> Job:
        """Queue a re-index now, or refuse while one is running; `replace` lets it replace the index."""
        if self._queue is not None:
            return await self._defer(self._queue, replace)
        return self.start_here(replace)

    async def _defer(self, queue: ReindexQueue, replace: bool) -> Job:
        """A job on the shared queue, unless one is waiting or running on any replica."""
        busy = await queue.busy()
        if busy is not None:
            raise JobRunningError(f"re-index job {busy[0]} is still {busy[1]}")
        job = Job(job_id=secrets.token_hex(8), created_at=_now())
        self._save(job)  # before it is queued: the replica that takes it writes over this, never the other way
        try:
            await queue.defer(job.job_id, replace, job.created_at)
        except JobRunningError as exc:
            self._finish(job, "failed", error=str(exc))
            raise
        return job

    async def _run_queued(self, job_id: str, replace: bool, created_at: str, aborted: Callable[[], bool]) -> None:
        """A queued job this process took: run as a local one; a user's cancellation reaches it through the queue."""
        job = Job(job_id=job_id, created_at=created_at, worker=os.getpid(), host=socket.gethostname())
        self._jobs[job_id] = job
        for old in list(self._jobs)[:-KEEP]:
            del self._jobs[old]
        self._aborted[job_id] = aborted
        try:
            await self._run(job, replace)
        finally:
            self._aborted.pop(job_id, None)

    def start_here(self, replace: bool = False) -> Job:
        """A job in this process, or a refusal while one is running; `replace` lets it replace the index."""
        running = [j for j in self._jobs.values() if j.status in ("queued", "running")]
        if running:
            raise JobRunningError(f"re-index job {running[0].job_id} is still {running[0].status}")
        if ingest_running(self._engine.index_dir):  # a CLI ingest, or another worker's job: it would fail anyway
            raise IngestError("another ingest is running on this index (`sourcier ingest`, or a re-index job of "
                              "another server process); retry when it has finished")
        job = Job(job_id=secrets.token_hex(8), created_at=_now(), worker=os.getpid(), host=socket.gethostname())
        self._jobs[job.job_id] = job
        self._save(job)
        for old in list(self._jobs)[:-KEEP]:
            del self._jobs[old]
        task = asyncio.get_running_loop().create_task(self._run(job, replace))
        self._tasks[job.job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job.job_id, None))
        return job

    async def cancel(self, job_id: str) -> Job | None:
        """Stop a queued or running job of this process: its child is killed and the old version keeps serving."""
        job = self.get(job_id)
        if job is None:
            return None
        if self._queue is not None:
            return await self._cancel_queued(self._queue, job)
        task = self._tasks.get(job_id)
        if task is None:
            where = "it runs in another server process; send the request again" if job.status in (
                "queued", "running") else f"it is already {job.status}"
            raise JobStateError(f"re-index job {job_id} cannot be cancelled: {where}")
        self._cancelling.add(job_id)
        task.cancel()
        await asyncio.wait([task])  # the child is killed and waited for: seconds at most
        if job.status in ("queued", "running"):  # cancelled before it started: nothing ran, nothing to settle
            self._cancelling.discard(job_id)
            self._finish(job, "cancelled", error=_CANCELLED)
        return job

    async def _cancel_queued(self, queue: ReindexQueue, job: Job) -> Job:
        """A waiting job is cancelled at once; a running one, by the replica running it (waited for)."""
        if job.status in _FINAL:
            raise JobStateError(f"re-index job {job.job_id} cannot be cancelled: it is already {job.status}")
        was = await queue.cancel(job.job_id)
        if was == "todo":
            self._finish(job, "cancelled", error=_CANCELLED)
            return job
        if not was:  # it ended between the two looks
            return self.get(job.job_id) or job
        deadline = time.monotonic() + _CANCEL_WAIT
        while (now := self.get(job.job_id)) is not None and now.status not in _FINAL and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return now or job

    def get(self, job_id: str) -> Job | None:
        """A job by id: from memory, or as another worker or replica recorded it."""
        if job_id in self._jobs:
            return self._jobs[job_id]
        try:
            job = Job(**(self._records.load(job_id) or {}))
        except TypeError:  # no such job, or a record sourcier did not write
            return None
        if job.status in ("queued", "running") and job.host in ("", socket.gethostname()) and not self._queue \
                and not process_alive(job.worker) and not ingest_running(self._engine.index_dir):
            job.status, job.error, job.finished_at = "failed", _INTERRUPTED, _now()
            self._save(job)  # a server killed mid-job: it is gone, and no process holds the ingest lock any more
        return job

    async def _run(self, job: Job, replace: bool) -> None:
        """Ingest in a child process, so reading, chunking and embedding never hold this server's GIL; the
        new version is loaded once the child published it. A failure leaves the old version serving."""
        job.status = "running"
        self._save(job)
        before = set(list_versions(self._engine.index_dir))
        try:
            report = await ingest_in_child(self._engine.settings, replace, self._dir / "reports" / f"{job.job_id}.json")
        except asyncio.CancelledError:
            aborted = self._aborted.get(job.job_id)
            if job.job_id not in self._cancelling and not (aborted and aborted()):  # the server is stopping
                self._finish(job, "failed", error=_INTERRUPTED)
                raise
            self._cancelling.discard(job.job_id)
            self._settle(job, before, "cancelled", _CANCELLED)
        except SourcierError as exc:  # a problem a person can fix: one line
            log.warning("re-index job %s failed: %s", job.job_id, exc)
            self._settle(job, before, "failed", str(exc))
        except Exception as exc:  # any failure must reach the job status, not vanish in a task
            log.exception("re-index job %s failed", job.job_id)
            self._settle(job, before, "failed", str(exc) or type(exc).__name__)
        else:
            await self._publish(job, report)

    async def _publish(self, job: Job, report: dict[str, object]) -> None:
        """Serve the version the child published; the job is done once it does."""
        try:
            await asyncio.to_thread(self._engine.reload, str(report["version"]))
        except Exception as exc:  # the version is on disk but this server cannot serve it: say so, never hang
            log.exception("re-index job %s: cannot serve %s", job.job_id, report["version"])
            self._finish(job, "failed", error=f"the new version {report['version']} cannot be served: {exc}")
        else:
            self._finish(job, "done", report=report)

    def _settle(self, job: Job, before: set[str], status: str, error: str) -> None:
        """A job that did not end well, unless its child had published a new version first: then it is done."""
        live = _current_or_none(self._engine.index_dir)
        if live is not None and live not in before:  # only the child could add a version: it held the lock
            self._finish(job, "done", report={"version": live, "note": f"published, then: {error}"})
        else:
            self._finish(job, status, error=error)

    def _finish(self, job: Job, status: str, report: dict[str, object] | None = None,
                error: str | None = None) -> None:
        """Record how a job ended."""
        job.status, job.report, job.error, job.finished_at = status, report, error, _now()
        self._save(job)
        self._metrics.reindex_jobs.labels(status=status).inc()


def _current_or_none(index_dir: Path) -> str | None:
    """The published version, or None when CURRENT is missing or unreadable."""
    try:
        return current_version(index_dir)
    except SourcierError:
        return None
