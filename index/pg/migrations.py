"""The schema, as numbered migrations that `sourcier db migrate` applies in order, each in one transaction.

A server refuses to serve a database whose schema is older (or newer) than the one it was written for, in one
sentence naming the command that fixes it, rather than failing on the first query.
"""

from __future__ import annotations

from typing import Any

import psycopg

from index.errors import DatabaseConfigError

DIM = 512  # the sentence vectors' dimension (the default embedder); vector columns are typed for HNSW
_LOCK = 0x50757263  # one `db migrate` at a time, whatever the number of replicas starting
# The sentences' HNSW index, as migration 1 made it; a first publish builds it again after its rows are in.
SENTENCES_HNSW = ("create index sentences_hnsw on sentences using hnsw (embedding vector_cosine_ops) "
                  "with (m = 16, ef_construction = 64)")

# Migration 4 filled the chunks written before it from their sentences' rows (vector_send less its 4-byte header);
# migration 7 drops the column again.
FILL_UNIT_VECTORS = """update chunks c set unit_vectors = coalesce((
    select string_agg(substring(vector_send(s.embedding) from 5), ''::bytea order by s.position)
    from sentences s where s.source = c.source and s.position >= c.first_unit and s.position < c.last_unit), ''::bytea)"""

# Migration 5 lists the term ids of the BM25 rows written before it, from sparsevec's text (1-based indices).
FILL_TERMS = r"""update bm25 set terms = coalesce((
    select array_agg(m[1]::int - 1) from regexp_matches(weights::text, '(\d+):', 'g') m), '{}')"""

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, f"""
create extension if not exists vector;
create table sources (
    id bigserial primary key,
    key text not null unique,        -- source id, content hash, path, title, embedder, chunking: a row per content
    source_id text not null,
    entry jsonb not null,            -- its manifest entry, less the version-specific row numbers
    text text not null,
    n_chunks int not null,
    n_units int not null
);
create table chunks (
    source bigint not null references sources (id) on delete cascade,
    idx int not null,
    data jsonb not null,
    first_unit int not null,         -- [first_unit, last_unit): its sentences' positions in the source
    last_unit int not null,
    embedding vector({DIM}) not null,
    primary key (source, idx)
);
create table sentences (
    source bigint not null references sources (id) on delete cascade,
    position int not null,
    embedding vector({DIM}) not null,
    primary key (source, position)
);
{SENTENCES_HNSW};
create table versions (
    id bigserial primary key,
    name text not null unique,
    meta jsonb not null,             -- the manifest less its sources: embedder, chunking, counts, sources_root
    n_docs int not null,
    current boolean not null default false,
    published_at timestamptz not null default now(),
    retired_at timestamptz
);
create unique index versions_one_current on versions (current) where current;
create table version_sources (
    version bigint not null references versions (id) on delete cascade,
    position int not null,
    source bigint not null references sources (id),
    first_row int not null,
    first_unit int not null,
    primary key (version, position)
);
create index version_sources_source on version_sources (source);
create table terms (
    version bigint not null references versions (id) on delete cascade,
    term text not null,
    dim int not null,
    df int not null,
    primary key (version, term)
);
create table bm25 (
    version bigint not null references versions (id) on delete cascade,
    row int not null,
    weights sparsevec not null,      -- sourcier's own BM25 weight of each term of the chunk (dims: terms.dim)
    primary key (version, row)
);
"""),
    # A 512-d vector is 2 KB: by default PostgreSQL compresses it out of line (TOAST) and every scan decompressed
    # it (spf p50 69 -> 42 ms once inline). Rows written before this migration keep their storage.
    (2, """
alter table chunks alter column embedding set storage plain;
alter table sentences alter column embedding set storage plain;
"""),
    # The vectors every ingest host shares (`ingest --distributed`): a text's vector by embedder and sha256 of the
    # text. Vectors are deterministic per (embedder, text), so each row is valid on its own, whoever wrote it.
    (3, f"""
create table embeddings (
    embedder text not null,
    sha bytea not null,
    vector vector({DIM}) not null,
    primary key (embedder, sha)
);
alter table embeddings alter column vector set storage plain;
"""),
    # A question reads every sentence vector of ~80 candidate passages: ~650 rows of 2 KB each took 4.6 ms to fetch
    # and decode. Each chunk now carries its sentences' vectors as one value (big-endian float32, vector_send's
    # byte order, rows in position order), read with the chunk: 80 rows. Uncompressed: it is read, never searched.
    (4, f"""
alter table chunks add column unit_vectors bytea;
alter table chunks alter column unit_vectors set storage external;
{FILL_UNIT_VECTORS};
alter table chunks alter column unit_vectors set not null;
"""),
    # BM25 scanned every passage of the version's `sparsevec`s (9 ms a question at 15k passages, growing with the
    # corpus); each row now lists its term ids (0-based, as sourcier numbers them; sparsevec's text is 1-based)
    # under a GIN index, and a question reads only the passages that hold one of its terms.
    (5, f"""
alter table bm25 add column terms int[];
{FILL_TERMS};
alter table bm25 alter column terms set not null;
create index bm25_terms on bm25 using gin (terms);
"""),
    # Even through the index, a question's BM25 in PostgreSQL computed a sparse inner product for every passage
    # sharing a term with it (10–20 ms at 15k passages when its words are common); each replica now ranks BM25 in
    # memory from the stored weights (index.pg.live), and the term lists have no reader left.
    (6, """
drop index bm25_terms;
alter table bm25 drop column terms;
"""),
    # PostgreSQL now computes a question's cosines with the candidates' sentences itself (index.pg.queries.FEATURES)
    # and sends back numbers: the chunks' copies of their sentences' vectors have no reader left, and took 9.4 KB a
    # passage (40 % of the database at 483k sentences) and a write each at publish.
    (7, """
alter table chunks drop column unit_vectors;
"""),
)
LATEST = MIGRATIONS[-1][0]


def applied(conn: psycopg.Connection[Any]) -> int:
    """The schema version of this database (0: none yet)."""
    exists = conn.execute("select to_regclass('schema_migrations') is not null").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("select coalesce(max(version), 0) from schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply the migrations this database lacks, in order; the numbers applied."""
    done: list[int] = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK,))
        conn.execute("create table if not exists schema_migrations (version int primary key, "
                     "applied_at timestamptz not null default now())")
        have = applied(conn)
        for number, sql in MIGRATIONS:
            if number > have:
                try:
                    conn.execute(sql.encode())
                except psycopg.errors.InsufficientPrivilege as exc:
                    raise DatabaseConfigError(f"migration {number} needs more rights than this user has ({exc}); "
                                              "run `sourcier db migrate` as the database owner") from exc
                except psycopg.errors.FeatureNotSupported as exc:
                    raise DatabaseConfigError(f"the server has no pgvector extension ({exc}); install pgvector "
                                              "on it, then run `sourcier db migrate`") from exc
                conn.execute("insert into schema_migrations (version) values (%s)", (number,))
                done.append(number)
    return done


def require_schema(conn: psycopg.Connection[Any]) -> None:
    """Refuse a database whose schema is not the one this sourcier reads, in one sentence."""
    have = applied(conn)
    if have == LATEST:
        return
    if have > LATEST:
        raise DatabaseConfigError(f"the database schema is at version {have}, newer than this sourcier's {LATEST}: "
                                  "upgrade sourcier")
    found = "has no sourcier schema" if have == 0 else f"has schema version {have}, this sourcier needs {LATEST}"
    raise DatabaseConfigError(f"the database {found}: run `sourcier db migrate`, then start again")
