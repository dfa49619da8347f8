"""The embedding store every ingest host shares: a text's vector by (embedder, sha256 of the text), in PostgreSQL.

Vectors are deterministic per embedder and text, so a row is valid on its own: a worker killed halfway through a
file leaves some of its texts stored and nothing wrong (sources are only written by a publish, in one
transaction). The coordinator's build then finds every vector here and embeds nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool

from index.errors import DatabaseConfigError
from index.pg.connect import lend
from index.pg.migrations import DIM


class Model(Protocol):
    """What the store wraps: ingest's Embedder, by shape (index imports nothing from ingest)."""

    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def text_key(text: str) -> bytes:
    """The store's key of one text: the sha256 of exactly the text embedded."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class StoredEmbedder:
    """Wraps any embedder: looks each batch up in the store in one query, embeds only the misses and stores them."""

    def __init__(self, inner: Model, pool: ConnectionPool, timeout: float = 5.0) -> None:
        if inner.dim != DIM:
            raise DatabaseConfigError(f"the embedding store holds {DIM}-d vectors; the embedder {inner.name!r} "
                                      f"makes {inner.dim}-d ones: use the default embedder")
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self._pool, self._timeout = pool, timeout  # a pool: a connection the server dropped is replaced
        self.stored = 0  # texts whose vector came from the store
        self.embedded = 0  # distinct texts embedded here (and then stored)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """The wrapped embedder's vectors for `texts`, from the store where another host already made them."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        with lend(self._pool, self._timeout) as conn:
            found = self._lookup(conn, sorted(set(keys)))
        missing = dict.fromkeys(k for k in keys if k not in found)
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            vectors = self.inner.embed_documents([by_key[k] for k in missing])
            with lend(self._pool, self._timeout) as conn:
                self._insert(conn, list(missing), vectors)
            found.update(zip(missing, vectors, strict=True))
        self.embedded += len(missing)
        self.stored += sum(k not in missing for k in keys)
        return np.vstack([found[k] for k in keys]).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        """Questions are not stored: straight to the wrapped embedder."""
        return self.inner.embed_query(text)

    def _lookup(self, conn: psycopg.Connection[Any], keys: list[bytes]) -> dict[bytes, np.ndarray]:
        """The stored vectors of these keys, in one query."""
        rows = conn.execute("select sha, vector from embeddings where embedder = %s and sha = any(%s)",
                                  (self.name, keys)).fetchall()
        return {bytes(sha): np.asarray(vector.to_numpy(), dtype=np.float32) for sha, vector in rows}

    def _insert(self, conn: psycopg.Connection[Any], keys: list[bytes], vectors: np.ndarray) -> None:
        """Store new vectors; one another host stored meanwhile is the same vector, so it is kept."""
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany("insert into embeddings (embedder, sha, vector) values (%s, %s, %s) "
                            "on conflict do nothing",
                            [(self.name, k, np.asarray(v, dtype=np.float32)) for k, v in zip(keys, vectors, strict=True)])
