"""One source's rows in a new version: reused from the previous version where unchanged, embedded otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index.manifest import SourceEntry
from index.records import Chunk, unit_keys
from index.rows import VectorFill
from index.segments import SegmentInfo
from index.store import IndexSnapshot
from ingest.embed import Embedder, embed_stream
from ingest.read import SourceDoc

Progress = Callable[[int, int], None]
# Segments a version may read its rows from: each costs 6 stat() per request (the truncation check) and a
# concatenation at load; past it, the smaller segments' unchanged rows are copied into the new one.
MAX_SEGMENTS = 4


@dataclass
class Part:
    """One source's chunks, and where its vectors are in the previous version when it is unchanged."""

    doc: SourceDoc
    chunks: list[Chunk]
    reuse: tuple[tuple[int, int], tuple[int, int]] | None = None  # previous (chunk rows, unit rows)
    ingested_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    n_units: int = 0
    language: str = ""  # known from the previous version when the source is unchanged
    entry: SourceEntry | None = None  # the previous version's entry when the source is unchanged

    def __post_init__(self) -> None:
        self.n_units = len(unit_keys(self.chunks))

    def texts(self) -> Iterator[str]:
        """What gets embedded for this source: its chunks, then its distinct sentences."""
        yield from (c.context for c in self.chunks)
        yield from (self.doc.text[a:b] for _, a, b in unit_keys(self.chunks))


def reusable(prev: IndexSnapshot | None, doc: SourceDoc) -> Part | None:
    """The previous chunks of an unchanged source, and where its vectors are."""
    entry = prev.manifest.sources.get(doc.source_id) if prev else None
    if prev is None or entry is None or entry.sha256 != doc.sha256:
        return None
    (c0, c1), (u0, u1) = entry.rows, entry.units
    return Part(doc, list(prev.chunks[c0:c1]), ((c0, c1), (u0, u1)), entry.ingested_at, language=entry.language,
                 entry=entry)


def kept_segments(index_dir: Path, parts: list[Part]) -> set[str]:
    """The previous segments the new version reads as they are: the largest ones, at most MAX_SEGMENTS - 1 (the
    new one is the last), each still at least half used; other unchanged sources are copied into the new one."""
    live: dict[str, int] = {}
    for part in parts:
        if part.entry is not None:
            live[part.entry.segment] = live.get(part.entry.segment, 0) + len(part.chunks)
    kept: set[str] = set()
    for name, used in sorted(live.items(), key=lambda item: -item[1]):
        info = SegmentInfo.read(index_dir, name)
        if info is not None and 2 * used >= info.chunks and len(kept) < MAX_SEGMENTS - 1:
            kept.add(name)
    return kept


class _Rows:
    """Hands out exactly n rows at a time from a stream of embedded batches."""

    def __init__(self, batches: Iterator[np.ndarray], total: int, progress: Progress | None) -> None:
        self._batches = batches
        self._buffer = np.zeros((0, 0), dtype=np.float32)
        self._done, self._total, self._progress = 0, total, progress

    def take(self, n: int) -> np.ndarray:
        while len(self._buffer) < n:
            batch = next(self._batches)
            self._buffer = np.vstack([self._buffer, batch]) if len(self._buffer) else batch
            self._done += len(batch)
            if self._progress:
                self._progress(self._done, self._total)
        rows, self._buffer = self._buffer[:n], self._buffer[n:]
        return rows


def known_rows(part: Part, prev: IndexSnapshot | None) -> tuple[list[int], list[int]]:
    """For a changed source, the previous version's rows holding the same chunk and sentence texts (-1: new),
    so an edited paragraph re-embeds that paragraph, not the whole file."""
    entry = prev.manifest.sources.get(part.doc.source_id) if prev else None
    if prev is None or entry is None:
        return [-1] * len(part.chunks), [-1] * part.n_units
    (c0, c1), (u0, _) = entry.rows, entry.units
    old_chunks = list(prev.chunks[c0:c1])
    old_text = prev.texts[part.doc.source_id]
    chunk_rows = {c.context: c0 + i for i, c in enumerate(old_chunks)}
    unit_rows = {old_text[a:b]: u0 + i for i, (_, a, b) in enumerate(unit_keys(old_chunks))}
    return ([chunk_rows.get(c.context, -1) for c in part.chunks],
            [unit_rows.get(part.doc.text[a:b], -1) for _, a, b in unit_keys(part.chunks)])


def filler(parts: list[Part], prev: IndexSnapshot | None, embedder: Embedder, progress: Progress | None,
            workers: int, known: dict[int, tuple[list[int], list[int]]]) -> VectorFill:
    """Writes every source's vectors in order: copied from the previous version (whole unchanged sources, and
    the unchanged passages and sentences of changed ones: `known`, by part id), or embedded now."""

    def new_texts() -> Iterator[str]:
        for part in parts:
            if part.reuse is None:
                chunk_rows, unit_rows = known[id(part)]
                texts = list(part.texts())
                yield from (t for t, row in zip(texts, chunk_rows + unit_rows, strict=True) if row < 0)

    def fill(chunk_out: np.ndarray, unit_out: np.ndarray) -> None:
        total = sum(r < 0 for rows in known.values() for r in rows[0] + rows[1])
        stream = embed_stream(embedder, new_texts(), workers, parallel=total >= 5120)
        rows = _Rows(stream, total, progress)
        c = u = 0
        for part in parts:
            nc, nu = len(part.chunks), part.n_units
            if part.reuse is not None and prev is not None:
                (c0, c1), (u0, u1) = part.reuse
                chunk_out[c : c + nc], unit_out[u : u + nu] = prev.chunk_vectors[c0:c1], prev.unit_vectors[u0:u1]
            else:
                chunk_rows, unit_rows = known[id(part)]
                _place(chunk_out, c, chunk_rows, prev.chunk_vectors if prev else None, rows)
                _place(unit_out, u, unit_rows, prev.unit_vectors if prev else None, rows)
            c, u = c + nc, u + nu

    return fill


def _place(out: np.ndarray, at: int, known: list[int], old: np.ndarray | None, rows: _Rows) -> None:
    """Rows at..at+len(known): copied where the previous version has the same text, else the next embedded."""
    fresh = [at + i for i, r in enumerate(known) if r < 0]
    if fresh:
        out[fresh] = rows.take(len(fresh))
    reused = [(i, r) for i, r in enumerate(known) if r >= 0]
    if reused and old is not None:
        out[[at + i for i, _ in reused]] = old[[r for _, r in reused]]
