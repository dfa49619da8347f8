"""Ingest across machines on the database's job queue: `sourcier ingest-worker` and `sourcier ingest --distributed`.

    export SOURCIER_DATABASE_URL=…            # the same database everywhere; `sourcier db migrate` once
    sourcier ingest-worker                    # on every host that sees the sources folder at the same path
    sourcier ingest --distributed /srv/docs   # once: a job per file, wait for the workers, build and publish
"""

from __future__ import annotations

from typing import Any

from bot.cli.cli import app, friendly_errors, settings_from
from bot.cli.db import _url
from bot.cli.options import ChunkOverlap, ChunkSize, EmbedderOpt
from bot.config import Settings
from ingest.pipeline import IngestReport, Progress


@app.command("ingest-worker", short_help="Embed files from the ingest queue (for `ingest --distributed`).")
def ingest_worker(embedder: EmbedderOpt = None, chunk_size: ChunkSize = None,
                  chunk_overlap: ChunkOverlap = None) -> None:
    """Take files from the ingest queue in SOURCIER_DATABASE_URL, one at a time, and embed their passages and
    sentences into the shared store; runs until stopped (Ctrl-C, SIGTERM). The files are reached by path: this
    host must see the sources folder at the same path as the coordinator. Use the coordinator's settings for the
    embedder, chunking and globs."""
    from bot.engine import Engine
    from index.pg.connect import open_pool
    from index.pg.embeddings import StoredEmbedder
    from index.pg.queue import make_app, queue_errors, require_queue
    from ingest.embed import load_embedder
    from ingest.worker import WorkerParams, register, run_worker

    settings = settings_from(embedder=embedder, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    with friendly_errors():
        url = _url(settings)
        require_queue(url)
        timeout = settings.database_timeout_seconds
        with open_pool(url, 1, timeout) as pool:
            store = StoredEmbedder(load_embedder(settings.embedder, threads=settings.threads), pool, timeout)
            queue = make_app(url)
            register(queue, store, WorkerParams(Engine.chunking(settings), Engine.reading(settings),
                                                settings.ingest_heartbeat_seconds, settings.ingest_hold_seconds))
            with queue_errors(url):
                run_worker(queue, settings.ingest_heartbeat_seconds)


def distributed_ingest(settings: Settings, progress: Progress | None,
                       replace: bool) -> tuple[IngestReport, dict[str, Any]]:
    """Queue every file, wait for the workers, then the ordinary build and publish through the store (which now
    holds every vector); the report, and where the vectors came from."""
    from bot.engine import Engine
    from index.pg.connect import open_pool
    from index.pg.embeddings import StoredEmbedder
    from ingest.distributed import queue_and_wait
    from ingest.embed import load_embedder
    from ingest.pipeline import recorded_root

    url = _url(settings)
    root = settings.sources_root(recorded_root(settings.index_dir))
    queued = queue_and_wait(url, root, Engine.reading(settings), settings.ingest_wait_seconds)
    with open_pool(url, 1, settings.database_timeout_seconds) as pool:
        store = StoredEmbedder(load_embedder(settings.embedder, threads=settings.threads), pool,
                               settings.database_timeout_seconds)
        # one embedding process: parallel ones would load the model and bypass the store
        engine = Engine(settings.model_copy(update={"ingest_workers": 1}), embedder=store)
        try:
            report = engine.ingest(root, progress=progress, replace=replace)
        finally:
            if engine.database is not None:
                engine.database.close()
    return report, {"files_queued": queued.files, "waited_seconds": queued.seconds, "from_store": store.stored,
                    "embedded_here": store.embedded}
