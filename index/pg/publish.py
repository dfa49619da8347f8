"""Publishing an index version into PostgreSQL: one transaction that writes what changed and flips `current`.

A source's rows (chunks, sentences and their vectors) are keyed by its content, embedder and chunking, so an
unchanged source is never inserted again: a version lists its sources (`version_sources`) and costs what
changed, plus its BM25 weights and vocabulary, which are corpus statistics and so belong to the version.
A publish killed midway rolls back whole: the old version is still current and nothing partial remains.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

import numpy as np
import psycopg
from pgvector import SparseVector
from pgvector.psycopg import register_vector

from index.errors import DatabaseConfigError, IndexNotFoundError
from index.manifest import Manifest, SourceEntry
from index.pg.migrations import DIM, SENTENCES_HNSW
from index.store import IndexSnapshot

_PUBLISH_LOCK = 0x50756231  # one publish at a time per database
RETIRED_GRACE = "60 seconds"  # a version that stopped being current is kept this long for requests still on it
_VERSION_FIELDS = ("rows", "units", "segment", "at")  # what a source entry owes to one version's numbering


def source_key(source_id: str, entry: SourceEntry, manifest: Manifest) -> str:
    """The identity of a source's rows: same content, embedder and chunking → same rows."""
    parts = [source_id, entry.sha256, entry.path, entry.title, manifest.embedder, sorted(manifest.chunking.items())]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def _entry_json(entry: SourceEntry) -> str:
    """A source entry without its version-specific numbering."""
    data = {k: v for k, v in asdict(entry).items() if k not in _VERSION_FIELDS}
    return json.dumps(data, ensure_ascii=False)


def _meta(manifest: Manifest) -> str:
    """The manifest less its sources and files (the rows carry those)."""
    data = manifest.to_json()
    for key in ("sources", "files", "checksums"):
        data.pop(key, None)
    return json.dumps(data, ensure_ascii=False)


def _insert_source(conn: psycopg.Connection[Any], snap: IndexSnapshot, source_id: str, entry: SourceEntry,
                   key: str) -> int:
    """Write one source's text, chunks and sentences with their vectors; its new id."""
    (c0, c1), (u0, u1) = entry.rows, entry.units
    row = conn.execute("insert into sources (key, source_id, entry, text, n_chunks, n_units) values "
                       "(%s, %s, %s, %s, %s, %s) returning id",
                       (key, source_id, _entry_json(entry), snap.texts[source_id], c1 - c0, u1 - u0)).fetchone()
    assert row is not None
    pk = int(row[0])
    with conn.cursor().copy("copy chunks (source, idx, data, first_unit, last_unit, embedding) "
                            "from stdin with (format binary)") as copy:
        copy.set_types(["int8", "int4", "jsonb", "int4", "int4", "vector"])
        for idx, r in enumerate(range(c0, c1)):
            a, b = (int(x) for x in snap.chunk_units[r])
            copy.write_row((pk, idx, snap.chunks[r].to_json(), a - u0, b - u0,
                            np.asarray(snap.chunk_vectors[r], dtype=np.float32)))
    with conn.cursor().copy("copy sentences (source, position, embedding) from stdin with (format binary)") as copy:
        copy.set_types(["int8", "int4", "vector"])
        for position, u in enumerate(range(u0, u1)):
            copy.write_row((pk, position, np.asarray(snap.unit_vectors[u], dtype=np.float32)))
    return pk


def _write_lexical(conn: psycopg.Connection[Any], version: int, snap: IndexSnapshot) -> None:
    """The version's vocabulary (term → dimension, document frequency) and each chunk's BM25 weights."""
    vocab = snap.lexical.vocabulary()
    with conn.cursor().copy("copy terms (version, term, dim, df) from stdin with (format binary)") as copy:
        copy.set_types(["int8", "text", "int4", "int4"])
        for term, (dim, df) in vocab.items():
            copy.write_row((version, term, dim, df))
    offsets, ids, weights = snap.lexical.doc_weights()
    size = max(len(vocab), 1)
    with conn.cursor().copy("copy bm25 (version, row, weights) from stdin with (format binary)") as copy:
        copy.set_types(["int8", "int4", "sparsevec"])
        for r in range(len(offsets) - 1):
            a, b = int(offsets[r]), int(offsets[r + 1])
            order = np.argsort(ids[a:b], kind="stable")
            copy.write_row((version, r, _sparse(ids[a:b][order], weights[a:b][order], size)))


def _sparse(ids: np.ndarray, values: np.ndarray, size: int) -> SparseVector:
    """A sparsevec of these (sorted) dimensions."""
    return SparseVector(dict(zip(ids.tolist(), values.tolist(), strict=True)), size)


def _first(conn: psycopg.Connection[Any]) -> bool:
    """For the database's first sentences, drop their HNSW index so that it is built once over all of them at the
    end (True), which pgvector does in bulk on several cores: inserted one row at a time into the live graph, 483k
    sentences took 17.5 min on one core. Nothing reads the table yet, so its lock until commit blocks no one."""
    row = conn.execute("select exists (select 1 from sentences)").fetchone()
    if row is None or row[0]:
        return False
    conn.execute("drop index sentences_hnsw")
    conn.execute("set local maintenance_work_mem = '512MB'")  # the graph of ~200k sentences in memory
    return True


def publish_snapshot(conn: psycopg.Connection[Any], snap: IndexSnapshot, keep: int) -> str:
    """Write the on-disk version `snap` (its changed sources only) and make it current, in one transaction."""
    manifest = snap.manifest
    if manifest.dim != DIM:
        raise DatabaseConfigError(f"the PostgreSQL backend stores {DIM}-d vectors; the embedder "
                                  f"{manifest.embedder!r} makes {manifest.dim}-d ones: use the default embedder")
    register_vector(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_PUBLISH_LOCK,))
        if conn.execute("select 1 from versions where name = %s", (manifest.version,)).fetchone() is None:
            row = conn.execute("insert into versions (name, meta, n_docs) values (%s, %s, %s) returning id",
                               (manifest.version, _meta(manifest), snap.lexical.num_docs)).fetchone()
            assert row is not None
            version = int(row[0])
            bulk = _first(conn)
            members = []
            for position, (source_id, entry) in enumerate(manifest.sources.items()):
                key = source_key(source_id, entry, manifest)
                found = conn.execute("select id from sources where key = %s", (key,)).fetchone()
                pk = int(found[0]) if found else _insert_source(conn, snap, source_id, entry, key)
                members.append((version, position, pk, entry.rows[0], entry.units[0]))
            with conn.cursor().copy("copy version_sources (version, position, source, first_row, first_unit) "
                                    "from stdin") as copy:
                for member in members:
                    copy.write_row(member)
            _write_lexical(conn, version, snap)
            if bulk:
                conn.execute(SENTENCES_HNSW)
            # Fresh statistics commit with the rows: planned on stale ones (an empty table, say), the first minute's
            # questions cost PostgreSQL 41 ms of CPU each instead of 6 at 15k passages. ANALYZE samples a bounded
            # number of rows, so a small edit to a large corpus pays it in about a second.
            conn.execute("analyze sources, chunks, sentences, version_sources, terms, bm25")
        flip(conn, manifest.version)
        prune(conn, keep)
    return manifest.version


def flip(conn: psycopg.Connection[Any], name: str) -> None:
    """Make a stored version the current one (publish and rollback alike), inside the caller's transaction."""
    with conn.transaction():
        if conn.execute("select 1 from versions where name = %s", (name,)).fetchone() is None:
            raise IndexNotFoundError(f"no version {name!r} in the database; see `sourcier versions`")
        conn.execute("update versions set current = false, retired_at = now() where current and name <> %s", (name,))
        conn.execute("update versions set current = true, retired_at = null where name = %s", (name,))
        conn.execute("select pg_notify('sourcier_current', %s)", (name,))


def prune(conn: psycopg.Connection[Any], keep: int, grace: str = RETIRED_GRACE) -> list[str]:
    """Delete the oldest versions beyond `keep` (never the current one, nor one retired under a minute ago, which
    requests may still read), then the source rows no version lists any more."""
    doomed = [r[0] for r in conn.execute(
        "select name from versions where not current and retired_at < now() - %s::interval and id not in "
        "(select id from versions order by published_at desc, id desc limit %s)", (grace, max(keep, 1)))]
    if doomed:
        conn.execute("delete from versions where name = any(%s)", (doomed,))
    conn.execute("delete from sources s where not exists (select 1 from version_sources v where v.source = s.id)")
    return doomed
