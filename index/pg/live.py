"""Which version is current in PostgreSQL, and loading one: what a replica needs to follow publishes.

Replicas poll `versions.current` at most every `poll` seconds (one indexed lookup), so every replica serves a
flip within that bound; a version is loaded in a few queries (its numbering and BM25 weights), once.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool

from index.errors import IndexNotFoundError
from index.lexical import LexicalIndex
from index.manifest import Manifest
from index.pg import queries
from index.pg.connect import lend
from index.pg.rowcache import RowCache
from index.pg.snapshot import PgSnapshot, _Texts

_MEMBERS = """
select vs.source, vs.first_row, vs.first_unit, s.source_id, s.entry, s.n_chunks, s.n_units
from version_sources vs join sources s on s.id = vs.source where vs.version = %s order by vs.position"""
_UNITS = """
select vs.first_unit + c.first_unit, vs.first_unit + c.last_unit from version_sources vs
join chunks c on c.source = vs.source where vs.version = %s order by vs.first_row + c.idx"""


def no_index() -> IndexNotFoundError:
    """The one message for a database with no published version."""
    return IndexNotFoundError("no index in the database yet: build one with `sourcier ingest seeds/` "
                              "(with SOURCIER_DATABASE_URL set)")


def _lexical(conn: psycopg.Connection[Any], version_id: int, n_docs: int) -> LexicalIndex:
    """The version's BM25 in memory, from its vocabulary and each passage's stored weights (sparsevec_send: dimension,
    count, unused, then the count's 0-based indices and float32 values, big-endian), decoded by numpy."""
    vocabulary = {str(t): int(d) for t, d in conn.execute(queries.VOCABULARY, (version_id,))}
    rows, terms, weights = [np.zeros(0, np.int64)], [np.zeros(0, ">i4")], [np.zeros(0, ">f4")]
    for row, blob in conn.cursor(binary=True).execute(queries.WEIGHTS, (version_id,)):
        count = int(np.frombuffer(blob, dtype=">i4", count=1, offset=4)[0])
        terms.append(np.frombuffer(blob, dtype=">i4", count=count, offset=12))
        weights.append(np.frombuffer(blob, dtype=">f4", count=count, offset=12 + 4 * count))
        rows.append(np.full(count, int(row), dtype=np.int64))
    return LexicalIndex.from_doc_weights(vocabulary, np.concatenate(rows), np.concatenate(terms).astype(np.int64),
                                         np.concatenate(weights).astype(np.float32), n_docs)


def load(pool: ConnectionPool, timeout: float, name: str | None = None, cache: RowCache | None = None) -> PgSnapshot:
    """Load a version (default: the current one): its manifest, numbering and BM25."""
    with lend(pool, timeout) as conn, conn.transaction():
        conn.execute("set transaction isolation level repeatable read, read only")
        row = conn.execute("select id, name, meta, n_docs from versions where name = %s or (%s::text is null "
                           "and current)", (name, name)).fetchone()
        if row is None:
            raise no_index() if name is None else IndexNotFoundError(
                f"no version {name!r} in the database; see `sourcier versions`")
        version_id, version, meta, n_docs = int(row[0]), str(row[1]), dict(row[2]), int(row[3])
        members = conn.execute(_MEMBERS, (version_id,)).fetchall()
        units = conn.execute(_UNITS, (version_id,)).fetchall()
        lexical = _lexical(conn, version_id, n_docs)
    sources = {}
    for _, first_row, first_unit, source_id, entry, n_chunks, n_units in members:
        sources[source_id] = {**entry, "rows": [first_row, first_row + n_chunks],
                              "units": [first_unit, first_unit + n_units]}
    manifest = Manifest.from_json({**meta, "version": version, "sources": sources})
    pks = np.array([int(m[0]) for m in members], dtype=np.int64)
    return PgSnapshot(pool, timeout, version_id, manifest, lexical,
                      _Texts(pool, timeout, {str(m[3]): int(m[0]) for m in members}), pks,
                      np.array([int(m[1]) for m in members], dtype=np.int64),
                      np.array([int(m[2]) for m in members], dtype=np.int64),
                      np.array(units, dtype=np.int64).reshape(-1, 2), cache=cache or RowCache())


@dataclass
class Current:
    """The current version's name, asked of the database at most every `poll` seconds."""

    pool: ConnectionPool
    timeout: float
    poll: float
    _name: str | None = None
    _checked: float = -1e9
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def name(self) -> str | None:
        """The current version (None: nothing published), at most `poll` seconds old."""
        now = time.monotonic()
        if now - self._checked < self.poll:
            return self._name
        with self._lock:
            if now - self._checked >= self.poll:
                with lend(self.pool, self.timeout) as conn:
                    row = conn.execute("select name from versions where current").fetchone()
                self._name, self._checked = (str(row[0]) if row else None), time.monotonic()
            return self._name

    def forget(self) -> None:
        """Ask again on the next call (after this process published or rolled back)."""
        self._checked = -1e9


def versions(pool: ConnectionPool, timeout: float) -> list[dict[str, object]]:
    """Stored versions, oldest first: name, current, published_at, sources, chunks, sources_root."""
    with lend(pool, timeout) as conn:
        found = conn.execute("select name, current, published_at, meta from versions order by published_at, id")
        return [{"version": n, "live": bool(c), "created_at": p.isoformat(timespec="seconds"),
                 "sources": json.loads(json.dumps(m)).get("counts", {}).get("sources", 0),
                 "chunks": m.get("counts", {}).get("chunks", 0), "sources_root": m.get("sources_root", "")}
                for n, c, p, m in found]
