"""One index version read from PostgreSQL, through the same Snapshot interface as the on-disk one.

Per question: one round trip for the dense candidates (sentences by pgvector), one for their features (the
candidates' chunk and sentence cosines, and the text of the chunks this process has not kept). BM25 runs in memory
over the version's stored weights, with the on-disk backend's own code, so both rank alike.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pgvector import Vector
from psycopg_pool import ConnectionPool

from index.lexical import LexicalIndex
from index.manifest import Manifest
from index.pg import queries
from index.pg.connect import lend
from index.pg.rowcache import RowCache
from index.records import Chunk
from index.snapshot import Candidates, Features, Passages, holding, source_rows, with_lexical

# Up to this many sentences in the searched sources, dense search is exact (a scan: a few ms at 20k); past it,
# HNSW with an iterative scan, which goes on past filtered-out rows until it has its n (a small source is never
# dropped). Measured on this machine: docs/performance.md.
EXACT_MAX = 20_000


class _Texts(Mapping[str, str]):
    """Source texts by id, read on demand (a few recent ones kept)."""

    def __init__(self, pool: ConnectionPool, timeout: float, ids: dict[str, int]) -> None:
        self._pool, self._timeout, self._ids = pool, timeout, ids
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, source_id: str) -> str:
        pk = self._ids[source_id]
        with self._lock:
            if source_id in self._cache:
                return self._cache[source_id]
        with lend(self._pool, self._timeout) as conn:
            row = conn.execute("select text from sources where id = %s", (pk,)).fetchone()
        text = str(row[0]) if row else ""
        with self._lock:
            self._cache[source_id] = text
            while len(self._cache) > 32:
                self._cache.popitem(last=False)
        return text

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


@dataclass
class PgSnapshot:
    """One version's numbering (sources' first rows and sentences, chunks' sentence ranges) and vocabulary in
    memory; chunks, vectors and weights stay in PostgreSQL."""

    pool: ConnectionPool
    timeout: float
    version_id: int
    manifest: Manifest
    lexical: LexicalIndex  # the version's BM25, in memory: the same scores as on disk, with no round trip
    texts: Mapping[str, str]
    source_pks: np.ndarray  # by manifest position
    first_rows: np.ndarray
    first_units: np.ndarray
    chunk_units: np.ndarray  # (n_chunks, 2) the [first, last) version sentence rows of each chunk
    exact_max: int = EXACT_MAX  # sentences up to which dense search is an exact scan
    cache: RowCache = field(default_factory=RowCache)  # chunks already read (the process's, from bot.database)
    _pk_order: np.ndarray = field(init=False, repr=False)  # source_pks' ascending order, to find a pk's position

    def __post_init__(self) -> None:
        self._pk_order = np.argsort(self.source_pks, kind="stable")

    @property
    def version(self) -> str:
        """The version's name."""
        return self.manifest.version

    def _pks(self, sources: Collection[str] | None) -> tuple[list[int], int]:
        """Source ids to their row ids, and how many sentences they hold."""
        names = list(self.manifest.sources) if sources is None else sorted(sources)
        entries = [self.manifest.sources[s] for s in names]
        position = {s: i for i, s in enumerate(self.manifest.sources)}
        return ([int(self.source_pks[position[s]]) for s in names],
                sum(e.units[1] - e.units[0] for e in entries))

    @property
    def terms(self) -> LexicalIndex:
        """BM25 over every chunk of the version: its IDF weighs the reader's terms."""
        return self.lexical

    def candidates(self, query: np.ndarray, text: str | None, n: int,
                   sources: Collection[str] | None = None) -> Candidates:
        """Dense candidates from PostgreSQL (one round trip), BM25 ones from the version's weights in memory."""
        pks, units = self._pks(sources) if sources is not None else (None, int(self.manifest.counts["units"]))
        sql, params = queries.dense_units(self.version_id, query, pks, n, exact=units <= self.exact_max)
        with lend(self.pool, self.timeout) as conn:
            found = np.array(conn.execute(sql, params).fetchall(), dtype=np.int64).reshape(-1, 2)
        dense = holding(self.chunk_units, self._unit_rows(found[:, 0], found[:, 1]))
        return with_lexical(dense, self.lexical, text, n,
                            source_rows(self.manifest, sources) if sources is not None else None)

    def _unit_rows(self, pks: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """(source row id, position) to the version's sentence rows, the numbering of `chunk_units`."""
        order = self._pk_order
        at = order[np.searchsorted(self.source_pks, pks, sorter=order)]
        return self.first_units[at] + positions

    def _locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Version rows to (source row id, chunk index in the source)."""
        at = np.searchsorted(self.first_rows, rows, side="right") - 1
        return self.source_pks[at], rows - self.first_rows[at]

    def features(self, query: np.ndarray, rows: np.ndarray) -> Features:
        """The chunks and their whole-chunk and sentence cosines, computed by PostgreSQL in one statement; a chunk's
        text travels only when this process has not kept it."""
        pks, idx = self._locate(rows)
        keys = list(zip(pks.tolist(), idx.tolist(), strict=True))
        kept = self.cache.take(keys)
        params = {"q": Vector(np.asarray(query, dtype=np.float32)), "s": pks.tolist(), "i": idx.tolist(),
                  "need": [c is None for c in kept]}
        with lend(self.pool, self.timeout) as conn:
            found = conn.cursor(binary=True).execute(queries.FEATURES, params).fetchall()  # 0.15 ms less than text
        chunks = [c or self._keep(key, data) for key, c, (_, _, data) in zip(keys, kept, found, strict=True)]
        per_chunk = [np.asarray(r[1] or [], dtype=np.float32) for r in found]
        lengths = np.array([len(c) for c in per_chunk], dtype=np.int64)
        sims = np.concatenate(per_chunk) if per_chunk else np.zeros(0, dtype=np.float32)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        best = np.maximum.reduceat(sims, offsets[:-1]) if len(rows) else np.zeros(0, dtype=np.float32)
        return Features(chunks, np.array([r[0] for r in found], dtype=np.float32), best, sims, offsets)

    def _keep(self, key: tuple[int, int], data: Any) -> Chunk:
        """A chunk read for the first time, decoded and kept for the next questions."""
        chunk = Chunk.from_json(data)
        self.cache.put(key, chunk)
        return chunk

    def passages(self, sources: Collection[str]) -> Passages:
        """These sources' chunk rows and contexts."""
        pks, _ = self._pks(sources)
        with lend(self.pool, self.timeout) as conn:
            found = conn.execute(queries.PASSAGES, (self.version_id, pks)).fetchall()
        chunks = [Chunk.from_json(r[1]) for r in found]
        return Passages(np.array([int(r[0]) for r in found], dtype=np.int64), [c.context for c in chunks],
                        [c.source_id for c in chunks])
