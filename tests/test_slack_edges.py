"""Hostile or odd Slack requests on a live server: headers that are not ASCII, signed payloads of the wrong shape,
questions over the length limit. Helpers and fixtures come from tests/test_slack.py."""
# ruff: noqa: F811  (pytest fixtures imported from tests/test_slack.py are redefined as test parameters)

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from bot.slack.handlers import SORRY
from tests.conftest import LiveServer
from tests.fake_slack import FakeSlack
from tests.test_slack import (  # noqa: F401  (fixtures)
    event,
    fake,
    fake_slack,
    mention,
    signed_post,
    slack_server,
    slack_settings,
    slash,
)

FORM = "application/x-www-form-urlencoded"


def test_slack_non_ascii_signature_headers_get_401_and_count_for_the_limit(
        seed_settings: Settings, engine: Engine, fake: FakeSlack, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    now = str(int(time.time())).encode()
    odd = [{"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=é€".encode()},  # UTF-8 bytes, read as Latin-1
           {"X-Slack-Request-Timestamp": b"\xb2", "X-Slack-Signature": b"v0=00"},  # "²": isdigit() but not int()
           {"X-Slack-Request-Timestamp": "١٧".encode(), "X-Slack-Signature": b"v0=\xff"}]
    with caplog.at_level(logging.WARNING), LiveServer(create_app(slack_settings(seed_settings, fake, tmp_path),
                                                                 engine)) as server:
        codes = [httpx.post(server.url + "/slack/events", content=b"{}", timeout=10,
                            headers={"Content-Type": "application/json", **odd[i % 3]}).status_code for i in range(12)]
    assert codes[:10] == [401] * 10 and codes[-1] == 429  # counted like any other bad signature
    assert not [r for r in caplog.records if r.exc_info]


def _payload(data: dict[str, Any]) -> tuple[bytes, str]:
    return urlencode({"payload": json.dumps(data)}).encode(), FORM


def _callback(inner: Any) -> tuple[bytes, str]:
    return json.dumps({"type": "event_callback", "event_id": f"Ev{time.time_ns()}", "event": inner}).encode(), \
        "application/json"


WRONG_SHAPES = [
    (*_callback("x"), "`event`"), (*_callback([]), "`event`"),
    (*_callback({"type": 3}), "`event.type`"),
    (*_callback({"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1.1", "text": 7}), "`event.text`"),
    (*_callback({"type": "message", "channel_type": "im", "channel": {}, "user": "U1", "ts": "1.2"}), "`event.channel`"),
    (*_callback({"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1.3", "text": "a", "files": "x"}),
     "`event.files`"),
    (*_payload({"type": "block_actions", "user": {"id": "U1"}, "actions": "x"}), "`actions`"),
    (*_payload({"type": "block_actions", "user": {"id": "U1"}, "actions": ["x"]}), "`actions`"),
    (*_payload({"type": "block_actions", "user": "U1", "actions": [{"action_id": "feedback_up", "value": "x"}]}),
     "`user`"),
    (*_payload({"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "more_sources", "value": 5}]}),
     "`actions[].value`"),
    (*_payload({"type": "view_submission", "view": "x"}), "`view`"),
    (*_payload({"type": "message_action", "callback_id": "ask_sourcier", "message": {"text": ["a"]}}),
     "`message.text`"),
    (*_payload({"type": "message_action", "callback_id": "ask_sourcier", "channel": {"id": 5}}), "`channel.id`"),
    (*_payload({"type": "view_submission", "view": {"callback_id": 5}}), "`view.callback_id`"),
    (*_payload({"type": "block_suggestion", "action_id": 5}), "`action_id`"),
]


@pytest.mark.parametrize(("body", "content_type", "field"), WRONG_SHAPES, ids=[f"{i}-{c[2].strip('`')}" for i, c in
                                                                             enumerate(WRONG_SHAPES)])
def test_slack_signed_payloads_of_the_wrong_shape_get_a_clear_400(
        slack_server: LiveServer, fake: FakeSlack, body: bytes, content_type: str, field: str,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        r = signed_post(slack_server, body, content_type)
    assert r.status_code == 400 and r.json()["detail"].startswith("malformed Slack request: ")
    assert field in r.json()["detail"]
    assert not [rec for rec in caplog.records if rec.exc_info]


def test_slack_real_payload_shapes_still_pass_the_shape_check(slack_server: LiveServer, fake: FakeSlack) -> None:
    other = {"type": "user_change", "user": {"id": "U1", "name": "x"}}  # events we do not handle keep their shapes
    assert signed_post(slack_server, *_callback(other)).status_code in (200, 404)
    r, _ = event(slack_server, mention("Qui a fondé Twitch.tv ?", "3001.1", files=[{"id": "F1"}], blocks=[{}]))
    assert r.status_code == 200 and "Emmett Shear" in fake.wait_for("chat.postMessage")[0]["text"]


def test_slack_question_over_the_limit_gets_the_limit_message(slack_server: LiveServer, fake: FakeSlack) -> None:
    long = "Qui dirige OpenAI par intérim ? " * 40  # 1,280 characters; the limit is 1,000
    event(slack_server, mention(long, "3002.1"))
    text = fake.wait_for("chat.postMessage")[0]["text"]
    assert "trop longue" in text and "1000 au plus" in text and text != SORRY
    slash(slack_server, fake, long, 3003)
    assert "trop longue" in fake.wait_for("response/3003")[0]["text"]


def test_slack_follow_up_too_long_with_its_thread_is_read_alone(slack_server: LiveServer, fake: FakeSlack) -> None:
    earlier = "Qui dirige OpenAI par intérim, et depuis quand, après le départ de Sam Altman ? " * 7  # 574 chars
    event(slack_server, mention(earlier, "3004.1"))
    event(slack_server, mention(earlier, "3004.2", thread_ts="3004.1"))
    fake.wait_for("chat.postMessage", 2)
    event(slack_server, mention("Et chez Microsoft ?", "3004.3", thread_ts="3004.1"))
    follow = fake.wait_for("chat.postMessage", 3)[2]
    assert follow["thread_ts"] == "3004.1" and follow["text"] != SORRY
