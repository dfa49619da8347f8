"""`sourcier ingest-worker`: files from the ingest queue, read and chunked as build_index does, their texts
embedded into the shared store (so the coordinator's build embeds nothing).

A worker killed mid-file leaves its job `doing` under a worker that stops beating: another worker hands it back
to the queue (index/pg/queue.py retry_stalled) and embeds the file again; what the first one stored stays valid.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import procrastinate

from index.pg.embeddings import StoredEmbedder
from index.pg.queue import QUEUE, STALLED_BEATS, TASK, retry_stalled
from ingest.chunk import chunk_document
from ingest.embed import embed_stream
from ingest.parts import Part
from ingest.pipeline import ChunkingParams
from ingest.read import ReadParams, read_sources

log = logging.getLogger(__name__)
BATCH = 256  # texts per store look-up and embedder call, as build_index's stream
ATTEMPTS = 3  # a job failing (an exception, not a kill) is tried this many times, then reported by the coordinator


@dataclass(frozen=True)
class WorkerParams:
    """How a worker reads files (as the coordinator's build_index will) and how often it says it is alive."""

    chunking: ChunkingParams
    reading: ReadParams
    heartbeat: float
    hold: float = 0.0  # tests only: seconds a job is held before it is embedded, to kill a worker mid-file


def file_texts(path: Path, root: Path, params: WorkerParams) -> list[str]:
    """What build_index embeds for this file when it is new: its passages' contexts, then its sentences."""
    docs, errors = read_sources([path], root, params.reading)
    for error in errors:  # the coordinator's build reports it too, in its list of skipped files
        log.warning("not embedded: %s", error)
    chunking = params.chunking
    return [t for doc in docs
            for t in Part(doc, chunk_document(doc, chunking.size, chunking.overlap, chunking.max_chars)).texts()]


def embed_file(path: str, root: str, store: StoredEmbedder, params: WorkerParams) -> int:
    """One job: the file's texts into the store (the ones already there are not embedded again)."""
    log.info("embedding %s", path)
    if params.hold:
        time.sleep(params.hold)
    before = store.embedded
    texts = file_texts(Path(path), Path(root), params)
    for _ in embed_stream(store, texts, batch=BATCH):  # one store look-up per batch
        pass
    log.info("embedded %s: %d texts, %d new to the store", path, len(texts), store.embedded - before)
    return len(texts)


def register(app: procrastinate.App, store: StoredEmbedder, params: WorkerParams) -> None:
    """The embed_file task on this app, bound to this worker's store and settings (no module-level state)."""

    def task(path: str, root: str) -> int:
        return embed_file(path, root, store, params)

    app.task(name=TASK, queue=QUEUE, retry=procrastinate.RetryStrategy(max_attempts=ATTEMPTS - 1, wait=1))(task)


async def _recover(app: procrastinate.App, heartbeat: float) -> None:
    """Every heartbeat, hand back the jobs of dead workers (this one's start included)."""
    while True:
        for job_id in await retry_stalled(app, heartbeat):
            log.warning("job %d was held by a worker that stopped; queued again", job_id)
        await asyncio.sleep(heartbeat)


def run_worker(app: procrastinate.App, heartbeat: float, ready: str = "ingest worker ready") -> None:
    """Work the ingest queue, one file at a time, until SIGINT or SIGTERM."""

    async def main() -> None:
        async with app.open_async():
            recover = asyncio.create_task(_recover(app, heartbeat))
            log.info("%s (queue %s, heartbeat %g s)", ready, QUEUE, heartbeat)
            try:
                await app.run_worker_async(queues=[QUEUE], concurrency=1, update_heartbeat_interval=heartbeat,
                                           stalled_worker_timeout=STALLED_BEATS * heartbeat, wait=True)
            finally:
                recover.cancel()

    asyncio.run(main())
