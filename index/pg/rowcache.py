"""Chunks already read from PostgreSQL, kept in this process: a chunk's row never changes once written (a changed
source gets new rows), so a passage that several questions retrieve is fetched and decoded once. Its cosines with
each question are computed by PostgreSQL, so only its text and offsets are kept here.

Keyed by (source row id, chunk index), shared by every version this process loads (versions share unchanged
sources' rows), bounded by the bytes the chunks take, least recently used out first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from index.records import Chunk

BUDGET_BYTES = 64 * 2**20  # ~25,000 passages of 1,200 characters: the hot part of a large corpus


def _nbytes(chunk: Chunk) -> int:
    """About what a decoded chunk holds: its text (as str, up to 4 bytes a character here), context and offsets."""
    return 4 * (len(chunk.text) + len(chunk.context)) + 64 * len(chunk.sentences) + 512


class RowCache:
    """A bounded, thread-safe LRU of chunks by (source row id, chunk index)."""

    def __init__(self, budget: int = BUDGET_BYTES) -> None:
        self.budget = budget
        self._rows: OrderedDict[tuple[int, int], tuple[Chunk, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def take(self, keys: list[tuple[int, int]]) -> list[Chunk | None]:
        """The cached chunks of these keys (None where not cached), marked as recently used."""
        with self._lock:
            found = [self._rows.get(k) for k in keys]
            for key, entry in zip(keys, found, strict=True):
                if entry is not None:
                    self._rows.move_to_end(key)
            hit = sum(e is not None for e in found)
            self.hits, self.misses = self.hits + hit, self.misses + len(keys) - hit
        return [e[0] if e is not None else None for e in found]

    def put(self, key: tuple[int, int], chunk: Chunk) -> None:
        """Keep a chunk, dropping the least recently used beyond the budget."""
        with self._lock:
            if key in self._rows:
                return
            size = _nbytes(chunk)
            self._rows[key] = (chunk, size)
            self._size += size
            while self._size > self.budget and self._rows:
                _, (_, old) = self._rows.popitem(last=False)
                self._size -= old
