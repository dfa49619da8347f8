"""A replica that reads a streaming-replication standby (SOURCIER_DATABASE_READ_URL): two real PostgreSQL servers,
the standby made by `pg_basebackup -R`, writes and flips on the primary."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.engine import Engine
from index.errors import DatabaseConfigError
from index.pg.connect import connect
from index.pg.migrations import migrate
from index.pg.server import EmbeddedServer, free_port
from ingest.embed import Embedder
from tests.conftest import pg_dir

DATABASE = "sourcier"


def _replayed(standby: EmbeddedServer, primary: EmbeddedServer, deadline_s: float = 60) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with connect(primary.url()) as conn:
        row = conn.execute("select pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    deadline = time.monotonic() + deadline_s
    with connect(standby.url()) as conn:
        while not conn.execute("select pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline, "the standby never caught up with the primary"
            time.sleep(0.02)


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[EmbeddedServer, EmbeddedServer]]:
    """A primary with a migrated database, and its streaming standby."""
    with pg_dir() as a, pg_dir() as b:
        primary, standby = EmbeddedServer(a), EmbeddedServer(b)
        primary.start(free_port())
        try:
            with connect(primary.url()) as conn:
                conn.execute(f"create database {DATABASE}")
            with connect(primary.url(database=DATABASE)) as conn:
                migrate(conn)
            standby.init_standby(primary)
            standby.start(free_port())
            try:
                _replayed(standby, primary)
                yield primary, standby
            finally:
                standby.stop("immediate")
        finally:
            primary.stop("immediate")


def _docs(root: Path, n: int = 3) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "trains.txt").write_text("Le TGV relie Paris à Lyon en deux heures.\n", encoding="utf-8")
    (root / "chats.md").write_text("# Les chats\n\nLe chat dort sur le canapé. Il aime le soleil.\n", encoding="utf-8")
    for i in range(n - 2):
        (root / f"note-{i}.md").write_text(f"# Note {i}\n\nLa salle {i} ouvre à {8 + i % 4} heures. "
                                           f"Le badge {i} est demandé à l'accueil.\n", encoding="utf-8")
    return root


def _engines(tmp_path: Path, embedder: Embedder, cluster: tuple[EmbeddedServer, EmbeddedServer],
             docs: Path) -> tuple[Engine, Engine]:
    """A writer on the primary, and a replica that reads the standby (both poll at every request)."""
    primary, standby = cluster
    url = SecretStr(primary.url(database=DATABASE))
    writer = Engine(Settings(index_dir=tmp_path / "index", sources_dir=docs, database_url=url,
                             database_poll_seconds=0), embedder)
    replica = Engine(Settings(index_dir=tmp_path / "replica", database_url=url, database_poll_seconds=0,
                              database_read_url=SecretStr(standby.url(database=DATABASE)),
                              database_timeout_seconds=2), embedder)
    return writer, replica


def _replay(standby: EmbeddedServer, paused: bool) -> None:
    with connect(standby.url()) as conn:
        conn.execute("select pg_wal_replay_pause()" if paused else "select pg_wal_replay_resume()")


def test_standby_replica_serves_its_last_good_version_while_the_standby_lags(
        tmp_path: Path, embedder: Embedder, cluster: tuple[EmbeddedServer, EmbeddedServer]) -> None:
    primary, standby = cluster
    docs = _docs(tmp_path / "docs")
    writer, replica = _engines(tmp_path, embedder, cluster, docs)
    first = writer.ingest(replace=True).version
    _replayed(standby, primary)
    assert replica.snapshot.version == first and "Lyon" in replica.ask("Combien de temps entre Paris et Lyon ?").text
    _replay(standby, paused=True)
    try:
        (docs / "trains.txt").write_text("Le TGV relie Paris à Marseille en trois heures.\n", encoding="utf-8")
        second = writer.ingest().version
        assert writer.snapshot.version == second
        answer = replica.ask("Combien de temps entre Paris et Marseille en TGV ?")  # reads come from the standby
        assert replica.snapshot.version == first and answer.index_version == first and "Marseille" not in answer.text
    finally:
        _replay(standby, paused=False)
    deadline = time.monotonic() + 30
    while replica.snapshot.version != second:
        assert time.monotonic() < deadline, "the replica never followed the standby to the new version"
        time.sleep(0.02)
    assert "Marseille" in replica.ask("Combien de temps entre Paris et Marseille en TGV ?").text


def _visible(standby: EmbeddedServer) -> tuple[str, int, int] | None:
    """The current version on the standby: its name, the sources its manifest counts, the sources it lists."""
    with connect(standby.url(database=DATABASE)) as conn:
        row = conn.execute("select v.name, (v.meta->'counts'->>'sources')::int, (select count(*) from version_sources "
                           "s where s.version = v.id) from versions v where current").fetchone()
    return (str(row[0]), int(row[1]), int(row[2])) if row else None


def test_standby_never_shows_a_half_published_version(tmp_path: Path, embedder: Embedder,
                                                       cluster: tuple[EmbeddedServer, EmbeddedServer]) -> None:
    primary, standby = cluster
    docs = _docs(tmp_path / "docs", n=4)
    writer, replica = _engines(tmp_path, embedder, cluster, docs)
    first = writer.ingest(replace=True).version
    _replayed(standby, primary)
    _docs(docs, n=160)  # a bigger version: its rows stream to the standby while we look
    failures: list[BaseException] = []

    def publish() -> None:
        try:
            writer.ingest()
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            failures.append(exc)

    worker = threading.Thread(target=publish, daemon=True)
    worker.start()
    seen: list[tuple[str, int, int]] = []
    deadline = time.monotonic() + 120
    while worker.is_alive():
        assert time.monotonic() < deadline, "the publish never finished"
        _replay(standby, paused=True)  # freeze the standby wherever its replay is, mid-publish or not
        try:
            visible = _visible(standby)
            assert visible is not None
            seen.append(visible)
            answer = replica.ask("À quelle heure ouvre la salle 1 ?")
            assert answer.index_version == visible[0]
        finally:
            _replay(standby, paused=False)
    worker.join()
    assert not failures
    _replayed(standby, primary)
    final = _visible(standby)
    assert final is not None and final[0] != first and final[1] == final[2] == 160
    seen.append(final)
    assert all(counted == listed for _, counted, listed in seen), seen  # never a version without all its sources
    assert {name for name, _, _ in seen} == {first, final[0]}  # looked while the publish ran, and after


def test_standby_read_url_without_a_primary_is_one_sentence(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(DatabaseConfigError, match="SOURCIER_DATABASE_URL, which is unset"):
        Engine(Settings(index_dir=tmp_path / "index", database_read_url=SecretStr("postgresql://x@127.0.0.1/db")),
               embedder)
