"""The Slack app on a live server: signed requests in, a local fake of Slack's Web API recording what goes out."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier

from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from index.errors import SlackConfigError
from ingest.embed import Embedder
from tests.conftest import LiveServer
from tests.fake_slack import BOT_USER, FakeSlack

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


def signed_post(server: LiveServer, body: bytes, content_type: str, timestamp: int | None = None,
                secret: str = SECRET, headers: dict[str, str] | None = None) -> httpx.Response:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    all_headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature, "Content-Type": content_type,
                   **(headers or {})}
    return httpx.post(server.url + "/slack/events", content=body, headers=all_headers, timeout=10)


_counter = iter(range(10**6))


def event(server: LiveServer, inner: dict[str, Any], event_id: str | None = None,
          headers: dict[str, str] | None = None) -> tuple[httpx.Response, str]:
    event_id = event_id or f"Ev{next(_counter)}-{time.time_ns()}"
    body = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": event_id,
            "event_time": int(time.time()), "event": inner}
    return signed_post(server, json.dumps(body).encode(), "application/json", headers=headers), event_id


def mention(text: str, ts: str, **extra: Any) -> dict[str, Any]:
    return {"type": "app_mention", "user": "U1", "text": f"<@{BOT_USER}> {text}", "ts": ts, "channel": "C1",
            "event_ts": ts, **extra}


def form(server: LiveServer, fields: dict[str, str]) -> httpx.Response:
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
    blocks = message["blocks"]
    contexts = [b["elements"][0]["text"] for b in blocks if b["type"] == "context"]
    assert contexts[0].startswith("*[1]*") and "*Mira Murati" in contexts[0]
    assert "<https://sourcier.example.org/#cite=openai-altman-microsoft:" in contexts[0]
    actions = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["feedback_up", "feedback_down"]
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
    assert texts[0] == "_Peut-être utile :_" and len(texts) >= 2
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
    assert buttons == ["feedback_up", "feedback_down", "share_answer"]


def test_slack_slash_command_without_question_explains(slack_server: LiveServer, fake: FakeSlack) -> None:
    r = slash(slack_server, fake, "   ", 2)
    assert r.status_code == 200 and "Posez-moi une question" in r.json()["text"]


def click(server: LiveServer, fake: FakeSlack, action_id: str, message: dict[str, Any], user: str,
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


def test_slack_feedback_is_stored_once_per_person(slack_server: LiveServer, fake: FakeSlack) -> None:
    event(slack_server, mention("Qui a fondé Twitch.tv ?", "666.6"))
    message = fake.wait_for("chat.postMessage")[0]
    assert click(slack_server, fake, "feedback_up", message, "U1").status_code == 200
    update = fake.wait_for("chat.update")[0]
    assert update["channel"] == "C1" and update["ts"] == "999.9"
    assert "Merci <@U1>" in update["blocks"][-1]["elements"][0]["text"] and "👍 1 · 👎 0" in str(update["blocks"])
    click(slack_server, fake, "feedback_down", message, "U1", n=51)
    assert "déjà donné votre avis" in fake.wait_for("response/51")[0]["text"]
    click(slack_server, fake, "feedback_down", message, "U2")
    assert "👍 1 · 👎 1" in str(fake.wait_for("chat.update", 2)[1]["blocks"])
    db = sqlite3.connect(slack_server.data_dir / "sourcier.db")  # type: ignore[attr-defined]
    rows = db.execute("SELECT f.user_id, f.vote, a.question, a.channel_id FROM feedback f JOIN answers a "
                      "USING (answer_id) ORDER BY f.created_at").fetchall()
    assert rows == [("U1", "up", "Qui a fondé Twitch.tv ?", "C1"), ("U2", "down", "Qui a fondé Twitch.tv ?", "C1")]
    citations = json.loads(db.execute("SELECT citations FROM answers WHERE question = ?",
                                      ("Qui a fondé Twitch.tv ?",)).fetchone()[0])
    assert citations[0]["n"] == 1 and "Twitch.tv" in citations[0]["text"]


def test_slack_share_button_posts_publicly(slack_server: LiveServer, fake: FakeSlack) -> None:
    slash(slack_server, fake, "Qui a fondé Twitch.tv ?", 3)
    private = fake.wait_for("response/3")[0]
    private["channel"] = "C9"
    click(slack_server, fake, "share_answer", private, "U7", ephemeral=True, n=60)
    shared, deleted = fake.wait_for("response/60", 2)[:2]
    assert shared["response_type"] == "in_channel" and "Emmett Shear" in shared["text"]
    assert [e["action_id"] for b in shared["blocks"] if b["type"] == "actions" for e in b["elements"]] == \
        ["feedback_up", "feedback_down"]
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


def test_slack_socket_mode_dispatch_uses_the_same_handlers(seed_settings: Settings, engine: Engine, fake: FakeSlack,
                                                            tmp_path: Path) -> None:
    from slack_bolt.request.async_request import AsyncBoltRequest
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.slack.app import create_slack_app
    from bot.slack.store import SlackStore

    settings = seed_settings.model_copy(update={"slack_bot_token": SecretStr("xoxb-test"),
                                                "slack_app_token": SecretStr("xapp-test"), "data_dir": tmp_path})
    store = SlackStore(tmp_path / "sourcier.db")

    async def scenario() -> None:
        app = create_slack_app(settings, engine, store, AsyncWebClient(token="xoxb-test", base_url=fake.api_url))
        body = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "EvSocket",
                "event": mention("Qui dirige OpenAI par intérim ?", "909.9")}
        response = await app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
        assert response.status == 200
        deadline = time.monotonic() + 20
        while not posted(fake, thread_ts="909.9"):
            assert time.monotonic() < deadline, fake.methods()
            await asyncio.sleep(0.02)

    asyncio.run(scenario())
    store.close()
    assert "Mira Murati" in posted(fake, thread_ts="909.9")[0]["text"]


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
