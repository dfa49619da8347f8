"""The part of an index one caller may read, as if the rest did not exist.

Filtering hits after ranking is not enough: BM25's IDF and average length, and so the reader's term weights,
are corpus statistics, and a forbidden source would still move them (and so a confidence, an abstention).
A Scope carries a lexical index built over the allowed passages only; dense search is already exact within
a set of sources. Scopes are cached per version and allowed set (few distinct sets: one per audience mix).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from index.lexical import LexicalIndex
from index.store import IndexSnapshot


@dataclass(frozen=True)
class Scope:
    """Allowed source ids, their chunk rows (ascending) and BM25 over those rows alone."""

    sources: frozenset[str]
    rows: np.ndarray
    lexical: LexicalIndex
    size: int  # chunks in the whole snapshot, so scores line up with its rows

    @classmethod
    def of(cls, snapshot: IndexSnapshot, sources: frozenset[str]) -> Scope:
        """Build the scope of these sources (an empty one has no rows)."""
        rows = np.sort(snapshot.chunk_rows(sorted(sources))) if sources else np.zeros(0, dtype=np.int64)
        lexical = LexicalIndex.build([snapshot.chunks[int(r)].context for r in rows] or [""])
        return cls(sources, rows.astype(np.int64), lexical, len(snapshot.chunks))

    def lexical_scores(self, question: str) -> np.ndarray:
        """BM25 of every chunk of the snapshot as this scope sees it: zero outside it."""
        scores = np.zeros(self.size, dtype=np.float32)
        if len(self.rows):
            scores[self.rows] = self.lexical.scores(question)
        return scores


class Scopes:
    """A small LRU of scopes for the live version; a version swap empties it."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._scopes: OrderedDict[tuple[str, frozenset[str]], Scope] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, snapshot: IndexSnapshot, sources: frozenset[str]) -> Scope:
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
