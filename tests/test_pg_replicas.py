"""Two `sourcier serve` processes on one PostgreSQL: one Slack event answered once, shared votes, one flip."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.config import Settings
from bot.engine import Engine
from tests.conftest import ROOT
from tests.fake_slack import BOT_USER, FakeSlack
from tests.test_pg_serve import _env, _published, _serve

SECRET = "replica-signing-secret"
ADMIN = "replica-admin-token"


@pytest.fixture()
def fake() -> Iterator[FakeSlack]:
    slack = FakeSlack()
    yield slack
    slack.close()


def _signed(base: str, body: bytes, content_type: str) -> httpx.Response:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return httpx.post(base + "/slack/events", content=body, timeout=30, headers={
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": content_type})


def _mention(base: str, text: str, ts: str, event_id: str) -> httpx.Response:
    body = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": event_id,
            "event_time": int(time.time()), "event": {"type": "app_mention", "user": "U1", "channel": "C1",
                                                      "text": f"<@{BOT_USER}> {text}", "ts": ts, "event_ts": ts}}
    return _signed(base, json.dumps(body).encode(), "application/json")


def _click(base: str, fake: FakeSlack, action: str, answer_id: str, user: str, n: int) -> None:
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": user}, "api_app_id": "A1",
               "channel": {"id": "C1"}, "trigger_id": "t",
               "container": {"type": "message", "message_ts": "999.9", "is_ephemeral": False},
               "message": {"ts": "999.9", "text": "x", "blocks": []}, "response_url": f"{fake.url}/response/{n}",
               "actions": [{"action_id": action, "block_id": "feedback", "value": answer_id, "type": "button",
                            "action_ts": "1"}]}
    assert _signed(base, urlencode({"payload": json.dumps(payload)}).encode(),
                   "application/x-www-form-urlencoded").status_code == 200


def _replica(tmp_path: Path, url: str, fake: FakeSlack, name: str) -> dict[str, str]:
    return {**_env(tmp_path / name, url), "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
            "SOURCIER_SLACK_API_URL": fake.api_url, "SOURCIER_SLACK_RATE_LIMIT_PER_MINUTE": "0",
            "SOURCIER_DATABASE_POLL_SECONDS": "0.2", "SOURCIER_RATE_LIMIT_PER_MINUTE": "0",
            "SOURCIER_ADMIN_TOKEN": ADMIN}


def _version(base: str) -> str:
    return str(httpx.get(base + "/readyz", timeout=30).json().get("index_version"))


def _until(condition: Any, message: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def test_pg_two_replicas_share_slack_state_and_versions(engine: Engine, pg_url: str, tmp_path: Path,
                                                        fake: FakeSlack, corpus: Path) -> None:
    _published(engine, pg_url)
    first = engine.snapshot.version
    with contextlib.ExitStack() as stack:
        a = next(stack.enter_context(contextlib.closing(_serve(_replica(tmp_path, pg_url, fake, "a")))))
        b = next(stack.enter_context(contextlib.closing(_serve(_replica(tmp_path, pg_url, fake, "b")))))
        # one event, delivered to both replicas (a load balancer retrying elsewhere): answered once
        assert _mention(a, "Qui dirige OpenAI par intérim ?", "501.1", "EvTwice").status_code == 200
        assert _mention(b, "Qui dirige OpenAI par intérim ?", "501.1", "EvTwice").status_code == 200
        for base, ts in ((a, "502.1"), (b, "502.2")):  # a later event through each: the first is surely handled
            _mention(base, "Qui a fondé Twitch.tv ?", ts, f"EvAfter{ts}")
            _until(lambda ts=ts: any(m.get("thread_ts") == ts for m in fake.named("chat.postMessage")),
                   f"no answer to {ts}")
        answers = [m for m in fake.named("chat.postMessage") if m.get("thread_ts") == "501.1"]
        assert len(answers) == 1 and "Mira Murati" in answers[0]["text"]
        # a vote through one replica is seen by the other
        answer_id = next(e["value"] for blk in answers[0]["blocks"] if blk["type"] == "actions"
                         for e in blk["elements"])
        _click(a, fake, "feedback_up", answer_id, "U7", 1)
        fake.wait_for("response/1", 2)
        _click(b, fake, "feedback_down", answer_id, "U7", 2)
        assert "déjà donné votre avis" in fake.wait_for("response/2")[0]["text"]
        _click(b, fake, "feedback_down", answer_id, "U8", 3)
        fake.wait_for("response/3", 2)
        tallies = [blk["elements"][0]["text"] for r in fake.named("response/3") if r.get("replace_original")
                   for blk in r.get("blocks", []) if blk.get("block_id") == "tally"]
        assert tallies == ["👍 1 · 👎 1"]
        # a version published once is served by both; a rollback through the CLI too
        other = Engine(Settings(index_dir=tmp_path / "other", sources_dir=corpus), embedder=engine.embedder)
        other.ingest()
        second = _published(other, pg_url).snapshot.version
        _until(lambda: _version(a) == second and _version(b) == second, "a replica still serves the old version")
        rolled = subprocess.run([sys.executable, "-m", "bot.cli", "rollback", first], check=False, cwd=ROOT,
                                env=_env(tmp_path / "cli", pg_url), capture_output=True, text=True, timeout=120)
        assert rolled.returncode == 0, rolled.stderr
        _until(lambda: _version(a) == first and _version(b) == first, "a replica missed the rollback")
        # a re-index job started on one replica is seen, and blocks another, on the other
        admin = {"Authorization": f"Bearer {ADMIN}"}
        started = httpx.post(a + "/v1/admin/reindex", headers=admin, timeout=30)
        assert started.status_code == 202
        job = started.json()["job_id"]
        assert httpx.get(f"{b}/v1/admin/reindex/{job}", headers=admin, timeout=30).json()["status"] in (
            "queued", "running")
        refused = httpx.post(b + "/v1/admin/reindex", headers=admin, timeout=30)
        assert refused.status_code == 409 and "another server sharing this database" in refused.json()["detail"]

        def status() -> dict[str, Any]:
            return dict(httpx.get(f"{b}/v1/admin/reindex/{job}", headers=admin, timeout=30).json())
        _until(lambda: status()["status"] not in ("queued", "running"), "the re-index job never finished", 300)
        done = status()
        assert done["status"] == "done", done
        _until(lambda: _version(a) == _version(b) == done["report"]["version"], "a replica missed the re-index")
