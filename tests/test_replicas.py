"""State in PostgreSQL (SOURCIER_DATABASE_URL): replicas answer each Slack event once, see the same votes and the
same re-index jobs."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from bot.cli.cli import app as cli
from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from bot.slack.handlers import SORRY
from bot.slack.store import SlackStore, Vote
from bot.statedb import PostgresSql
from index.errors import DatabaseConfigError
from index.pg.server import EmbeddedServer, free_port
from ingest.embed import Embedder
from tests.conftest import ADMIN_TOKEN, SEED_FILE, SEEDS, LiveServer, migrated, pg_dir
from tests.fake_slack import FakeSlack
from tests.processes import sourcier_serve
from tests.test_reindex import AUTH, NEW_FACT, wait_for_job
from tests.test_slack import SECRET, click, event, mention, posted, slack_settings


def test_slack_store_postgres_two_stores_share_dedupe_votes_and_threads(database_url: str) -> None:
    one, two = SlackStore(PostgresSql(database_url), 30), SlackStore(PostgresSql(database_url), 30)
    try:
        assert one.first_time("Ev1", "C1:1.0") is True
        assert two.first_time("Ev1", "C1:1.0") is False  # the other replica already has it
        assert two.first_time("Ev2", "C1:1.0") is False  # a retry under another event id, same message
        one.record_answer("a1", "Qui dirige OpenAI ?", "Mira Murati [1]", True, [{"n": 1, "text": "é"}],
                          [{"type": "section"}], "U1", "C1", thread="C1:1.0")
        assert two.answer("a1") == {"question": "Qui dirige OpenAI ?", "answer": "Mira Murati [1]", "found": True,
                                    "citations": [{"n": 1, "text": "é"}], "blocks": [{"type": "section"}],
                                    "user_id": "U1", "channel_id": "C1"}
        assert two.earlier_questions("C1:1.0") == ["Qui dirige OpenAI ?"]
        assert one.vote("a1", "U1", "C1", "up") is Vote.COUNTED
        assert two.vote("a1", "U1", "C1", "down") is Vote.ALREADY
        assert two.vote("a1", "U2", "C1", "down") is Vote.COUNTED
        assert two.vote("nope", "U2", "C1", "down") is Vote.UNKNOWN
        assert one.tally("a1") == (1, 1)
    finally:
        one.close()
        two.close()


def test_slack_store_postgres_many_replicas_racing_on_one_event_answer_it_once(database_url: str) -> None:
    stores = [SlackStore(PostgresSql(database_url), 30) for _ in range(4)]
    try:
        with ThreadPoolExecutor(16) as pool:
            firsts = list(pool.map(lambda i: stores[i % 4].first_time("EvRace", "C1:9.9"), range(16)))
        assert firsts.count(True) == 1
    finally:
        for store in stores:
            store.close()


def test_slack_store_postgres_unusable_url_says_why_in_one_sentence(postgres: Any) -> None:
    with pytest.raises(DatabaseConfigError, match="has no such database"):
        PostgresSql(postgres.url(database="no_such_db"))
    with pytest.raises(DatabaseConfigError, match="refused the user name or password") as refused:
        PostgresSql(postgres.url(password="secret-password"), timeout=2)
    assert "secret-password" not in str(refused.value) and "\n" not in str(refused.value)


@pytest.fixture()
def replicas(embedder: Embedder, database_url: str, tmp_path: Path) -> Iterator[tuple[list[str], FakeSlack]]:
    """Two `sourcier serve` processes on one database (the seed index published there), each with its own data
    dir and index folder."""
    Engine(Settings(index_dir=tmp_path / "built", sources_dir=SEEDS, database_url=SecretStr(database_url)),
           embedder=embedder).ingest()
    fake = FakeSlack()
    base = {**os.environ, "HF_HUB_OFFLINE": "1", "SOURCIER_DATABASE_URL": database_url, "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET, "SOURCIER_SLACK_API_URL": fake.api_url,
            "SOURCIER_SLACK_RATE_LIMIT_PER_MINUTE": "0", "SOURCIER_PUBLIC_URL": "https://sourcier.example.org"}
    try:
        with sourcier_serve({**base, "SOURCIER_DATA_DIR": str(tmp_path / "a"),
                             "SOURCIER_INDEX_DIR": str(tmp_path / "a" / "index")}) as (a, _), \
                sourcier_serve({**base, "SOURCIER_DATA_DIR": str(tmp_path / "b"),
                                "SOURCIER_INDEX_DIR": str(tmp_path / "b" / "index")}) as (b, _):
            yield [a, b], fake
    finally:
        fake.close()


@dataclass
class _At:
    """A `sourcier serve` process, as tests.test_slack's helpers reach it."""

    url: str


def _wait(check: Callable[[], object], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.slow
def test_slack_two_serve_processes_on_one_database_answer_once_and_share_votes(
        replicas: tuple[list[str], FakeSlack]) -> None:
    (a, b), fake = replicas
    inner = mention("Qui dirige OpenAI par intérim ?", "5150.1")
    event_id = f"EvBoth{time.time_ns()}"
    with ThreadPoolExecutor(2) as pool:  # a load balancer handing Slack's retry to the other replica
        replies = list(pool.map(lambda url: event(_At(url), inner, event_id)[0], [a, b]))
    assert [r.status_code for r in replies] == [200, 200]
    for url in (a, b):  # each replica answers a new question, so both have finished with the shared event
        ts = f"{time.time():.6f}"
        event(_At(url), mention("Qui a fondé Twitch.tv ?", ts))
        _wait(lambda ts=ts: posted(fake, thread_ts=ts))
    answers = posted(fake, thread_ts="5150.1")
    assert len(answers) == 1 and "Mira Murati" in answers[0]["text"]
    assert click(_At(a), fake, "feedback_up", answers[0], "U1", n=71).status_code == 200
    fake.wait_for("response/71", 2)
    click(_At(b), fake, "feedback_down", answers[0], "U1", n=72)
    assert "déjà donné votre avis" in fake.wait_for("response/72")[0]["text"]  # B knows A's vote
    click(_At(b), fake, "feedback_down", answers[0], "U2", n=73)
    fake.wait_for("response/73", 2)
    tallies = [blk["elements"][0]["text"] for r in fake.named("response/73") if r.get("replace_original")
               for blk in r.get("blocks", []) if blk.get("block_id") == "tally"]
    assert tallies == ["👍 1 · 👎 1"]
    with httpx.Client(timeout=30) as client:
        assert all(client.get(f"{url}/healthz").status_code == 200 for url in (a, b))


def test_slack_serve_with_an_unreachable_database_says_so_and_exits_1(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCIER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SOURCIER_DATABASE_URL", f"postgresql://u:secret-password@127.0.0.1:{free_port()}/db")
    result = CliRunner().invoke(cli, ["serve", "--index-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "SOURCIER_DATABASE_URL" in result.output
    assert "secret-password" not in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_slack_database_outage_gets_an_apology_then_answers_again(seed_settings: Settings, engine: Engine,
                                                                  tmp_path: Path) -> None:
    fake = FakeSlack()
    with pg_dir() as root:
        pg = EmbeddedServer(root)
        settings = slack_settings(seed_settings, fake, tmp_path / "data").model_copy(
            update={"database_url": SecretStr(migrated(pg.start(free_port())))})
        try:
            with LiveServer(create_app(settings, engine)) as server:
                for ts, up in (("7.1", True), ("7.2", False), ("7.3", True)):
                    if not up:
                        pg.stop()
                    event(server, mention("Qui a fondé Twitch.tv ?", ts))
                    _wait(lambda ts=ts: posted(fake, thread_ts=ts))
                    text = posted(fake, thread_ts=ts)[0]["text"]
                    assert (text == SORRY) is not up, text
                    if not up:
                        pg.start()  # no restart of sourcier: its pool replaces the broken connections
        finally:
            pg.stop("immediate")
            fake.close()


@pytest.mark.slow
def test_reindex_job_started_on_one_replica_is_seen_and_served_by_the_other(tmp_path: Path, embedder: Embedder,
                                                                           database_url: str) -> None:
    shutil.copytree(SEEDS, tmp_path / "seeds")
    base = Settings(sources_dir=tmp_path / "seeds", rate_limit_per_minute=0, admin_token=SecretStr(ADMIN_TOKEN),
                    database_url=SecretStr(database_url), database_poll_seconds=0.2)
    one = Engine(base.model_copy(update={"data_dir": tmp_path / "a", "index_dir": tmp_path / "a" / "index"}),
                 embedder=embedder)
    one.ingest()
    two = Engine(base.model_copy(update={"data_dir": tmp_path / "b", "index_dir": tmp_path / "b" / "index"}),
                 embedder=embedder)
    question = {"question": "Qui est le nouveau directeur financier d'OpenAI ?"}
    with LiveServer(create_app(one.settings, one)) as a, LiveServer(create_app(two.settings, two)) as b, \
            a.client() as ca, b.client() as cb:
        assert "Zéphyrin" not in cb.post("/v1/ask", json=question).json()["answer"]
        with (tmp_path / "seeds" / SEED_FILE.name).open("a", encoding="utf-8") as f:
            f.write(NEW_FACT)
        started = ca.post("/v1/admin/reindex", headers=AUTH)
        assert started.status_code == 202, started.text
        job = wait_for_job(cb, started.json()["job_id"], deadline_s=120)  # asked of the replica that did not run it
        assert job["status"] == "done", job
        _wait(lambda: "Zéphyrin Valadier" in cb.post("/v1/ask", json=question).json()["answer"], timeout=10)
        assert cb.get("/v1/admin/reindex/0123456789abcdef", headers=AUTH).status_code == 404
