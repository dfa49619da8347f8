"""Background re-index jobs: one at a time, the old snapshot serving until the new one is live."""

from __future__ import annotations

import asyncio
import ctypes
import functools
import json
import logging
import os
import re
import secrets
import signal
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.engine import Engine
from bot.http.metrics import Metrics
from index.errors import IngestError, JobRunningError, SourcierError
from ingest.guards import ingest_running

log = logging.getLogger(__name__)
_KEEP = 50


def ingest_env(settings: Settings) -> dict[str, str]:
    """The environment that makes `sourcier ingest` in a child process build what these settings describe."""
    values = {"INDEX_DIR": settings.index_dir, "EMBEDDER": settings.embedder,
              "CHUNK_SIZE": settings.chunk_size, "CHUNK_OVERLAP": settings.chunk_overlap,
              "INDEX_TYPE": settings.index_type, "INGEST_WORKERS": settings.ingest_workers,
              "KEEP_VERSIONS": settings.keep_versions, "MAX_SOURCE_MB": settings.max_source_mb,
              "INCLUDE": ",".join(settings.include), "EXCLUDE": ",".join(settings.exclude), "THREADS": settings.threads}
    if settings.sources_dir is not None:  # unset: the child re-reads the folder the index was built from
        values["SOURCES_DIR"] = settings.sources_dir
    return {f"SOURCIER_{name}": str(value) for name, value in values.items()}


def _child_setup(niceness: int) -> None:
    """In the child, before exec: a lower CPU priority than the requests it shares the cores with, and
    SIGTERM from Linux when the server that started it dies."""
    os.nice(niceness)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the child finishes its ingest and exits on its own


async def _ingest_in_child(settings: Settings, replace: bool) -> dict[str, object]:
    """Run `sourcier ingest --json` as a child process and return its report, or raise with its error line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCIER_")} | ingest_env(settings)
    env["COLUMNS"] = "100000"  # one error line, never wrapped by the console
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "ingest", "--json", *(["--replace"] if replace else []), env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, preexec_fn=functools.partial(_child_setup, settings.reindex_nice))
    out, err = await child.communicate()
    if child.returncode != 0:
        lines = [line.strip() for line in err.decode(errors="replace").splitlines() if line.strip()]
        start = max((i for i, line in enumerate(lines) if line.startswith("error:")), default=max(len(lines) - 1, 0))
        message = " ".join(lines[start:]).removeprefix("error: ")
        raise IngestError(message or f"ingest exited with status {child.returncode}")
    report: dict[str, object] = json.loads(out)
    return report


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

    def start(self, replace: bool = False) -> Job:
        """Queue a re-index now, or refuse while one is running; `replace` lets it replace the index."""
        running = [j for j in self._jobs.values() if j.status in ("queued", "running")]
        if running:
            raise JobRunningError(f"re-index job {running[0].job_id} is still {running[0].status}")
        job = Job(job_id=secrets.token_hex(8), created_at=_now())
        self._jobs[job.job_id] = job
        self._save(job)
        for old in list(self._jobs)[:-_KEEP]:
            del self._jobs[old]
        self._prune_files()
        task = asyncio.get_running_loop().create_task(self._run(job, replace))
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

    async def _run(self, job: Job, replace: bool) -> None:
        """Ingest in a child process, so reading, chunking and embedding never hold this server's GIL; the
        new version is loaded once the child published it. A failure leaves the old version serving."""
        job.status = "running"
        self._save(job)
        try:
            report = await _ingest_in_child(self._engine.settings, replace)
            await asyncio.to_thread(self._engine.reload, str(report["version"]))
        except SourcierError as exc:  # a problem a person can fix: one line
            log.warning("re-index job %s failed: %s", job.job_id, exc)
            job.status, job.error = "failed", str(exc)
        except Exception as exc:  # any failure must reach the job status, not vanish in a task
            log.exception("re-index job %s failed", job.job_id)
            job.status, job.error = "failed", str(exc) or type(exc).__name__
        else:
            job.status, job.report = "done", report
        job.finished_at = _now()
        self._save(job)
        self._metrics.reindex_jobs.labels(status=job.status).inc()
