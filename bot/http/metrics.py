"""Prometheus metrics, one registry per app so several apps (tests, workers) never collide."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Requests and latency per route, answers and abstentions, the live index, encoder batches, re-index jobs."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("sourcier_requests_total", "HTTP requests", ["route", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("sourcier_request_seconds", "HTTP request latency", ["route"], buckets=_BUCKETS,
                                 registry=self.registry)
        self.answers = Counter("sourcier_answers_total", "Answers given, by outcome", ["outcome"],
                               registry=self.registry)
        self.index_chunks = Gauge("sourcier_index_chunks", "Chunks in the live index", registry=self.registry)
        self.index_info = Gauge("sourcier_index_info", "The live index version (value 1)", ["version"],
                                registry=self.registry)
        self.answer_cache = Counter("sourcier_answer_cache_total", "Answer cache lookups (repeated questions)",
                                    ["result"], registry=self.registry)
        self.passage_cache = Gauge("sourcier_passage_cache_lookups", "PostgreSQL passages looked up in this "
                                   "process's cache since it started", ["result"], registry=self.registry)
        self.embed_batch = Histogram("sourcier_embed_batch_size", "Questions per encoder pass (micro-batching)",
                                     buckets=(1, 2, 4, 8, 16, 32), registry=self.registry)
        self.reindex_jobs = Counter("sourcier_reindex_jobs_total", "Re-index jobs by final status", ["status"],
                                    registry=self.registry)

    def serving(self, version: str, chunks: int) -> None:
        """Record the index now live."""
        self.index_info.clear()
        self.index_info.labels(version=version).set(1)
        self.index_chunks.set(chunks)

    def follow_passages(self, hits: Callable[[], float], misses: Callable[[], float]) -> None:
        """Read the PostgreSQL passage cache's counts at every scrape."""
        self.passage_cache.labels(result="hit").set_function(hits)
        self.passage_cache.labels(result="miss").set_function(misses)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
