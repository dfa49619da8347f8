"""One index version read from PostgreSQL, through the same Snapshot interface as the on-disk one.

Per question: one round trip for the dense candidates (sentences by pgvector), one for their features (chunks
with their sentences' vectors, unless this process has them already). BM25 runs in memory over the version's
stored weights, with the on-disk backend's own code, so both rank alike.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from psycopg_pool import ConnectionPool

from index.lexical import LexicalIndex
from index.manifest import Manifest
from index.pg import queries
from index.pg.connect import lend
from index.pg.rowcache import Passage, RowCache
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
    cache: RowCache = field(default_factory=RowCache)  # passages already read (the process's, from bot.database)
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
        """The chunks with their sentences' vectors (one statement for those not cached here); cosines computed as
        the on-disk backend does."""
        q = query.astype(np.float32)
        pks, idx = self._locate(rows)
        keys = list(zip(pks.tolist(), idx.tolist(), strict=True))
        found = self.cache.take(keys)
        missing = [k for k, p in zip(keys, found, strict=True) if p is None]
        if missing:
            fetched = dict(zip(missing, self._fetch(missing, len(q)), strict=True))
            found = [p or fetched[k] for k, p in zip(keys, found, strict=True)]
        passages = [p for p in found if p is not None]
        lengths = np.array([len(p.units) for p in passages], dtype=np.int64)
        chunk_vectors = np.stack([p.vector for p in passages]) if passages else np.zeros((0, len(q)), np.float32)
        units = np.concatenate([p.units for p in passages]) if passages else np.zeros((0, len(q)), np.float32)
        sims = np.asarray(units @ q, dtype=np.float32)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        best = np.maximum.reduceat(sims, offsets[:-1]) if len(rows) else np.zeros(0, dtype=np.float32)
        return Features([p.chunk for p in passages], np.asarray(chunk_vectors @ q, dtype=np.float32), best, sims,
                        offsets)

    def _fetch(self, keys: list[tuple[int, int]], dim: int) -> list[Passage]:
        """Read and decode these chunks, and keep them in the process's cache."""
        with lend(self.pool, self.timeout) as conn:
            found = conn.cursor(binary=True).execute(queries.CHUNKS, ([k[0] for k in keys],
                                                                      [k[1] for k in keys])).fetchall()
        vectors = _matrix([r[1] for r in found], dim)
        out = []
        for key, row, vector in zip(keys, found, vectors, strict=True):
            units = np.frombuffer(row[2], dtype=">f4").astype(np.float32).reshape(-1, dim)
            passage = Passage(Chunk.from_json(row[0]), vector.copy(), units)
            self.cache.put(key, passage)
            out.append(passage)
        return out

    def passages(self, sources: Collection[str]) -> Passages:
        """These sources' chunk rows and contexts."""
        pks, _ = self._pks(sources)
        with lend(self.pool, self.timeout) as conn:
            found = conn.execute(queries.PASSAGES, (self.version_id, pks)).fetchall()
        chunks = [Chunk.from_json(r[1]) for r in found]
        return Passages(np.array([int(r[0]) for r in found], dtype=np.int64), [c.context for c in chunks],
                        [c.source_id for c in chunks])


def _matrix(blobs: list[Any], dim: int) -> np.ndarray:
    """vector_send() values as one C-contiguous float32 matrix (the layout the on-disk backend multiplies):
    each is a 4-byte header (dimension, unused) then big-endian float32s, so the rows decode in one call."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    rows = np.frombuffer(b"".join(blobs), dtype=">f4").reshape(len(blobs), dim + 1)
    return np.ascontiguousarray(rows[:, 1:], dtype=np.float32)
