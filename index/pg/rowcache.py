"""Passages already read from PostgreSQL, kept in this process: a chunk's row never changes once written (a
changed source gets new rows), so a passage that several questions retrieve is fetched and decoded once.

Keyed by (source row id, chunk index), shared by every version this process loads (versions share unchanged
sources' rows), bounded by the bytes its vectors take, least recently used out first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from index.records import Chunk

BUDGET_BYTES = 64 * 2**20  # ~3,500 passages of 8 sentences (512-d float32): the hot part of a team's corpus


@dataclass(frozen=True, slots=True)
class Passage:
    """One chunk as the features step needs it."""

    chunk: Chunk
    vector: np.ndarray  # (dim,) float32
    units: np.ndarray  # (n_sentences, dim) float32, in position order

    @property
    def nbytes(self) -> int:
        """What it costs to keep (its text is small beside its vectors)."""
        return int(self.vector.nbytes + self.units.nbytes) + 2 * len(self.chunk.text)


class RowCache:
    """A bounded, thread-safe LRU of passages by (source row id, chunk index)."""

    def __init__(self, budget: int = BUDGET_BYTES) -> None:
        self.budget = budget
        self._rows: OrderedDict[tuple[int, int], Passage] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def take(self, keys: list[tuple[int, int]]) -> list[Passage | None]:
        """The cached passages of these keys (None where not cached), marked as recently used."""
        with self._lock:
            found = [self._rows.get(k) for k in keys]
            for key, passage in zip(keys, found, strict=True):
                if passage is not None:
                    self._rows.move_to_end(key)
            hit = sum(p is not None for p in found)
            self.hits, self.misses = self.hits + hit, self.misses + len(keys) - hit
        return found

    def put(self, key: tuple[int, int], passage: Passage) -> None:
        """Keep a passage, dropping the least recently used beyond the budget."""
        with self._lock:
            if key in self._rows:
                return
            self._rows[key] = passage
            self._size += passage.nbytes
            while self._size > self.budget and self._rows:
                _, old = self._rows.popitem(last=False)
                self._size -= old.nbytes
