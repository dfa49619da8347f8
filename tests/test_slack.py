"""The Slack app on a live server: signed requests in, a local fake of Slack's Web API recording what goes out."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from index.errors import SlackConfigError
from ingest.embed import Embedder
from tests.conftest import LiveServer
from tests.fake_slack import BOT_USER, FakeSlack, FakeSocket, error, rate_limited

SECRET = "test-signing-secret"


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


def slack_settings(base: Settings, fake: FakeSlack, data_dir: Path) -> Settings:
    return base.model_copy(update={"slack_bot_token": SecretStr("xoxb-test"), "slack_signing_secret": SecretStr(SECRET),
                                   "slack_api_url": fake.api_url, "data_dir": data_dir,
                                   "public_url": "https://sourcier.example.org", "slack_rate_limit_per_minute": 0})


@pytest.fixture(scope="module")
def slack_server(seed_settings: Settings, engine: Engine, fake_slack: FakeSlack,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = slack_settings(seed_settings, fake_slack, tmp_path_factory.mktemp("slackdata"))
    with LiveServer(create_app(settings, engine)) as server:
        server.data_dir = settings.data_dir  # type: ignore[attr-defined]
        yield server


@pytest.fixture()
def fake(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.reset()
    return fake_slack


class Served(Protocol):
    """A server the helpers below can reach: a LiveServer in this process, or a `sourcier serve` process."""

    url: str


def signed_post(server: Served, body: bytes, content_type: str, timestamp: int | None = None,
                secret: str = SECRET, headers: dict[str, str] | None = None) -> httpx.Response:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    signature = f"v0={digest}"  # computed over raw bytes, so undecodable bodies can be signed too
    all_headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature, "Content-Type": content_type,
                   **(headers or {})}
    return httpx.post(server.url + "/slack/events", content=body, headers=all_headers, timeout=10)


_counter = iter(range(10**6))


def event(server: Served, inner: dict[str, Any], event_id: str | None = None,
          headers: dict[str, str] | None = None) -> tuple[httpx.Response, str]:
    event_id = event_id or f"Ev{next(_counter)}-{time.time_ns()}"
    body = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": event_id,
            "event_time": int(time.time()), "event": inner}
    return signed_post(server, json.dumps(body).encode(), "application/json", headers=headers), event_id


def mention(text: str, ts: str, **extra: Any) -> dict[str, Any]:
    return {"type": "app_mention", "user": "U1", "text": f"<@{BOT_USER}> {text}", "ts": ts, "channel": "C1",
            "event_ts": ts, **extra}


def form(server: Served, fields: dict[str, str]) -> httpx.Response:
    return signed_post(server, urlencode(fields).encode(), "application/x-www-form-urlencoded")


def posted(fake: FakeSlack, **match: Any) -> list[dict[str, Any]]:
    return [b for b in fake.named("chat.postMessage") if all(b.get(k) == v for k, v in match.items())]


def flush(server: LiveServer, fake: FakeSlack) -> None:
    """Send a sentinel mention and wait for its answer, so every earlier event has been handled."""
    ts = f"{time.time():.6f}"
    event(server, mention("Qui a fondé Twitch.tv ?", ts))
    deadline = time.monotonic() + 20
    while not posted(fake, thread_ts=ts):
        assert time.monotonic() < deadline, fake.methods()
        time.sleep(0.02)


def test_slack_mention_answers_in_thread_with_citations(slack_server: LiveServer, fake: FakeSlack) -> None:
    r, _ = event(slack_server, mention("Qui dirige OpenAI par intérim ?", "111.1"))
    assert r.status_code == 200
    message = fake.wait_for("chat.postMessage")[0]
    assert message["thread_ts"] == "111.1" and message["channel"] == "C1"
    assert "Mira Murati" in message["text"] and "[1]" in message["text"]
    assert message["unfurl_links"] is False and message["unfurl_media"] is False
    blocks = message["blocks"]
    contexts = [b["elements"][0]["text"] for b in blocks if b["type"] == "context"]
    assert contexts[0].startswith("[1] <https://sourcier.example.org/#cite=s1.")  # signed (tests/test_citelinks.py)
    assert len(contexts[0]) < 600  # compact: one line per source, no excerpt, no repeated id
    actions = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["feedback_up", "feedback_down", "more_sources"]
    fake.wait_for("reactions.remove")
    assert fake.named("reactions.add")[0]["name"] == "eyes"
    assert fake.methods().index("reactions.add") < fake.methods().index("chat.postMessage")


def test_slack_retry_and_duplicate_event_id_answer_once(slack_server: LiveServer, fake: FakeSlack) -> None:
    inner = mention("Quelle entreprise Emmett Shear a-t-il fondée ?", "222.2")
    _, event_id = event(slack_server, inner)
    fake.wait_for("chat.postMessage")
    retry, _ = event(slack_server, inner, event_id, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason":
                                                             "http_timeout"})
    again, _ = event(slack_server, inner, event_id)
    assert retry.status_code == 200 and again.status_code == 200
    flush(slack_server, fake)
    assert len(posted(fake, thread_ts="222.2")) == 1


def test_slack_dm_answers_in_place_and_follows_threads(slack_server: LiveServer, fake: FakeSlack) -> None:
    event(slack_server, {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "ts": "333.3",
                         "text": "Combien de GPU Microsoft achètera-t-il ?"})
    first = fake.wait_for("chat.postMessage")[0]
    assert first["channel"] == "D1" and "thread_ts" not in first and "400 000" in first["text"]
    event(slack_server, {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "ts": "333.5",
                         "thread_ts": "333.3", "text": "Et qui a fondé Twitch.tv ?"})
    follow = fake.wait_for("chat.postMessage", 2)[1]
    assert follow["thread_ts"] == "333.3" and "Emmett Shear" in follow["text"]


@pytest.mark.parametrize(
    "inner",
    [
        {"type": "message", "channel_type": "im", "channel": "D1", "user": BOT_USER, "bot_id": "BBOT", "ts": "4.1",
         "text": "mon propre message"},
        {"type": "message", "channel_type": "im", "channel": "D1", "bot_id": "BOTHER", "ts": "4.2", "text": "bot"},
        {"type": "message", "subtype": "message_changed", "channel_type": "im", "channel": "D1", "ts": "4.3",
         "message": {"text": "édité"}},
        {"type": "message", "subtype": "message_deleted", "channel_type": "im", "channel": "D1", "ts": "4.4"},
        {"type": "message", "channel_type": "channel", "channel": "C1", "user": "U1", "ts": "4.5",
         "text": "un message de canal sans mention"},
    ],
)
def test_slack_ignores_bots_edits_deletions_and_plain_channel_messages(slack_server: LiveServer, fake: FakeSlack,
                                                                       inner: dict[str, Any]) -> None:
    r, _ = event(slack_server, inner)
    assert r.status_code == 200
    flush(slack_server, fake)
    assert len(fake.named("chat.postMessage")) == 1  # the sentinel's answer only


def test_slack_abstains_plainly_with_maybe_useful_passages(slack_server: LiveServer, fake: FakeSlack) -> None:
    event(slack_server, mention("Quelle est la hauteur de la tour Eiffel ?", "555.5"))
    message = fake.wait_for("chat.postMessage")[0]
    assert message["text"].startswith("Je ne sais pas")
    texts = [b["elements"][0]["text"] for b in message["blocks"] if b["type"] == "context"]
    assert texts[0].startswith("_Peut-être utile :_\n[1] ") and texts[0].count("\n[") == 3
    assert "[" not in message["blocks"][0]["text"]["text"]


def slash(server: LiveServer, fake: FakeSlack, text: str, n: int) -> httpx.Response:
    return form(server, {"token": "x", "team_id": "T1", "channel_id": "C9", "user_id": "U7", "command": "/sourcier",
                         "text": text, "response_url": f"{fake.url}/response/{n}", "trigger_id": "t"})


def test_slack_slash_command_acks_then_answers_privately(slack_server: LiveServer, fake: FakeSlack) -> None:
    started = time.monotonic()
    r = slash(slack_server, fake, "Qui dirige OpenAI par intérim ?", 1)
    assert r.status_code == 200 and time.monotonic() - started < 3
    assert r.json()["response_type"] == "ephemeral" and "Je cherche" in r.json()["text"]
    reply = fake.wait_for("response/1")[0]
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is True
    assert "Mira Murati" in reply["text"]
    buttons = [e["action_id"] for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["feedback_up", "feedback_down", "more_sources", "share_answer"]


def test_slack_slash_command_without_question_explains(slack_server: LiveServer, fake: FakeSlack) -> None:
    r = slash(slack_server, fake, "   ", 2)
    assert r.status_code == 200 and "Posez-moi une question" in r.json()["text"]


def click(server: Served, fake: FakeSlack, action_id: str, message: dict[str, Any], user: str,
          ephemeral: bool = False, n: int = 50) -> httpx.Response:
    answer_id = next(e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"])
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": user}, "api_app_id": "A1",
               "channel": {"id": message.get("channel", "C9")}, "trigger_id": "t",
               "container": {"type": "message", "message_ts": "999.9", "is_ephemeral": ephemeral},
               "message": {"ts": "999.9", "text": message["text"], "blocks": message["blocks"]},
               "response_url": f"{fake.url}/response/{n}",
               "actions": [{"action_id": action_id, "block_id": "feedback", "value": answer_id, "type": "button",
                            "action_ts": "1"}]}
    return form(server, {"payload": json.dumps(payload)})


def _tallies(fake: FakeSlack, n: int) -> list[str]:
    """The tally lines of every redraw sent to one response_url, in order."""
    return [b["elements"][0]["text"] for r in fake.named(f"response/{n}") if r.get("replace_original")
            for b in r.get("blocks", []) if b.get("block_id") == "tally"]


def test_slack_feedback_is_stored_once_per_person(slack_server: LiveServer, fake: FakeSlack) -> None:
    event(slack_server, mention("Qui a fondé Twitch.tv ?", "666.6"))
    message = fake.wait_for("chat.postMessage")[0]
    assert click(slack_server, fake, "feedback_up", message, "U1", n=50).status_code == 200
    redraw, thanks = fake.wait_for("response/50", 2)[:2]
    assert redraw["replace_original"] is True and [b.get("block_id") for b in redraw["blocks"]].count("tally") == 1
    # no name in the channel (as a word: the citation links' signed tokens are random base64, « …jU1M… »)
    assert _tallies(fake, 50) == ["👍 1 · 👎 0"] and not re.search(r"(?<![\w-])U1(?![\w-])", str(redraw["blocks"]))
    assert thanks["response_type"] == "ephemeral" and thanks["replace_original"] is False and "Merci" in thanks["text"]
    click(slack_server, fake, "feedback_down", message, "U1", n=51)
    assert "déjà donné votre avis" in fake.wait_for("response/51")[0]["text"]
    click(slack_server, fake, "feedback_down", message, "U2", n=52)
    fake.wait_for("response/52", 2)
    assert _tallies(fake, 52) == ["👍 1 · 👎 1"]
    assert "chat.update" not in fake.methods()  # redrawn through each click's response_url
    db = sqlite3.connect(slack_server.data_dir / "sourcier.db")  # type: ignore[attr-defined]
    rows = db.execute("SELECT f.user_id, f.vote, a.question, a.channel_id FROM feedback f JOIN answers a "
                      "USING (answer_id) ORDER BY f.created_at").fetchall()
    assert rows == [("U1", "up", "Qui a fondé Twitch.tv ?", "C1"), ("U2", "down", "Qui a fondé Twitch.tv ?", "C1")]
    citations = json.loads(db.execute("SELECT citations FROM answers WHERE question = ?",
                                      ("Qui a fondé Twitch.tv ?",)).fetchone()[0])
    assert citations[0]["n"] == 1 and "Twitch.tv" in citations[0]["text"]


def _ephemeral_click(server: LiveServer, fake: FakeSlack, action_id: str, answer_id: str, user: str,
                     n: int) -> httpx.Response:
    """A click on an ephemeral (/sourcier) answer, in Slack's real shape: `container.is_ephemeral`, no `message`."""
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": user, "username": "u"},
               "api_app_id": "A1", "token": "x", "trigger_id": "t",
               "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C9",
                             "is_ephemeral": True},
               "channel": {"id": "C9", "name": "général"}, "response_url": f"{fake.url}/response/{n}",
               "actions": [{"action_id": action_id, "block_id": "buttons", "value": answer_id, "type": "button",
                            "action_ts": "1700000001.000200", "text": {"type": "plain_text", "text": "👍"}}],
               "state": {"values": {}}}
    return form(server, {"payload": json.dumps(payload)})


def _answer_id(message: dict[str, Any]) -> str:
    return str(next(e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]))


def test_slack_vote_on_an_ephemeral_answer_redraws_it_through_response_url(slack_server: LiveServer,
                                                                          fake: FakeSlack) -> None:
    slash(slack_server, fake, "Qui a fondé Twitch.tv ?", 80)
    answer_id = _answer_id(fake.wait_for("response/80")[0])
    assert _ephemeral_click(slack_server, fake, "feedback_up", answer_id, "U7", 81).status_code == 200
    redraw, thanks = fake.wait_for("response/81", 2)[:2]
    assert redraw["replace_original"] is True and "Emmett Shear" in redraw["text"]
    buttons = [e["action_id"] for b in redraw["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["feedback_up", "feedback_down", "more_sources", "share_answer"]
    assert _tallies(fake, 81) == ["👍 1 · 👎 0"] and thanks["response_type"] == "ephemeral"
    assert "chat.update" not in fake.methods()
    _ephemeral_click(slack_server, fake, "feedback_up", "no-such-answer", "U7", 82)
    assert "plus disponible" in fake.wait_for("response/82")[0]["text"]


def test_slack_concurrent_votes_never_show_a_lower_tally(slack_server: LiveServer, fake: FakeSlack) -> None:
    slash(slack_server, fake, "Qui a fondé Twitch.tv ?", 90)
    answer_id = _answer_id(fake.wait_for("response/90")[0])
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda i: _ephemeral_click(slack_server, fake, "feedback_up", answer_id, f"UV{i}", 100 + i),
                      range(12)))
    for i in range(12):
        fake.wait_for(f"response/{100 + i}", 2)
    urls = {f"response/{100 + i}" for i in range(12)}
    shown = [int(b["elements"][0]["text"].split()[1]) for m, r in list(fake.calls) if m in urls
             and r.get("replace_original") for b in r["blocks"] if b.get("block_id") == "tally"]
    assert shown == sorted(shown) and shown[-1] == 12  # the message only ever counts up, and ends right


def test_slack_share_button_posts_publicly(slack_server: LiveServer, fake: FakeSlack) -> None:
    slash(slack_server, fake, "Qui a fondé Twitch.tv ?", 3)
    private = fake.wait_for("response/3")[0]
    private["channel"] = "C9"
    click(slack_server, fake, "share_answer", private, "U7", ephemeral=True, n=60)
    shared, deleted = fake.wait_for("response/60", 2)[:2]
    assert shared["response_type"] == "in_channel" and "Emmett Shear" in shared["text"]
    assert shared["blocks"][0]["elements"][0]["text"] == "<@U7> a partagé la réponse à « Qui a fondé Twitch.tv ? »"
    assert [e["action_id"] for b in shared["blocks"] if b["type"] == "actions" for e in b["elements"]] == \
        ["feedback_up", "feedback_down", "more_sources"]
    assert deleted["delete_original"] is True


def test_slack_rejects_forged_and_stale_signatures(slack_server: LiveServer) -> None:
    body = json.dumps({"type": "event_callback", "event_id": "EvX", "event": mention("Qui ?", "7.7")}).encode()
    assert signed_post(slack_server, body, "application/json", secret="wrong").status_code == 401
    stale = int(time.time()) - 6 * 60
    assert signed_post(slack_server, body, "application/json", timestamp=stale).status_code == 401


def test_slack_url_verification(slack_server: LiveServer) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123"}).encode()
    r = signed_post(slack_server, body, "application/json")
    assert r.status_code == 200 and "abc123" in r.text


def test_slack_internal_error_gets_an_apology(seed_settings: Settings, embedder: Embedder, fake: FakeSlack,
                                              tmp_path: Path) -> None:
    settings = slack_settings(seed_settings, fake, tmp_path).model_copy(update={"index_dir": tmp_path / "none"})
    with LiveServer(create_app(settings, Engine(settings, embedder=embedder))) as server:
        event(server, mention("Qui dirige OpenAI ?", "888.8"))
        message = fake.wait_for("chat.postMessage")[0]
    assert message["thread_ts"] == "888.8" and message["text"].startswith("Désolé")
    assert "Traceback" not in message["text"]
    fake.wait_for("reactions.remove")


def test_slack_not_configured_is_404_with_hint(live_server: LiveServer) -> None:
    r = httpx.post(live_server.url + "/slack/events", json={})
    assert r.status_code == 404 and "SLACK_BOT_TOKEN" in r.json()["detail"]


def test_slack_half_configured_fails_at_startup(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path, slack_bot_token=SecretStr("xoxb-x"))
    with pytest.raises(SlackConfigError, match="SLACK_SIGNING_SECRET"):
        create_app(settings)


def test_slack_socket_mode_handler_answers_over_a_websocket_and_picks_up_a_new_index(
        seed_settings: Settings, embedder: Embedder, fake: FakeSlack, tmp_path: Path) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack.app import create_slack_app
    from bot.slack.store import SlackStore
    from bot.statedb import SqliteSql

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Le comté est un fromage du Jura. Il vieillit en cave.\n", encoding="utf-8")
    settings = seed_settings.model_copy(update={"slack_bot_token": SecretStr("xoxb-test"), "sources_dir": docs,
                                                "slack_app_token": SecretStr("xapp-test"), "data_dir": tmp_path,
                                                "index_dir": tmp_path / "index", "slack_rate_limit_per_minute": 0})
    Engine(settings, embedder=embedder).ingest()
    engine = Engine(settings, embedder=embedder)  # the Socket Mode process: it never ingests itself
    socket = FakeSocket()
    fake.ws_url = socket.url
    store = SlackStore(SqliteSql(tmp_path / "sourcier.db"), 90)

    def ask(n: int, question: str) -> dict[str, Any]:
        envelope = {"envelope_id": f"env-{n}", "type": "events_api", "accepts_response_payload": False,
                    "payload": {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": f"EvS{n}",
                                "event": mention(question, f"90{n}.1")}}
        socket.send(envelope)
        socket.wait_ack(f"env-{n}")
        deadline = time.monotonic() + 20
        while not posted(fake, thread_ts=f"90{n}.1"):
            assert time.monotonic() < deadline, fake.methods()
            time.sleep(0.02)
        return posted(fake, thread_ts=f"90{n}.1")[0]

    async def run() -> None:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        handler = AsyncSocketModeHandler(create_slack_app(settings, engine, store, client), "xapp-test",
                                         web_client=client)
        await handler.connect_async()
        try:
            await asyncio.to_thread(socket.connected)
            first = await asyncio.to_thread(ask, 1, "Où vieillit le comté ?")
            assert "Il vieillit en cave." in first["text"]
            (docs / "b.txt").write_text("Le beaufort est affiné en Savoie pendant cinq mois.\n", encoding="utf-8")
            await asyncio.to_thread(Engine(settings, embedder=embedder).ingest)  # another process publishes
            second = await asyncio.to_thread(ask, 2, "Où le beaufort est-il affiné ?")
            assert "affiné en Savoie" in second["text"]
        finally:
            await handler.close_async()

    try:
        asyncio.run(run())
    finally:
        socket.close()
        store.close()


def test_slack_rate_limits_each_user_politely(seed_settings: Settings, engine: Engine, fake: FakeSlack,
                                              tmp_path: Path) -> None:
    settings = slack_settings(seed_settings, fake, tmp_path).model_copy(update={"slack_rate_limit_per_minute": 1})
    with LiveServer(create_app(settings, engine)) as server:
        for i in range(4):  # a burst of 3 is allowed, the 4th is told to wait
            event(server, {**mention("Qui a fondé Twitch.tv ?", f"77.{i}"), "user": "USPAM"})
        warning = fake.wait_for("chat.postEphemeral")[0]
        assert warning["user"] == "USPAM" and "réessayez dans" in warning["text"]
        fake.wait_for("chat.postMessage", 3)
        acks = [slash(server, fake, "Qui a fondé Twitch.tv ?", 70 + i).json()["text"] for i in range(4)]
    assert [("réessayez dans" in text) for text in acks] == [False, False, False, True]
    assert len(fake.named("chat.postMessage")) == 3


def test_slack_rate_limited_post_is_retried_after_retry_after(slack_server: LiveServer, fake: FakeSlack) -> None:
    fake.script("chat.postMessage", rate_limited(1))
    event(slack_server, mention("Qui a fondé Twitch.tv ?", "1001.1"))
    delivered = fake.wait_for("chat.postMessage", 2)
    assert delivered[1]["thread_ts"] == "1001.1" and "Emmett Shear" in delivered[1]["text"]


def test_slack_channel_the_bot_cannot_post_in_gets_the_answer_by_dm(slack_server: LiveServer, fake: FakeSlack) -> None:
    fake.script("chat.postMessage", error("not_in_channel"))
    event(slack_server, mention("Qui a fondé Twitch.tv ?", "1002.1"))
    refused, direct = fake.wait_for("chat.postMessage", 2)[:2]
    assert refused["channel"] == "C1" and direct["channel"] == "U1" and "Emmett Shear" in direct["text"]


def test_slack_failing_reaction_never_costs_the_answer(slack_server: LiveServer, fake: FakeSlack) -> None:
    fake.script("reactions.add", error("missing_scope"))
    event(slack_server, mention("Qui a fondé Twitch.tv ?", "1003.1"))
    assert "Emmett Shear" in fake.wait_for("chat.postMessage")[0]["text"]


def test_slack_dm_that_also_mentions_the_bot_is_answered_once(slack_server: LiveServer, fake: FakeSlack) -> None:
    text = f"<@{BOT_USER}> Qui a fondé Twitch.tv ?"
    event(slack_server, {"type": "message", "channel_type": "im", "channel": "D5", "user": "U1", "ts": "1004.1",
                         "text": text})
    event(slack_server, {"type": "app_mention", "channel": "D5", "user": "U1", "ts": "1004.1", "text": text})
    flush(slack_server, fake)
    assert len([m for m in fake.named("chat.postMessage") if m["channel"] == "D5"]) == 1


def test_slack_follow_up_in_a_thread_is_read_with_the_thread(slack_server: LiveServer, fake: FakeSlack) -> None:
    event(slack_server, mention("Qui dirige OpenAI par intérim ?", "1005.1"))
    fake.wait_for("chat.postMessage")
    event(slack_server, mention("Et chez Microsoft ?", "1005.2", thread_ts="1005.1"))
    follow = fake.wait_for("chat.postMessage", 2)[1]
    assert follow["thread_ts"] == "1005.1" and "Microsoft" in follow["text"]
    note = next(b for b in follow["blocks"] if b.get("block_id") == "context-note")["elements"][0]["text"]
    assert "« Qui dirige OpenAI par intérim ? »" in note
    event(slack_server, mention("Quelle est la capitale du Pérou ?", "1005.3", thread_ts="1005.1"))
    off_topic = fake.wait_for("chat.postMessage", 3)[2]
    assert off_topic["text"].startswith("Je ne sais pas") and "context-note" not in str(off_topic["blocks"])


def test_slack_dm_with_a_file_is_answered_and_says_files_are_not_read(slack_server: LiveServer,
                                                                       fake: FakeSlack) -> None:
    event(slack_server, {"type": "message", "subtype": "file_share", "channel_type": "im", "channel": "D6",
                         "user": "U1", "ts": "1006.1", "text": "Qui a fondé Twitch.tv ?",
                         "files": [{"id": "F1", "name": "note.pdf", "mimetype": "application/pdf"}]})
    message = fake.wait_for("chat.postMessage")[0]
    assert "Emmett Shear" in message["text"] and "fichiers joints" in str(message["blocks"])


def test_slack_more_sources_expands_the_message_in_place(slack_server: LiveServer, fake: FakeSlack) -> None:
    event(slack_server, mention("Qui dirige OpenAI par intérim ?", "1007.1"))
    message = fake.wait_for("chat.postMessage")[0]
    click(slack_server, fake, "more_sources", message, "U1", n=1007)
    expanded = fake.wait_for("response/1007")[0]
    assert expanded["replace_original"] is True
    cites = [b for b in expanded["blocks"] if str(b.get("block_id", "")).startswith("cite-")]
    assert len(cites) >= 2 and "*Mira Murati" in cites[0]["elements"][0]["text"]
    assert "more_sources" not in str(expanded["blocks"])


def test_slack_message_shortcut_answers_in_the_message_thread(slack_server: LiveServer, fake: FakeSlack) -> None:
    payload = {"type": "message_action", "callback_id": "ask_sourcier", "trigger_id": "t", "action_ts": "1",
               "team": {"id": "T1", "domain": "test"}, "user": {"id": "U3", "name": "u3"},
               "channel": {"id": "C4", "name": "général"}, "response_url": f"{fake.url}/response/1008",
               "message_ts": "1008.1",
               "message": {"type": "message", "user": "U9", "ts": "1008.1", "text": "Qui a fondé Twitch.tv ?"}}
    assert form(slack_server, {"payload": json.dumps(payload)}).status_code == 200
    answer = fake.wait_for("chat.postMessage")[0]
    assert (answer["channel"], answer["thread_ts"]) == ("C4", "1008.1") and "Emmett Shear" in answer["text"]


def test_slack_app_home_and_help_say_what_is_known_and_how_to_ask(slack_server: LiveServer, fake: FakeSlack) -> None:
    event(slack_server, {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home",
                         "event_ts": "1009.1"})
    view = fake.wait_for("views.publish")[0]
    assert view["user_id"] == "U1" and view["view"]["type"] == "home"
    assert "1 sources" in str(view["view"]) and "Demander à sourcier" in str(view["view"])
    r = slash(slack_server, fake, "aide", 1009)
    assert "Comment demander" in str(r.json()["blocks"]) and "1 sources" in str(r.json()["blocks"])


def test_slack_channels_answer_from_their_own_sources(seed_settings: Settings, embedder: Embedder, fake: FakeSlack,
                                                      tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "juridique").mkdir(parents=True)
    (docs / "rh").mkdir()
    (docs / "juridique" / "bail.txt").write_text("Le préavis d'un bail meublé est d'un mois.\n", encoding="utf-8")
    (docs / "rh" / "conges.txt").write_text("Les congés d'été se posent avant le 31 mars.\n", encoding="utf-8")
    settings = slack_settings(seed_settings, fake, tmp_path).model_copy(update={
        "sources_dir": docs, "index_dir": tmp_path / "index",
        "slack_channel_sources": {"CJURI": ["juridique/"], "CVIDE": ["compta/"]}})
    engine = Engine(settings, embedder=embedder)
    engine.ingest()
    with LiveServer(create_app(settings, engine)) as server:
        for channel, ts in (("CJURI", "1.1"), ("CRH", "1.2"), ("CVIDE", "1.3")):
            event(server, {**mention("Quand poser les congés d'été ?", ts), "channel": channel})
        replies = {m["channel"]: m["text"] for m in fake.wait_for("chat.postMessage", 3)}
    assert replies["CJURI"].startswith("Je ne sais pas")
    assert "avant le 31 mars" in replies["CRH"]
    assert "pas de sources indexées" in replies["CVIDE"]


@pytest.mark.parametrize(("body", "content_type"), [
    (b'{"x": ', "application/json"), (b"\x00\xff\xfe binaire", "application/octet-stream"), (b"[1]", "application/json"),
    (b"null", "application/json"), (b"payload=%7Bnot", "application/x-www-form-urlencoded")])
def test_slack_malformed_requests_never_500(slack_server: LiveServer, body: bytes, content_type: str,
                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        unsigned = httpx.post(slack_server.url + "/slack/events", content=body, timeout=10,
                              headers={"Content-Type": content_type, "X-Slack-Request-Timestamp": "abc",
                                       "X-Slack-Signature": "v0=00"})
        signed = signed_post(slack_server, body, content_type)
    assert unsigned.status_code == 401 and unsigned.json()["detail"]
    assert signed.status_code in (200, 400, 404) and signed.status_code != 500
    assert not [r for r in caplog.records if r.exc_info]  # one line each, no traceback


def test_slack_unsigned_failures_are_rate_limited_per_address(seed_settings: Settings, engine: Engine,
                                                              fake: FakeSlack, tmp_path: Path) -> None:
    with LiveServer(create_app(slack_settings(seed_settings, fake, tmp_path), engine)) as server:
        codes = [httpx.post(server.url + "/slack/events", content=b"{}", timeout=10).status_code for _ in range(14)]
        assert codes[:10] == [401] * 10 and codes[-1] == 429
        assert signed_post(server, json.dumps({"type": "url_verification", "challenge": "c"}).encode(),
                           "application/json").status_code == 200  # Slack itself is never limited
