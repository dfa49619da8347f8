"""API keys and the citation links' secret in PostgreSQL (SOURCIER_DATABASE_URL): replicas behind one load balancer
accept the same keys, refuse the same revoked ones, and open each other's links; a key file from before is kept."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from bot.answer import Citation
from bot.citelinks import ROTATED, LinkSigner
from bot.cli.cli import app as cli
from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from bot.keys import KeyStore
from bot.statedb import PostgresSql
from index.errors import ApiKeyError
from index.pg.server import EmbeddedServer, free_port
from ingest.embed import Embedder
from tests.conftest import SEEDS, LiveServer, pg_dir

runner = CliRunner()
QUESTION = {"question": "Qui dirige OpenAI par intérim ?"}


def _wait(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not seen before the deadline"
        time.sleep(0.05)


def _ask(server: LiveServer, secret: str | None) -> int:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.post(f"{server.url}/v1/ask", json=QUESTION, headers=headers, timeout=30).status_code


def _citation() -> Citation:
    text = "Mira Murati dirige OpenAI par intérim."
    return Citation(n=1, source_id="x", title="x", text=text, start=0, end=len(text), score=1.0, sentence_start=0,
                    sentence_end=len(text), cited=True)


def test_shared_keys_made_or_revoked_on_one_replica_hold_on_every_replica(tmp_path: Path, embedder: Embedder,
                                                                        database_url: str) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    _, before = KeyStore(a_dir).create("from-the-file", [])  # replica A's key file, from before the database
    base = Settings(sources_dir=SEEDS, rate_limit_per_minute=0, database_url=SecretStr(database_url),
                    database_poll_seconds=0.1)
    one = Engine(base.model_copy(update={"data_dir": a_dir, "index_dir": a_dir / "index"}), embedder=embedder)
    one.ingest()
    two = Engine(base.model_copy(update={"data_dir": b_dir, "index_dir": b_dir / "index"}), embedder=embedder)
    cli_env = {"SOURCIER_DATABASE_URL": database_url, "SOURCIER_DATA_DIR": str(b_dir)}
    with LiveServer(create_app(one.settings, one)) as a, LiveServer(create_app(two.settings, two)) as b:
        assert _ask(b, before) == 200  # B's data dir never held it: the file's keys were copied into the database
        assert _ask(b, None) == 401  # keys exist, so loopback needs one too, on every replica
        made = runner.invoke(cli, ["keys", "create", "intranet"], env=cli_env)
        assert made.exit_code == 0, made.output
        secret = made.output.split()[0]
        _wait(lambda: _ask(a, secret) == 200 and _ask(b, secret) == 200)  # each within its poll
        assert runner.invoke(cli, ["keys", "revoke", secret.split("_")[1]], env=cli_env).exit_code == 0
        _wait(lambda: _ask(a, secret) == 401 and _ask(b, secret) == 401)
        assert _ask(a, before) == 200
        listed = runner.invoke(cli, ["keys", "list"], env=cli_env).output
        assert "from-the-file" in listed and "intranet" in listed and "revoked" in listed
        assert not (b_dir / "api_keys.json").exists()  # nothing was written beside the database


def test_shared_keys_citation_link_signed_by_one_replica_opens_on_the_other_until_rotated(
        tmp_path: Path, embedder: Embedder, database_url: str) -> None:
    base = Settings(sources_dir=SEEDS, rate_limit_per_minute=0, database_url=SecretStr(database_url),
                    database_poll_seconds=0.1)
    one = Engine(base.model_copy(update={"data_dir": tmp_path / "a", "index_dir": tmp_path / "a" / "index"}),
                 embedder=embedder)
    one.ingest()
    two = Engine(base.model_copy(update={"data_dir": tmp_path / "b", "index_dir": tmp_path / "b" / "index"}),
                 embedder=embedder)
    app_a = create_app(one.settings, one)
    with LiveServer(app_a) as a, LiveServer(create_app(two.settings, two)) as b:
        token = app_a.state.links.sign(one.ask(QUESTION["question"]).citations[0])
        opened = httpx.get(f"{b.url}/v1/cite/{token}")
        assert opened.status_code == 200, opened.text
        rotated = runner.invoke(cli, ["keys", "rotate-links"], env={"SOURCIER_DATABASE_URL": database_url,
                                                                    "SOURCIER_DATA_DIR": str(tmp_path / "c")})
        assert rotated.exit_code == 0, rotated.output
        for server in (a, b):  # each follows the rotation within its poll
            _wait(lambda server=server: httpx.get(f"{server.url}/v1/cite/{token}").status_code == 403)
            assert httpx.get(f"{server.url}/v1/cite/{token}").json()["detail"] == ROTATED


def test_shared_keys_a_link_signed_after_a_rotation_opens_on_a_replica_that_had_not_seen_it(
        tmp_path: Path, database_url: str) -> None:
    sql_a, sql_b = PostgresSql(database_url), PostgresSql(database_url)
    try:
        here, there = LinkSigner(tmp_path / "a", 3, sql_a), LinkSigner(tmp_path / "b", 3, sql_b)  # never re-read
        assert there.check(here.sign(_citation())).source_id == "x"
        here.rotate()
        assert there.check(here.sign(_citation())).source_id == "x"  # an unknown key id: read again at once
    finally:
        sql_a.close()
        sql_b.close()


def test_shared_keys_survive_a_database_outage_and_follow_it_again_after(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    with pg_dir() as root:
        pg = EmbeddedServer(root)
        url = pg.start(free_port())
        sql, writer = PostgresSql(url, timeout=1), PostgresSql(url, timeout=1)
        try:
            followed = KeyStore(tmp_path, sql, every=0.05)
            _, secret = KeyStore(tmp_path, writer).create("intranet", [])
            _wait(lambda: followed.active())
            pg.stop()
            _wait(lambda: "keeping the last copy" in caplog.text)  # its re-reads now fail
            assert followed.check(secret).name == "intranet"  # the last copy, not an error per request
            pg.start()
            KeyStore(tmp_path, writer).revoke(secret.split("_")[1])  # its pool replaced the broken connections

            def refused() -> bool:
                try:
                    followed.check(secret)
                except ApiKeyError:
                    return True
                return False

            _wait(refused)
            followed.close()
        finally:
            sql.close()
            writer.close()
            pg.stop("immediate")
