"""`sourcier serve` and `sourcier db` on a real PostgreSQL: answers, start-up refusals, a busy pool, a restart."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from pydantic import SecretStr

from bot.engine import Engine
from bot.http.api import create_app
from index.pg.connect import connect
from index.pg.migrations import LATEST
from index.pg.server import EmbeddedServer, free_port
from index.store import IndexSnapshot
from tests.conftest import ADMIN_TOKEN, ROOT, SEEDS, LiveServer, migrated, pg_dir
from tests.processes import sourcier_serve
from tests.test_reindex import AUTH, wait_for_job

QUESTION = "Qui dirige OpenAI par intérim ?"


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    """A serve/CLI environment reading only the database: its index directory does not exist."""
    return {**os.environ, "SOURCIER_DATABASE_URL": url, "SOURCIER_INDEX_DIR": str(tmp_path / "no-index-here"),
            "SOURCIER_DATA_DIR": str(tmp_path / "var"), "HF_HUB_OFFLINE": "1", "COLUMNS": "1000"}  # one error line


def _serve(env: dict[str, str]) -> Iterator[str]:
    """`sourcier serve --port 0` as a real process; yields its URL once uvicorn listens."""
    with sourcier_serve(env) as (url, _):
        yield url


def _published(engine: Engine, url: str, **settings: object) -> Engine:
    """An engine on the database at `url`, after the seed version was published into it."""
    pg = Engine(engine.settings.model_copy(update={"database_url": SecretStr(url), **settings}),
                embedder=engine.embedder)
    assert pg.database is not None and isinstance(engine.snapshot, IndexSnapshot)
    pg.database.publish(engine.snapshot)
    return pg


def test_pg_serve_answers_from_postgres(engine: Engine, pg_url: str, tmp_path: Path) -> None:
    _published(engine, pg_url)
    for base in _serve(_env(tmp_path, pg_url)):
        with httpx.Client(base_url=base, timeout=60) as client:
            ready = client.get("/readyz").json()
            answer = client.post("/v1/ask", json={"question": QUESTION}).json()
            text = client.get("/v1/sources/openai-altman-microsoft").json()["text"]
            again = client.post("/v1/ask", json={"question": "Qui est Mira Murati ?"}).json()
            metrics = client.get("/metrics").text
        assert again["found"] and "Murati" in again["answer"]
        hits = re.search(r'sourcier_passage_cache_lookups\{result="hit"\} (\S+)', metrics)
        misses = re.search(r'sourcier_passage_cache_lookups\{result="miss"\} (\S+)', metrics)
        assert hits and misses and float(hits[1]) > 0 and float(misses[1]) > 0  # the second question reused passages
        assert ready["index_version"] == engine.snapshot.version and ready["chunks"] == len(engine.snapshot.chunks)
        assert answer["found"] and "Mira Murati" in answer["answer"]
        assert answer["index_version"] == engine.snapshot.version
        assert text == engine.snapshot.texts["openai-altman-microsoft"]
    assert not (tmp_path / "no-index-here").exists()  # nothing was read from, or written to, a local index


def _refusal(tmp_path: Path, url: str) -> str:
    result = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", "0"], check=False, cwd=ROOT,
                            env=_env(tmp_path, url), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_pg_serve_refuses_an_older_schema_or_a_wrong_password(pg_url: str, tmp_path: Path) -> None:
    with connect(pg_url) as conn:
        conn.execute("delete from schema_migrations")
    assert _refusal(tmp_path, pg_url) == ("error: the database has no sourcier schema: run `sourcier db migrate`, "
                                          "then start again")
    wrong = re.sub(r"(://[^:]+:)[^@]+@", r"\1wrong@", pg_url)
    line = _refusal(tmp_path, wrong)
    assert "refused the user name or password in SOURCIER_DATABASE_URL" in line and "wrong" not in line


def test_pg_serve_refuses_a_database_without_the_job_queue(pg_url: str, tmp_path: Path) -> None:
    with connect(pg_url) as conn:
        conn.execute("drop schema procrastinate cascade")
    assert "has no job queue (ingest and re-index jobs) yet: run `sourcier db migrate`, then start again" in _refusal(tmp_path, pg_url)


def test_pg_db_start_migrate_stop_for_a_local_trial() -> None:
    with pg_dir() as tmp_path:
        _local_trial(tmp_path)


def _local_trial(tmp_path: Path) -> None:
    env = {**os.environ, "SOURCIER_DATA_DIR": str(tmp_path / "var"), "HF_HUB_OFFLINE": "1"}
    started = subprocess.run([sys.executable, "-m", "bot.cli", "db", "start", "--port", str(free_port())],
                             check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    try:
        assert started.returncode == 0, started.stderr
        url = re.search(r"export SOURCIER_DATABASE_URL='([^']+)'", started.stdout)
        assert url is not None
        migrated = subprocess.run([sys.executable, "-m", "bot.cli", "db", "migrate"], check=False, cwd=ROOT,
                                  env={**env, "SOURCIER_DATABASE_URL": url.group(1)}, capture_output=True,
                                  text=True, timeout=60)
        assert migrated.returncode == 0 and f"schema at version {LATEST} (nothing to do)" in migrated.stdout
    finally:
        stopped = subprocess.run([sys.executable, "-m", "bot.cli", "db", "stop"], check=False, cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0 and not EmbeddedServer(tmp_path / "var" / "postgres").running()


def test_pg_pool_exhausted_waits_then_503(engine: Engine, pg_url: str) -> None:
    pg = _published(engine, pg_url, database_pool_size=1, database_timeout_seconds=0.5, database_poll_seconds=0)
    assert pg.database is not None
    with LiveServer(create_app(pg.settings, pg)) as server, server.client() as client:
        assert client.post("/v1/ask", json={"question": QUESTION}).status_code == 200
        with pg.database.pool.connection():  # the only connection, held
            busy = client.post("/v1/ask", json={"question": "Qui a été licencié ?"})
        assert busy.status_code == 503
        assert "no database connection became free within 0.5 s" in busy.json()["detail"]
        assert client.post("/v1/ask", json={"question": "Qui a été licencié ?"}).status_code == 200


def test_pg_restart_under_load_is_503_then_recovers(engine: Engine, tmp_path: Path) -> None:
    with pg_dir() as root:
        _restart_under_load(engine, EmbeddedServer(root), tmp_path)


def _restart_under_load(engine: Engine, server: EmbeddedServer, tmp_path: Path) -> None:
    url = migrated(server.start(free_port()))
    pg = _published(engine, url, database_pool_size=2, database_timeout_seconds=1, database_poll_seconds=0,
                    admin_token=SecretStr(ADMIN_TOKEN), ingest_heartbeat_seconds=0.2, sources_dir=SEEDS,
                    index_dir=tmp_path / "index", data_dir=tmp_path / "var")  # the re-index's own folders
    statuses: list[tuple[int, str]] = []
    stop = threading.Event()

    def load(base: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            i = 0
            while not stop.is_set():
                i += 1  # a new question each time: the answer cache must not hide the database
                reply = client.post("/v1/ask", json={"question": f"{QUESTION} {i}"})
                statuses.append((reply.status_code, reply.json().get("detail", "")))
    try:
        with LiveServer(create_app(pg.settings, pg)) as live:
            worker = threading.Thread(target=load, args=(live.url,), daemon=True)
            worker.start()
            _until(lambda: any(s == 200 for s, _ in statuses), "no answer before the restart")
            server.stop("fast")
            _until(lambda: any(s == 503 for s, _ in statuses), "no 503 while the database was down")
            server.start()
            seen = len(statuses)
            _until(lambda: any(s == 200 for s, _ in statuses[seen:]), "no recovery after the database came back")
            stop.set()
            worker.join(timeout=60)
            with live.client() as client:  # the re-index queue's worker came back too
                job = _accepted(client)
                assert wait_for_job(client, job.json()["job_id"], deadline_s=120)["status"] == "done"
    finally:
        stop.set()
        server.stop("immediate")
    assert {s for s, _ in statuses} == {200, 503}
    assert all(d.startswith(("PostgreSQL stopped answering", "no database connection became free"))
               for s, d in statuses if s == 503)


def _accepted(client: httpx.Client, seconds: float = 60) -> httpx.Response:
    """A re-index job accepted: each pool reconnects on its own backoff, so the shared-state one may still answer a
    clear 503 just after the index's pool answered again; never anything else."""
    deadline = time.monotonic() + seconds
    while True:
        reply = client.post("/v1/admin/reindex", headers=AUTH)
        if reply.status_code == 202:
            return reply
        assert reply.status_code == 503 and "unavailable" in reply.json()["detail"], reply.text
        assert time.monotonic() < deadline, f"no re-index accepted {seconds:g} s after the database came back"
        time.sleep(0.1)


def _until(condition: object, message: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, message
        time.sleep(0.05)
