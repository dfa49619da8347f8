"""The question-answering engine every edge shares: one embedder, the live snapshot, and how to swap it."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import faiss

from bot import asking
from bot.access import AccessPolicy
from bot.answer import Answer, compose
from bot.batcher import BatchStats, MicroBatcher
from bot.cache import AnswerCache
from bot.config import Settings
from bot.crosslingual import WordVectors
from bot.live import LiveIndex
from bot.reader import shipped_model
from bot.retrieve import Retrieval, RetrievalParams, retrieve
from bot.scope import Scope, Scopes
from index.errors import DatabaseConfigError
from index.lexical import FrenchAnalyzer
from index.snapshot import Snapshot
from index.store import load_snapshot
from index.versions import IndexNotFoundError
from ingest.budget import Budget
from ingest.embed import Embedder, load_embedder
from ingest.pipeline import ChunkingParams, IngestReport, Progress, build_index, recorded_root
from ingest.read import ReadParams

if TYPE_CHECKING:
    from bot.database import Database

log = logging.getLogger(__name__)
T = TypeVar("T")


class Engine:
    """Holds one embedder and one snapshot reference; replacing the reference is the whole hot swap."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, reader: bool = True) -> None:
        self.settings = settings
        self.database: Database | None = None
        if settings.database_read_url is not None and settings.database_url is None:
            raise DatabaseConfigError("SOURCIER_DATABASE_READ_URL names a standby of SOURCIER_DATABASE_URL, which is "
                                      "unset: set both (writes and flips go to the primary)")
        if settings.database_url is not None:  # imported only then: the on-disk default needs no PostgreSQL driver
            from bot.database import Database

            self.database = Database(settings)  # a wrong URL, password or schema fails here, in one sentence
        faiss.omp_set_num_threads(settings.threads)
        self.embedder = embedder or load_embedder(settings.embedder, threads=settings.threads,
                                                  shared=settings.model_cache_dir)
        self.embedder.embed_query("échauffement")  # load lazy weights now, not in the first request
        self.params = RetrievalParams(min_confidence=settings.min_confidence,
                                      max_question_chars=settings.max_question_chars,
                                      reader=shipped_model() if reader else None, words=WordVectors(self.embedder))
        self.analyzer = FrenchAnalyzer()
        self._live = LiveIndex(settings.index_dir, self.embedder.name, self.database, self._installed)
        # CPU work from async edges queues here, one thread per core budget, so requests wait in
        # line instead of fighting over the GIL (measured: 134 -> 190 req/s for one worker).
        self._pool = ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="sourcier-cpu")
        self.on_swap: Callable[[Snapshot], None] | None = None
        self.cache = AnswerCache(settings.answer_cache_size)
        self.access = AccessPolicy.load(settings.access_file)
        self.scopes = Scopes()
        self._readable: dict[tuple[str, frozenset[str]], frozenset[str] | None] = {}
        self.batch_stats = BatchStats()
        self._batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MicroBatcher] = weakref.WeakKeyDictionary()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU work off the event loop, on the engine's own small pool."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def batcher(self) -> MicroBatcher:
        """The question batcher of the running event loop (one per loop; they share the engine's counts)."""
        loop = asyncio.get_running_loop()
        batcher = self._batchers.get(loop)
        if batcher is None:
            batcher = MicroBatcher(self.embedder.embed_documents, self.run, self.batch_stats,
                                   self.settings.embed_batch, self.settings.embed_window_ms / 1000)
            self._batchers[loop] = batcher
        return batcher

    @property
    def index_dir(self) -> Path:
        """Where this engine reads versions from."""
        return self.settings.index_dir

    @property
    def live(self) -> Snapshot | None:
        """The loaded snapshot as it is, without looking at CURRENT (None before the first load)."""
        return self._live.current

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot to answer from, always the published one (bot/live.py: the hot-swap check)."""
        return self._live.get()

    def refresh(self) -> Snapshot:
        """Catch up with CURRENT; a broken new version is logged and the old one kept."""
        return self._live.refresh()

    def reload(self, version: str | None = None) -> Snapshot:
        """Load a version (default CURRENT) and make it live; the old one serves until this returns."""
        return self._live.reload(version)

    def _installed(self, snap: Snapshot) -> None:
        """Forget what was cached for the previous version."""
        self.cache.clear()
        self.scopes.clear()
        self._readable.clear()
        if self.on_swap:
            self.on_swap(snap)

    @staticmethod
    def chunking(settings: Settings) -> ChunkingParams:
        """The chunking the settings ask for."""
        return ChunkingParams(settings.chunk_size, settings.chunk_overlap)

    @staticmethod
    def reading(settings: Settings) -> ReadParams:
        """Which files the settings make sources."""
        budget = Budget(settings.read_timeout_seconds, settings.read_memory_mb, settings.ingest_workers)
        return ReadParams(int(settings.max_source_mb * 2**20), tuple(settings.include), tuple(settings.exclude),
                          budget)

    def ingest(self, source_root: Path | None = None, progress: Progress | None = None,
               replace: bool = False) -> IngestReport:
        """Build a new version from the sources (by default the folder the index was built from) and swap to it."""
        root = source_root or self.settings.sources_root(recorded_root(self.index_dir))
        report = build_index(root, self.index_dir, self.embedder, self.chunking(self.settings),
                             self.settings.keep_versions, progress, self.settings.index_type,
                             self.settings.ingest_workers, self.reading(self.settings), replace,
                             self.settings.flat_max_vectors)
        if self.database is not None:  # built here, incrementally; then one transaction publishes it for every replica
            self.database.publish(load_snapshot(self.index_dir, report.version, embedder=self.embedder.name))
            self._live.from_database(self.database)  # as the read side shows it: a lagging standby, the last version
            return report
        self.reload(report.version)
        return report

    def readable(self, audiences: Collection[str] | None, snapshot: Snapshot | None = None) -> frozenset[str] | None:
        """The source ids these audiences may read in the live version (None: all of them)."""
        if audiences is None:
            return None
        snap = snapshot or self.snapshot
        key = (snap.version, frozenset(audiences))
        if key not in self._readable:  # sources × rules prefix checks: done once per version and audience mix
            if len(self._readable) >= 256:
                self._readable.clear()
            self._readable[key] = self.access.readable(audiences, snap.texts)
        return self._readable[key]

    def scope(self, audiences: Collection[str] | None, snapshot: Snapshot) -> Scope | None:
        """What these audiences may read, as a scope retrieval searches within (None: the whole index)."""
        allowed = self.readable(audiences, snapshot)
        return None if allowed is None else self.scopes.get(snapshot, allowed)

    def search(self, question: str, k: int | None = None, sources: Collection[str] | None = None,
               audiences: Collection[str] | None = None) -> Retrieval:
        """Ranked passages for a question, among the sources these audiences may read (None: the operator)."""
        snapshot = self.snapshot
        return self.retrieve_in(question, k, sources, snapshot, self.scope(audiences, snapshot))

    def retrieve_in(self, question: str, k: int | None, sources: Collection[str] | None, snapshot: Snapshot,
                  scope: Scope | None, embedder: Embedder | None = None) -> Retrieval:
        """Retrieval on one snapshot within one scope, with the engine's parameters."""
        return retrieve(question, snapshot, embedder or self.embedder, k or self.settings.k, self.params, sources,
                        scope)

    def compose(self, retrieval: Retrieval) -> Answer:
        """The extractive answer for a retrieval, timed."""
        started = time.perf_counter()
        answer = compose(retrieval)
        if self.settings.source_url_base and self.live is not None:
            sources = self.live.manifest.sources
            answer.citations = [replace(c, source_url=c.original(self.settings.source_url_base, sources[c.source_id].path))
                                if c.source_id in sources else c for c in answer.citations]
        answer.timings_ms["answer"] = round((time.perf_counter() - started) * 1000, 3)
        return answer

    def ask(self, question: str, k: int | None = None, sources: Collection[str] | None = None,
            audiences: Collection[str] | None = None) -> Answer:
        """An extractive answer with citations, or an honest "je ne sais pas", from what these audiences may read;
        a repeated question on the same version, by callers who read the same sources, comes from the cache."""
        return asking.ask(self, question, k, sources, audiences)

    async def ask_async(self, question: str, k: int | None = None, sources: Collection[str] | None = None,
                        audiences: Collection[str] | None = None) -> Answer:
        """`ask` for async edges (HTTP, web page, Slack): its question is embedded in one batch with the others
        asked at the same moment in this worker."""
        return await asking.ask_async(self, question, k, sources, audiences)

    async def search_async(self, question: str, k: int | None = None, sources: Collection[str] | None = None,
                           audiences: Collection[str] | None = None) -> Retrieval:
        """`search` for async edges, its question embedded in a batch."""
        return await asking.search_async(self, question, k, sources, audiences)


__all__ = ["Engine", "IndexNotFoundError"]
