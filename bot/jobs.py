"""Background re-index jobs: one at a time, the old snapshot serving until the new one is live."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from bot.engine import Engine
from bot.metrics import Metrics

log = logging.getLogger(__name__)
_KEEP = 50


class JobRunningError(Exception):
    """A re-index is already running; a second one would only wait for the lock."""


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


class ReindexJobs:
    """Starts re-index jobs on a worker thread and remembers the last few."""

    def __init__(self, engine: Engine, metrics: Metrics) -> None:
        self._engine = engine
        self._metrics = metrics
        self._jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> Job:
        """Queue a re-index now, or refuse while one is running."""
        running = [j for j in self._jobs.values() if j.status in ("queued", "running")]
        if running:
            raise JobRunningError(f"re-index job {running[0].job_id} is still {running[0].status}")
        job = Job(job_id=secrets.token_hex(8), created_at=_now())
        self._jobs[job.job_id] = job
        for old in list(self._jobs)[:-_KEEP]:
            del self._jobs[old]
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, job_id: str) -> Job | None:
        """A job by id, if it is among the remembered ones."""
        return self._jobs.get(job_id)

    async def _run(self, job: Job) -> None:
        """Ingest off the event loop; a failure leaves the old version serving and is reported."""
        job.status = "running"
        try:
            report = await asyncio.to_thread(self._engine.ingest)
        except Exception as exc:  # any failure must reach the job status, not vanish in a task
            log.exception("re-index job %s failed", job.job_id)
            job.status, job.error = "failed", str(exc) or type(exc).__name__
        else:
            job.status, job.report = "done", asdict(report)
        job.finished_at = _now()
        self._metrics.reindex_jobs.labels(status=job.status).inc()
