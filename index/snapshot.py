"""The interface every index backend serves retrieval through: candidates, then their features (two calls).

The on-disk IndexSnapshot (index/store.py) and the PostgreSQL one (index/pg/) implement it; retrieval, the
reader, the API and Slack never know which backend answers. Rows are the version's chunk rows, numbered alike
by every backend (sources in manifest order, then their chunks), so rankings and ties are identical.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, overload

import numpy as np

from index.lexical import FrenchAnalyzer, LexicalIndex
from index.manifest import Manifest
from index.records import Chunk


class TermStats(Protocol):
    """Corpus statistics of index terms, what the reader weighs a question's words by."""

    @property
    def analyzer(self) -> FrenchAnalyzer:
        """The analyser that turns text into index terms."""
        ...

    def weights(self, query: str) -> dict[str, float]:
        """The query's distinct terms and their IDF."""
        ...


@dataclass(frozen=True)
class Candidates:
    """Rows worth ranking (ascending: dense and lexical candidates together) and the BM25 score of each."""

    rows: np.ndarray
    lexical: np.ndarray


@dataclass(frozen=True)
class Features:
    """What fusion and the reader need of candidate rows: their chunks and dense scores.

    `sentence_cos[offsets[i]:offsets[i + 1]]` are the cosines of every sentence of chunk i, in order.
    """

    chunks: Sequence[Chunk]
    chunk_cos: np.ndarray
    best_sentence_cos: np.ndarray
    sentence_cos: np.ndarray
    offsets: np.ndarray


@dataclass(frozen=True)
class Passages:
    """Some sources' chunk rows (ascending), the text BM25 reads of each and its source: what a Scope is built
    from."""

    rows: np.ndarray
    contexts: list[str]
    source_ids: list[str]


class Snapshot(Protocol):
    """One read-only index version, whatever holds it."""

    @property
    def version(self) -> str:
        """The version's name."""
        ...

    @property
    def manifest(self) -> Manifest:
        """What the version holds: its sources, counts, embedder."""
        ...

    @property
    def texts(self) -> Mapping[str, str]:
        """Each source's extracted text by source id."""
        ...

    @property
    def terms(self) -> TermStats:
        """BM25 term statistics of the whole version."""
        ...

    def candidates(self, query: np.ndarray, text: str | None, n: int,
                   sources: Collection[str] | None = None) -> Candidates:
        """Chunks of the n sentences closest to `query`, and the n best BM25 chunks for `text` (None: dense only),
        among `sources` when given; with the BM25 score of every row returned."""
        ...

    def features(self, query: np.ndarray, rows: np.ndarray) -> Features:
        """The chunks at these rows and their cosines to the query (whole chunk, every sentence)."""
        ...

    def passages(self, sources: Collection[str]) -> Passages:
        """These sources' chunk rows and contexts."""
        ...


def concat_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenated arange(start, end) for each pair, without a Python loop."""
    lengths = np.asarray(ends - starts, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return np.repeat(np.asarray(starts, dtype=np.int64) - offsets[:-1], lengths) + np.arange(offsets[-1])


def holding(chunk_units: np.ndarray, units: np.ndarray) -> np.ndarray:
    """The rows of every chunk that holds one of these sentence rows, ascending (chunks may share a sentence)."""
    first = np.searchsorted(chunk_units[:, 1], units, side="right")
    last = np.searchsorted(chunk_units[:, 0], units, side="right")
    return np.unique(concat_ranges(first, last))


def source_rows(manifest: Manifest, sources: Collection[str]) -> np.ndarray:
    """The chunk rows of these sources, numbered as every backend numbers them."""
    entries = [manifest.sources[s] for s in sources]
    return concat_ranges(np.array([e.rows[0] for e in entries], dtype=np.int64),
                         np.array([e.rows[1] for e in entries], dtype=np.int64))


def top_rows(rows: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n best positive scores and their rows, ties broken by the lower row (every backend alike)."""
    keep = scores > 0
    rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))[:n]
    return rows[order], scores[order]


def with_lexical(dense: np.ndarray, lexical: LexicalIndex, text: str | None, n: int,
                 pool: np.ndarray | None) -> Candidates:
    """The dense rows and the n best BM25 rows (among `pool`, default all), with the BM25 score of each: every
    backend scores with the same in-memory index, so rankings and ties are identical."""
    if text is None:
        return Candidates(dense, np.zeros(len(dense), dtype=np.float32))
    scores = lexical.scores(text)
    pool = np.arange(len(scores), dtype=np.int64) if pool is None else pool
    best, _ = top_rows(pool, scores[pool], n)
    rows = np.union1d(dense, best).astype(np.int64)
    return Candidates(rows, scores[rows])


class Picked(Sequence[Chunk]):
    """Chunks at some rows of a chunk table, read only when asked for (fusion reads a few of them)."""

    def __init__(self, table: Sequence[Chunk], rows: np.ndarray) -> None:
        self._table, self._rows = table, rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...

    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self._table[int(r)] for r in self._rows[i]]
        return self._table[int(self._rows[i])]
