"""How the engine answers: the work before the embedding, the embedding (batched for async edges), and the rest.

The synchronous path (CLI, evaluation) embeds the question itself; the async path (HTTP, web page, Slack)
hands the whole question to the event loop's MicroBatcher, whose pass on the engine's CPU thread prepares it,
embeds it in one encoder pass with the others asked at the same moment, and runs the very same retrieval and
answer.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bot.answer import Answer
from bot.cache import Key, cache_key
from bot.retrieve import Retrieval, clean_question
from bot.scope import Scope
from index.errors import QuestionError
from index.snapshot import Snapshot
from ingest.embed import Embedder

if TYPE_CHECKING:
    from bot.engine import Engine

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Prepared:
    """What a question needs before its embedding: the snapshot and scope it is answered on, and its cache entry."""

    question: str  # cleaned: what is embedded
    snapshot: Snapshot
    scope: Scope | None
    searchable: bool  # False: no word to search for, nothing to embed
    key: Key | None = None
    cached: Answer | None = None


def prepare(engine: Engine, question: str, k: int | None, sources: Collection[str] | None,
            audiences: Collection[str] | None, cached: bool = False) -> Prepared:
    """The hot-swap check, the caller's scope, the cleaned question (a bad one raises here) and, for `ask`, the
    cache entry: everything before the embedding."""
    snapshot = engine.snapshot  # the hot-swap check comes first, so the key names the live version
    scope = engine.scope(audiences, snapshot)
    cleaned = clean_question(question, engine.params.max_question_chars)
    if not cleaned.isascii() and _SURROGATE.search(cleaned):  # JSON "\\ud800" decodes to one; no encoder reads it
        raise QuestionError("the question holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text")
    prepared = Prepared(cleaned, snapshot, scope, bool(snapshot.terms.analyzer.terms(cleaned)))
    if cached:
        prepared.key = cache_key(cleaned, k or engine.settings.k, sources, snapshot.version,
                                 scope.sources if scope is not None else None)
        prepared.cached = engine.cache.get(prepared.key)
    return prepared


def retrieval(engine: Engine, prepared: Prepared, k: int | None, sources: Collection[str] | None,
              embedder: Embedder, embed_ms: float | None = None) -> Retrieval:
    """Retrieval for a prepared question; `embed_ms` is what its batched embedding took, when it was batched."""
    result = engine.retrieve_in(prepared.question, k, sources, prepared.snapshot, prepared.scope, embedder)
    if embed_ms is not None and "embed" in result.timings_ms:
        result.timings_ms["embed"] = embed_ms  # not the ~0 of reading the vector back
    return result


def finish(engine: Engine, prepared: Prepared, k: int | None, sources: Collection[str] | None,
           embedder: Embedder, embed_ms: float | None = None) -> Answer:
    """Retrieval and the answer for a prepared question, kept in the cache."""
    answer = engine.compose(retrieval(engine, prepared, k, sources, embedder, embed_ms))
    if prepared.key is not None:
        engine.cache.put(prepared.key, answer)
    return answer


def from_cache(answer: Answer, started: float) -> Answer:
    """A cached answer, timed as such."""
    answer.timings_ms = {"cache": round((time.perf_counter() - started) * 1000, 3)}
    return answer


def ask(engine: Engine, question: str, k: int | None, sources: Collection[str] | None,
        audiences: Collection[str] | None) -> Answer:
    """The synchronous answer: the engine's own embedder, no batching."""
    started = time.perf_counter()
    prepared = prepare(engine, question, k, sources, audiences, cached=True)
    if prepared.cached is not None:
        return from_cache(prepared.cached, started)
    return finish(engine, prepared, k, sources, engine.embedder)


class Encoded:
    """An embedder that already knows one question's vector (from a batch) and asks the model for anything else."""

    def __init__(self, embedder: Embedder, text: str, vector: np.ndarray) -> None:
        self.name = embedder.name
        self.dim = embedder.dim
        self._embedder = embedder
        self._text = text
        self._vector = vector

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Documents are the model's business."""
        return self._embedder.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        """The batched vector for the question it was made for."""
        return self._vector if text == self._text else self._embedder.embed_query(text)


class _Work:
    """One async question as a batcher job (bot/batcher.py): prepared, embedded with the others of its pass, then
    answered or ranked, all on the engine's CPU thread."""

    cached = False  # whether the answer cache is asked

    def __init__(self, engine: Engine, question: str, k: int | None, sources: Collection[str] | None,
                 audiences: Collection[str] | None) -> None:
        self.engine, self.question, self.k, self.sources, self.audiences = engine, question, k, sources, audiences
        self.started = time.perf_counter()
        self.prepared: Prepared | None = None

    def text(self) -> str | None:
        """The cleaned question, or None when it needs no embedding (cached, or no word to search for)."""
        self.prepared = prepare(self.engine, self.question, self.k, self.sources, self.audiences, self.cached)
        return None if self.prepared.cached is not None or not self.prepared.searchable else self.prepared.question

    def embedder(self, vector: np.ndarray | None) -> Embedder:
        """The engine's embedder, holding this question's batched vector."""
        assert self.prepared is not None
        return self.engine.embedder if vector is None else Encoded(self.engine.embedder, self.prepared.question, vector)


class _Ask(_Work):
    """A question to answer."""

    cached = True

    def finish(self, vector: np.ndarray | None, embed_ms: float | None) -> Answer:
        """The answer, from the cache or from the batched vector."""
        assert self.prepared is not None
        if self.prepared.cached is not None:
            return from_cache(self.prepared.cached, self.started)
        return finish(self.engine, self.prepared, self.k, self.sources, self.embedder(vector), embed_ms)


class _Search(_Work):
    """A question to rank passages for."""

    def finish(self, vector: np.ndarray | None, embed_ms: float | None) -> Retrieval:
        """The ranking, from the batched vector."""
        assert self.prepared is not None
        return retrieval(self.engine, self.prepared, self.k, self.sources, self.embedder(vector), embed_ms)


async def ask_async(engine: Engine, question: str, k: int | None, sources: Collection[str] | None,
                    audiences: Collection[str] | None) -> Answer:
    """The same answer as `ask`, its question embedded in a batch: one hop to the CPU thread."""
    return await engine.batcher().run(_Ask(engine, question, k, sources, audiences))


async def search_async(engine: Engine, question: str, k: int | None, sources: Collection[str] | None,
                       audiences: Collection[str] | None) -> Retrieval:
    """The same ranking as `search`, its question embedded in a batch."""
    return await engine.batcher().run(_Search(engine, question, k, sources, audiences))
