"""The re-index child process: `sourcier ingest` with only the environment ingest needs, a deadline, and its
report read from a file of its own, so nothing a library prints can turn a published version into a failure."""

from __future__ import annotations

import asyncio
import ctypes
import functools
import json
import os
import signal
import sys
from pathlib import Path

from bot.config import Settings
from index.errors import IngestError

# What the child may inherit besides the SOURCIER_* values it is given: how to find Python, its packages and
# model caches, and the locale. Never SLACK_* tokens or the admin token: the child parses untrusted documents.
_PASS = frozenset({"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV",
                   "XDG_CACHE_HOME", "TORCH_HOME", "SENTENCE_TRANSFORMERS_HOME"})
_PASS_PREFIXES = ("HF_", "TRANSFORMERS_", "OMP_", "MKL_", "OPENBLAS_")


def ingest_env(settings: Settings) -> dict[str, str]:
    """The SOURCIER_* values that make `sourcier ingest` in a child process build what these settings describe."""
    values = {"INDEX_DIR": settings.index_dir, "EMBEDDER": settings.embedder,
              "CHUNK_SIZE": settings.chunk_size, "CHUNK_OVERLAP": settings.chunk_overlap,
              "INDEX_TYPE": settings.index_type, "FLAT_MAX_VECTORS": settings.flat_max_vectors,
              "INGEST_WORKERS": settings.ingest_workers,
              "KEEP_VERSIONS": settings.keep_versions, "MAX_SOURCE_MB": settings.max_source_mb,
              "READ_TIMEOUT_SECONDS": settings.read_timeout_seconds, "READ_MEMORY_MB": settings.read_memory_mb,
              "INCLUDE": ",".join(settings.include), "EXCLUDE": ",".join(settings.exclude), "THREADS": settings.threads,
              "LOG_LEVEL": settings.log_level}
    if settings.sources_dir is not None:  # unset: the child re-reads the folder the index was built from
        values["SOURCES_DIR"] = settings.sources_dir
    if settings.database_url is not None:  # the child publishes into the database the server reads
        values["DATABASE_URL"] = settings.database_url.get_secret_value()
    return {f"SOURCIER_{name}": str(value) for name, value in values.items()}


def child_env(settings: Settings, parent: dict[str, str]) -> dict[str, str]:
    """The child's whole environment: the allowed part of the parent's, then the ingest settings."""
    kept = {k: v for k, v in parent.items() if k in _PASS or k.startswith(_PASS_PREFIXES)}
    return kept | ingest_env(settings) | {"COLUMNS": "100000"}  # one error line, never wrapped by the console


def _child_setup(niceness: int) -> None:
    """In the child, before exec: a lower CPU priority than the requests it shares the cores with, and
    SIGTERM from Linux when the server that started it dies."""
    os.nice(niceness)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the child finishes its ingest and exits on its own


def _why(returncode: int, stderr: bytes) -> str:
    """The child's own error line, or how it died."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    start = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith("error:")), None)
    if start is not None:
        return " ".join(lines[start:]).removeprefix("error: ")
    if returncode < 0:
        return f"the ingest process was killed by {signal.Signals(-returncode).name}"
    return f"the ingest process exited with status {returncode}" + (f": {lines[-1]}" if lines else "")


def _read_report(path: Path) -> dict[str, object]:
    """The report the child wrote, or a clear error when it wrote none."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IngestError(f"the ingest process exited without writing its report ({exc})") from exc
    if not isinstance(report, dict) or "version" not in report:
        raise IngestError("the ingest process wrote a report without a version")
    return report


async def ingest_in_child(settings: Settings, replace: bool, report_path: Path) -> dict[str, object]:
    """Run `sourcier ingest` as a child and return its report; killed on timeout or when the caller is cancelled."""
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.unlink(missing_ok=True)
    args = ["-m", "bot.cli", "ingest", "--report-file", str(report_path), *(["--replace"] if replace else [])]
    spawn = asyncio.ensure_future(asyncio.create_subprocess_exec(
        sys.executable, *args, env=child_env(settings, dict(os.environ)), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        preexec_fn=functools.partial(_child_setup, settings.reindex_nice)))
    try:
        child = await asyncio.shield(spawn)
    except asyncio.CancelledError:  # cancelled while forking: the child may exist, and must not outlive the job
        started = await spawn
        started.kill()
        await started.wait()
        raise
    try:
        _, err = await asyncio.wait_for(child.communicate(), settings.reindex_timeout_seconds)
    except TimeoutError:
        raise IngestError(f"timed out after {settings.reindex_timeout_seconds:g} s "
                          "(SOURCIER_REINDEX_TIMEOUT_SECONDS): the ingest process was stopped and the old "
                          "version keeps serving") from None
    finally:
        if child.returncode is None:  # timed out, or the job was cancelled: SIGKILL is safe for an ingest
            child.kill()
            await child.wait()
    try:
        if child.returncode != 0:
            raise IngestError(_why(child.returncode or 0, err))
        return _read_report(report_path)
    finally:
        report_path.unlink(missing_ok=True)
