"""The part of an index one caller may read, as if the rest did not exist.

Filtering hits after ranking is not enough: BM25's IDF and average length, and so the reader's term weights,
are corpus statistics, and a forbidden source would still move them (and so a confidence, an abstention).
A Scope carries a lexical index built over the allowed passages only; dense search is already exact within
a set of sources. Scopes are cached per version and allowed set (few distinct sets: one per audience mix).
A Scope is built from any backend's generic data (`Snapshot.passages`), and `Scoped` serves retrieval
through the same Snapshot interface, so scopes work on every backend alike.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from index.lexical import LexicalIndex
from index.manifest import Manifest
from index.snapshot import Candidates, Features, Passages, Snapshot, top_rows


@dataclass(frozen=True)
class Scope:
    """Allowed source ids, their chunk rows (ascending), each row's source, and BM25 over those rows alone."""

    sources: frozenset[str]
    rows: np.ndarray
    source_ids: np.ndarray
    lexical: LexicalIndex

    @classmethod
    def of(cls, snapshot: Snapshot, sources: frozenset[str]) -> Scope:
        """Build the scope of these sources (an empty one has no rows)."""
        passages = snapshot.passages(sources)
        lexical = LexicalIndex.build(passages.contexts or [""])
        return cls(sources, passages.rows, np.array(passages.source_ids, dtype=object), lexical)

    def over(self, snapshot: Snapshot) -> Scoped:
        """The snapshot as this scope sees it."""
        return Scoped(snapshot, self)


@dataclass(frozen=True)
class Scoped:
    """A snapshot seen through a scope: the same interface, with the scope's BM25 and its sources only."""

    inner: Snapshot
    scope: Scope

    @property
    def version(self) -> str:
        """The underlying version."""
        return self.inner.version

    @property
    def manifest(self) -> Manifest:
        """The underlying version's manifest."""
        return self.inner.manifest

    @property
    def texts(self) -> Mapping[str, str]:
        """The underlying version's texts (retrieval matches source names against the scope's sources)."""
        return self.inner.texts

    @property
    def terms(self) -> LexicalIndex:
        """BM25 statistics of the allowed passages alone."""
        return self.scope.lexical

    def candidates(self, query: np.ndarray, text: str | None, n: int,
                   sources: Collection[str] | None = None) -> Candidates:
        """Dense candidates within the allowed (and wanted) sources, lexical ones by the scope's own BM25."""
        wanted = self.scope.sources if sources is None else self.scope.sources & frozenset(sources)
        dense = self.inner.candidates(query, None, n, wanted).rows
        if text is None or not len(self.scope.rows):
            return Candidates(dense, np.zeros(len(dense), dtype=np.float32))
        scores = self.scope.lexical.scores(text)
        pool = (np.arange(len(self.scope.rows), dtype=np.int64) if sources is None
                else np.flatnonzero(np.isin(self.scope.source_ids, list(wanted))))
        top, _ = top_rows(pool, scores[pool], n)  # positions ascend with rows: ties go to the lower row
        rows = np.union1d(dense, self.scope.rows[top]).astype(np.int64)
        return Candidates(rows, scores[np.searchsorted(self.scope.rows, rows)])

    def features(self, query: np.ndarray, rows: np.ndarray) -> Features:
        """The underlying backend's features."""
        return self.inner.features(query, rows)

    def passages(self, sources: Collection[str]) -> Passages:
        """The underlying backend's passages, within the scope."""
        return self.inner.passages(self.scope.sources & frozenset(sources))


class Scopes:
    """A small LRU of scopes for the live version; a version swap empties it."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._scopes: OrderedDict[tuple[str, frozenset[str]], Scope] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, snapshot: Snapshot, sources: frozenset[str]) -> Scope:
        """The scope of these sources in this snapshot, built on first use."""
        key = (snapshot.version, sources)
        with self._lock:
            scope = self._scopes.get(key)
            if scope is not None:
                self._scopes.move_to_end(key)
                return scope
        scope = Scope.of(snapshot, sources)
        with self._lock:
            self._scopes[key] = scope
            while len(self._scopes) > self.size:
                self._scopes.popitem(last=False)
        return scope

    def clear(self) -> None:
        """Forget every scope (a new version went live)."""
        with self._lock:
            self._scopes.clear()
