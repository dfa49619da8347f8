"""The embedding store every ingest host shares: a text's vector by (embedder, sha256 of the text), in PostgreSQL.

Vectors are deterministic per embedder and text, so a row is valid on its own: a worker killed halfway through a
file leaves some of its texts stored and nothing wrong (sources are only written by a publish, in one
transaction). The coordinator's build then finds every vector here and embeds nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from index.errors import DatabaseConfigError, DatabaseUnavailableError
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


@contextmanager
def _database_errors() -> Iterator[None]:
    """A lost connection while looking up or storing vectors is a DatabaseUnavailableError in one line."""
    try:
        yield
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailableError(f"PostgreSQL stopped answering while storing vectors ({reason[:160]})") from exc


class StoredEmbedder:
    """Wraps any embedder: looks each batch up in the store in one query, embeds only the misses and stores them."""

    def __init__(self, inner: Model, conn: psycopg.Connection[Any]) -> None:
        if inner.dim != DIM:
            raise DatabaseConfigError(f"the embedding store holds {DIM}-d vectors; the embedder {inner.name!r} "
                                      f"makes {inner.dim}-d ones: use the default embedder")
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self._conn = conn
        register_vector(conn)
        self.stored = 0  # texts whose vector came from the store
        self.embedded = 0  # distinct texts embedded here (and then stored)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """The wrapped embedder's vectors for `texts`, from the store where another host already made them."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        with _database_errors():
            found = self._lookup(sorted(set(keys)))
            missing = dict.fromkeys(k for k in keys if k not in found)
            if missing:
                by_key = dict(zip(keys, texts, strict=True))
                vectors = self.inner.embed_documents([by_key[k] for k in missing])
                self._insert(list(missing), vectors)
                found.update(zip(missing, vectors, strict=True))
        self.embedded += len(missing)
        self.stored += sum(k not in missing for k in keys)
        return np.vstack([found[k] for k in keys]).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        """Questions are not stored: straight to the wrapped embedder."""
        return self.inner.embed_query(text)

    def _lookup(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        """The stored vectors of these keys, in one query."""
        rows = self._conn.execute("select sha, vector from embeddings where embedder = %s and sha = any(%s)",
                                  (self.name, keys)).fetchall()
        return {bytes(sha): np.asarray(vector.to_numpy(), dtype=np.float32) for sha, vector in rows}

    def _insert(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Store new vectors; one another host stored meanwhile is the same vector, so it is kept."""
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.executemany("insert into embeddings (embedder, sha, vector) values (%s, %s, %s) "
                            "on conflict do nothing",
                            [(self.name, k, np.asarray(v, dtype=np.float32)) for k, v in zip(keys, vectors, strict=True)])
