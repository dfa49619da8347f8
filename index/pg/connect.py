"""Connections to PostgreSQL: one pool per process, and its failures as errors a person can act on.

Start-up checks the URL once, directly, so a wrong password, an unreachable host, a missing pgvector or an older
schema is one clear sentence rather than a pool that retries forever. During requests a busy pool waits at most
`timeout` seconds, then a 503; a connection the server dropped (a restart) is a 503 and is replaced, so the
service recovers when the database is back, without a restart of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool, PoolTimeout

from index.errors import DatabaseConfigError, DatabaseUnavailableError
from index.pg.migrations import require_schema

EF_SEARCH = 100  # HNSW candidates list per query: with iterative scans, recall 1.0 on the dev sets at 50 results


def where(url: str) -> str:
    """host:port/database of a URL, never its password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


def _reason(url: str, exc: psycopg.Error) -> str:
    """One sentence for a failed connection, naming the variable or command that fixes it."""
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    if "password authentication failed" in text or "no password supplied" in text:
        return (f"PostgreSQL at {where(url)} refused the user name or password in SOURCIER_DATABASE_URL; "
                "fix the URL (for `sourcier db start`, copy the URL it printed)")
    if "does not exist" in text and "database" in text:
        return f"PostgreSQL at {where(url)} has no such database; create it or fix SOURCIER_DATABASE_URL"
    return (f"no PostgreSQL answers at {where(url)} ({text.removeprefix('FATAL:').strip()}); start it "
            "(`sourcier db start` for a local trial) or fix SOURCIER_DATABASE_URL")


def connect(url: str, timeout: float = 5.0) -> psycopg.Connection[Any]:
    """One connection for commands (`db migrate`, ingest), or DatabaseConfigError in one sentence."""
    try:
        return psycopg.connect(url, connect_timeout=max(1, int(timeout)), autocommit=True)
    except psycopg.Error as exc:
        raise DatabaseConfigError(_reason(url, exc)) from exc


def check(url: str, timeout: float = 5.0) -> None:
    """What a server verifies before it serves: the URL works, pgvector is there, the schema is current."""
    with connect(url, timeout) as conn:
        if conn.execute("select 1 from pg_extension where extname = 'vector'").fetchone() is None:
            raise DatabaseConfigError(f"the database at {where(url)} has no pgvector extension: install pgvector on "
                                      "the server, then run `sourcier db migrate`")
        require_schema(conn)


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Each pooled connection: vector types, HNSW settings that keep filtered searches complete."""
    register_vector(conn)
    conn.execute(f"set hnsw.ef_search = {EF_SEARCH}")
    conn.execute("set hnsw.iterative_scan = strict_order")  # a filtered search scans on until it has its n
    # A question's statements are small: launching parallel workers cost more than it saved (spf's exact scan 6.0 ms
    # with a gather, 3.8 without), and each request already has its own backend; concurrency comes from requests.
    conn.execute("set max_parallel_workers_per_gather = 0")
    conn.commit()


def open_pool(url: str, size: int, timeout: float) -> ConnectionPool:
    """A pool of `size` connections, checked when lent (a dropped one is replaced), waiting at most `timeout`."""
    check(url, timeout)
    pool = ConnectionPool(url, min_size=1, max_size=size, timeout=timeout, open=False, configure=_configure,
                          check=ConnectionPool.check_connection,
                          kwargs={"connect_timeout": max(1, int(timeout)), "autocommit": True})
    pool.open(wait=False)
    return pool


@contextmanager
def lend(pool: ConnectionPool, timeout: float) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection for one step of a request; a busy pool or a lost server is a 503 with its reason."""
    try:
        with pool.connection(timeout=timeout) as conn:
            yield conn
    except PoolTimeout as exc:
        raise DatabaseUnavailableError(f"no database connection became free within {timeout:g} s (all "
                                       f"{pool.max_size} busy, or PostgreSQL is not answering); retry shortly, or "
                                       "raise SOURCIER_DATABASE_POOL_SIZE") from exc
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailableError(f"PostgreSQL stopped answering ({reason[:160]}); retry shortly") from exc
