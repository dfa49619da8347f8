"""Background re-index jobs: one at a time, the old snapshot serving until the new one is live."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.engine import Engine
from bot.http.metrics import Metrics
from index.errors import JobRunningError
from ingest.pipeline import ingest_running

log = logging.getLogger(__name__)
_KEEP = 50


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
    """Starts re-index jobs on a worker thread; their status is also written under the data dir,
    so any worker process behind the same port can answer for any job."""

    def __init__(self, engine: Engine, metrics: Metrics, directory: Path) -> None:
        self._engine = engine
        self._metrics = metrics
        self._jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._dir = directory

    def _save(self, job: Job) -> None:
        """Persist a job's status (best effort: a read-only data dir only loses cross-worker status)."""
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            tmp = self._dir / f".{job.job_id}.json"
            tmp.write_text(json.dumps(asdict(job), ensure_ascii=False), encoding="utf-8")
            tmp.replace(self._dir / f"{job.job_id}.json")
        except OSError as exc:
            log.warning("cannot record re-index job %s: %s", job.job_id, exc)

    def start(self) -> Job:
        """Queue a re-index now, or refuse while one is running."""
        running = [j for j in self._jobs.values() if j.status in ("queued", "running")]
        if running:
            raise JobRunningError(f"re-index job {running[0].job_id} is still {running[0].status}")
        job = Job(job_id=secrets.token_hex(8), created_at=_now())
        self._jobs[job.job_id] = job
        self._save(job)
        for old in list(self._jobs)[:-_KEEP]:
            del self._jobs[old]
        self._prune_files()
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def _prune_files(self) -> None:
        """Keep the job files of the last _KEEP jobs, as the 404 message promises."""
        try:
            files = sorted(self._dir.glob("*.json"), key=lambda f: f.stat().st_mtime)
            for old in files[:-_KEEP]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot prune re-index job files in %s: %s", self._dir, exc)

    def get(self, job_id: str) -> Job | None:
        """A job by id: from memory, or from the file another worker wrote."""
        if job_id in self._jobs:
            return self._jobs[job_id]
        if not re.fullmatch(r"[0-9a-f]{16}", job_id):
            return None
        try:
            job = Job(**json.loads((self._dir / f"{job_id}.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        if job.status in ("queued", "running") and not ingest_running(self._engine.index_dir):
            job.status, job.error, job.finished_at = "failed", "interrupted: the server stopped during the job", _now()
            self._save(job)  # a server killed mid-job; no process holds the ingest lock any more
        return job

    async def _run(self, job: Job) -> None:
        """Ingest off the event loop; a failure leaves the old version serving and is reported."""
        job.status = "running"
        self._save(job)
        try:
            report = await asyncio.to_thread(self._engine.ingest)
        except Exception as exc:  # any failure must reach the job status, not vanish in a task
            log.exception("re-index job %s failed", job.job_id)
            job.status, job.error = "failed", str(exc) or type(exc).__name__
        else:
            job.status, job.report = "done", asdict(report)
        job.finished_at = _now()
        self._save(job)
        self._metrics.reindex_jobs.labels(status=job.status).inc()
