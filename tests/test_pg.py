"""The PostgreSQL backend against a real server: identical rankings, shared rows, versions, atomic publishes."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.engine import Engine
from bot.retrieve import Retrieval, retrieve
from bot.scope import Scope
from index.errors import DatabaseConfigError, DatabaseUnavailableError
from index.pg.connect import check, connect
from index.pg.live import load
from index.pg.publish import prune
from index.pg.snapshot import PgSnapshot
from index.snapshot import Snapshot
from index.store import IndexSnapshot
from ingest.embed import Embedder
from tests.conftest import DEV_SET, EVAL


def _questions(*names: str) -> list[str]:
    rows = [json.loads(line) for name in names for line in (EVAL / name).read_text(encoding="utf-8").splitlines()]
    return [r.get("q") or r["question"] for r in rows]


def _ranked(r: Retrieval) -> tuple[tuple[object, ...], np.ndarray]:
    """Rank 1..5 (chunk and row) and the verdict, then the scores: the backends add floats in different orders
    (FAISS and numpy on disk, pgvector in PostgreSQL), so a score may differ in its last bits."""
    exact = tuple((h.chunk.chunk_id, h.row) for h in r.hits) + (r.found,)
    scores = [v for h in r.hits for v in (h.score, h.lexical, h.sentence_cos)] + [r.confidence]
    return exact, np.array(scores, dtype=np.float64)


def _same_ranking(a: Retrieval, b: Retrieval) -> bool:
    """The same passages in the same order and verdict, every score within 1e-5."""
    (ea, sa), (eb, sb) = _ranked(a), _ranked(b)
    return ea == eb and bool(np.allclose(sa, sb, rtol=0, atol=1e-5))


def _on_pg(engine: Engine, url: str) -> Engine:
    """An engine on the database, sharing the embedder; the disk engine's version published into it first."""
    settings = engine.settings.model_copy(update={"database_url": SecretStr(url)})
    pg = Engine(settings, embedder=engine.embedder)
    assert isinstance(engine.snapshot, IndexSnapshot) and pg.database is not None
    pg.database.publish(engine.snapshot)
    return pg


def _same(disk: Engine, pg: Engine, questions: list[str], snap: Snapshot | None = None) -> list[str]:
    """The questions whose top 5 (chunks, rows, scores, the verdict) differ between the backends."""
    other = snap or pg.snapshot
    return [q for q in questions if not _same_ranking(retrieve(q, disk.snapshot, disk.embedder, 5, disk.params),
                                                      retrieve(q, other, disk.embedder, 5, disk.params))]


def test_pg_ranks_the_seed_dev_set_exactly_as_the_disk(engine: Engine, pg_url: str) -> None:
    pg = _on_pg(engine, pg_url)
    assert isinstance(pg.snapshot, PgSnapshot) and pg.snapshot.version == engine.snapshot.version
    questions = _questions(DEV_SET.name, "seed_reader.jsonl", "seed_unanswerable.jsonl")
    assert len(questions) == 97 and _same(engine, pg, questions) == []
    hnsw = pg.snapshot  # forced past the exact-scan threshold: pgvector's HNSW with an iterative scan
    forced = dataclasses.replace(hnsw, exact_max=0)
    assert _same(engine, pg, questions, forced) == []  # recall 1.0 here: same top 5 on all 97


@pytest.mark.slow
def test_pg_ranks_the_spf_corpus_exactly_as_the_disk(tmp_path: Path, embedder: Embedder, pg_url: str) -> None:
    disk = Engine(Settings(index_dir=tmp_path / "index", sources_dir=EVAL / "spf" / "corpus"), embedder)
    disk.ingest()
    pg = _on_pg(disk, pg_url)
    questions = _questions("spf.jsonl", "spf_unanswerable.jsonl")
    assert len(questions) == 145 and _same(disk, pg, questions) == []


def test_pg_scope_and_source_filter_rank_as_the_disk(engine: Engine, pg_url: str) -> None:
    pg = _on_pg(engine, pg_url)
    source = next(iter(engine.snapshot.manifest.sources))
    for q in _questions(DEV_SET.name)[:10]:
        disk_scope = Scope.of(engine.snapshot, frozenset({source}))
        pg_scope = Scope.of(pg.snapshot, frozenset({source}))
        a = retrieve(q, engine.snapshot, engine.embedder, 5, engine.params, [source], disk_scope)
        b = retrieve(q, pg.snapshot, engine.embedder, 5, engine.params, [source], pg_scope)
        assert _same_ranking(a, b)


def _docs(root: Path) -> Path:
    root.mkdir()
    (root / "chats.md").write_text("# Les chats\n\nLe chat dort sur le canapé. Il aime le soleil.\n", encoding="utf-8")
    (root / "trains.txt").write_text("Le TGV relie Paris à Lyon en deux heures.\n", encoding="utf-8")
    (root / "tout-petit.txt").write_text("Le comté vieillit dix-huit mois en cave.\n", encoding="utf-8")
    return root


def _count(url: str, sql: str) -> int:
    with connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def test_pg_unchanged_sources_are_shared_and_versions_roll_back(tmp_path: Path, embedder: Embedder,
                                                                 pg_url: str) -> None:
    docs = _docs(tmp_path / "docs")
    settings = Settings(index_dir=tmp_path / "index", sources_dir=docs, database_url=SecretStr(pg_url),
                        database_poll_seconds=0, keep_versions=2)
    engine = Engine(settings, embedder)
    first = engine.ingest().version
    assert _count(pg_url, "select count(*) from sources") == 3
    (docs / "trains.txt").write_text("Le TGV relie Paris à Marseille en trois heures.\n", encoding="utf-8")
    second = engine.ingest().version
    assert _count(pg_url, "select count(*) from sources") == 4  # only the edited source was written again
    assert "Marseille" in engine.ask("Combien de temps entre Paris et Marseille en TGV ?").text
    assert engine.database is not None
    engine.database.rollback(first)
    assert engine.snapshot.version == first and "Lyon" in engine.snapshot.texts["trains"]
    engine.database.rollback(second)
    (docs / "chats.md").unlink()
    third = engine.ingest(replace=True).version
    with connect(pg_url) as conn:
        assert prune(conn, keep=2, grace="0 seconds") == [first]
    assert [v["version"] for v in engine.database.versions()] == [second, third]
    assert _count(pg_url, "select count(*) from sources") == 3  # the first version's trains.txt is gone
    assert engine.snapshot.version == third and "chats" not in engine.snapshot.texts


def test_pg_small_source_is_found_through_hnsw_with_a_filter(tmp_path: Path, embedder: Embedder,
                                                             pg_url: str) -> None:
    engine = Engine(Settings(index_dir=tmp_path / "index", sources_dir=_docs(tmp_path / "docs"),
                             database_url=SecretStr(pg_url)), embedder)
    engine.ingest()
    snap = engine.snapshot
    assert isinstance(snap, PgSnapshot)
    hnsw = dataclasses.replace(snap, exact_max=0)
    found = hnsw.candidates(embedder.embed_query("Le TGV relie Paris"), None, 5, {"tout-petit"})
    assert len(found.rows) == 1 and hnsw.features(embedder.embed_query("x"), found.rows).chunks[0].source_id \
        == "tout-petit"


def test_pg_publish_killed_midway_leaves_the_old_version_whole(tmp_path: Path, embedder: Embedder,
                                                               pg_url: str) -> None:
    docs = _docs(tmp_path / "docs")
    engine = Engine(Settings(index_dir=tmp_path / "index", sources_dir=docs, database_url=SecretStr(pg_url),
                             database_poll_seconds=0), embedder)
    old = engine.ingest().version
    counts = [_count(pg_url, f"select count(*) from {t}") for t in ("sources", "chunks", "sentences", "bm25")]
    (docs / "nouveau.txt").write_text("Le beaufort est un fromage de Savoie.\n", encoding="utf-8")
    failures: list[BaseException] = []
    with connect(pg_url) as blocker:  # holds the current version's row: the publish waits at its flip
        blocker.execute("begin")
        blocker.execute("select * from versions where current for update")
        worker = threading.Thread(target=lambda: _catch(failures, engine.ingest), daemon=True)
        worker.start()
        deadline = time.monotonic() + 60
        while not (pid := _waiting_publisher(pg_url)):
            assert time.monotonic() < deadline, "the publish never reached its flip"
            time.sleep(0.05)
        assert _count(pg_url, "select count(*) from sources") == counts[0]  # its rows are invisible until commit
        blocker.execute("select pg_terminate_backend(%s)", (pid,))
        blocker.execute("rollback")
        worker.join(timeout=60)
    assert failures and isinstance(failures[0], DatabaseUnavailableError)
    assert [_count(pg_url, f"select count(*) from {t}") for t in ("sources", "chunks", "sentences", "bm25")] == counts
    assert _count(pg_url, "select count(*) from versions") == 1
    assert engine.snapshot.version == old and "beaufort" not in json.dumps(list(engine.snapshot.texts))


def _catch(failures: list[BaseException], fn: object) -> None:
    try:
        fn()  # type: ignore[operator]
    except BaseException as exc:  # noqa: BLE001 - the test reads it
        failures.append(exc)


def _waiting_publisher(url: str) -> int:
    with connect(url) as conn:
        row = conn.execute("select pid from pg_stat_activity where wait_event_type = 'Lock' and "
                           "query like 'update versions%'").fetchone()
    return int(row[0]) if row else 0


def test_pg_bad_urls_say_what_is_wrong_in_one_sentence(postgres: object, pg_url: str) -> None:
    wrong = pg_url.replace(pg_url.split(":")[2].split("@")[0], "not-the-password")
    with pytest.raises(DatabaseConfigError, match="refused the user name or password in SOURCIER_DATABASE_URL"):
        check(wrong)
    bare = pg_url.rsplit("/", 1)[0] + "/postgres"  # a database without the extension
    with connect(bare) as conn:
        conn.execute("drop extension if exists vector")
    with pytest.raises(DatabaseConfigError, match="has no pgvector extension"):
        check(bare)
    with connect(pg_url) as conn:
        conn.execute("delete from schema_migrations")
    with pytest.raises(DatabaseConfigError, match=r"has no sourcier schema: run `sourcier db migrate`"):
        check(pg_url)
    closed = pg_url.replace(f":{pg_url.split(':')[3].split('/')[0]}/", ":1/")
    with pytest.raises(DatabaseConfigError, match="no PostgreSQL answers at 127.0.0.1:1"):
        check(closed, timeout=2)
    assert "not-the-password" not in str(pytest.raises(DatabaseConfigError, check, wrong).value)


def test_pg_load_refuses_an_unknown_version(engine: Engine, pg_url: str) -> None:
    pg = _on_pg(engine, pg_url)
    assert pg.database is not None
    with pytest.raises(Exception, match="no version 'nope' in the database"):
        load(pg.database.pool, 5, "nope")


def test_pg_migration_7_upgrades_a_published_version_that_keeps_ranking_as_the_disk(engine: Engine,
                                                                                    pg_url: str) -> None:
    from index.pg.migrations import FILL_UNIT_VECTORS, migrate

    _on_pg(engine, pg_url)
    with connect(pg_url) as conn:  # the database as schema 6 left it: chunks carry their sentences' vectors
        conn.execute("alter table chunks add column unit_vectors bytea")
        conn.execute(FILL_UNIT_VECTORS)
        conn.execute("delete from schema_migrations where version = 7")
        assert migrate(conn) == [7]
        left = conn.execute("select count(*) from information_schema.columns where table_name = 'chunks' "
                            "and column_name = 'unit_vectors'").fetchone()
    assert left == (0,)
    upgraded = Engine(engine.settings.model_copy(update={"database_url": SecretStr(pg_url)}), embedder=engine.embedder)
    assert _same(engine, upgraded, _questions(DEV_SET.name)) == []


def test_pg_bm25_loaded_from_the_database_scores_every_passage_as_the_disk(engine: Engine, pg_url: str) -> None:
    pg = _on_pg(engine, pg_url)
    assert isinstance(pg.snapshot, PgSnapshot) and isinstance(engine.snapshot, IndexSnapshot)
    questions = _questions(DEV_SET.name, "seed_reader.jsonl", "seed_unanswerable.jsonl")
    differ = [q for q in questions if not np.array_equal(pg.snapshot.lexical.scores(q),
                                                         engine.snapshot.lexical.scores(q))]
    assert differ == [] and pg.snapshot.lexical.num_docs == engine.snapshot.lexical.num_docs
    words = "Qui est le nouveau PDG d'OpenAI licencié par le conseil ?"
    assert pg.snapshot.terms.weights(words) == engine.snapshot.terms.weights(words) != {}


def test_pg_publish_leaves_the_planner_fresh_statistics(engine: Engine, pg_url: str) -> None:
    _on_pg(engine, pg_url)
    with connect(pg_url) as conn:
        for table in ("sources", "chunks", "sentences", "version_sources", "terms", "bm25"):
            rows = conn.execute(f"select count(*) from {table}").fetchone()
            stats = conn.execute("select reltuples from pg_class where relname = %s", (table,)).fetchone()
            assert rows and stats and rows[0] > 0 and stats[0] == rows[0], table


def _hnsw_scan(url: str, vector: np.ndarray) -> tuple[bool, str]:
    """Whether the sentences' HNSW index is valid, and the plan of a nearest-sentences query."""
    with connect(url) as conn:
        valid = conn.execute("select indisvalid from pg_index where indexrelid = 'sentences_hnsw'::regclass").fetchone()
        conn.execute("set enable_seqscan = off")
        plan = conn.execute("explain select position from sentences order by embedding <=> %s::vector limit 5",
                            (str(vector.tolist()),)).fetchall()
    return bool(valid and valid[0]), " ".join(r[0] for r in plan)


def test_pg_first_publish_builds_the_hnsw_index_after_its_rows_and_later_ones_keep_it(engine: Engine, pg_url: str,
                                                                                      tmp_path: Path) -> None:
    _on_pg(engine, pg_url)  # the first sentences of the database: the index is dropped, then built once
    vector = engine.embedder.embed_query("Qui dirige OpenAI ?")
    valid, plan = _hnsw_scan(pg_url, vector)
    assert valid and "sentences_hnsw" in plan
    with connect(pg_url) as conn:
        before = conn.execute("select count(*) from sentences").fetchone()
    docs = _docs(tmp_path / "docs")
    second = Engine(engine.settings.model_copy(update={"database_url": SecretStr(pg_url), "sources_dir": docs,
                                                       "index_dir": tmp_path / "idx"}), embedder=engine.embedder)
    second.ingest(replace=True)  # new rows beside existing ones: inserted into the live index
    valid, plan = _hnsw_scan(pg_url, vector)
    with connect(pg_url) as conn:
        after = conn.execute("select count(*) from sentences").fetchone()
    assert valid and "sentences_hnsw" in plan and before and after and after[0] > before[0]
