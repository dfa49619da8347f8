"""Slack answers only from what the asker may read: channel audiences by membership (conversations.members,
cached, refreshed by member events), guests and Slack Connect users on public sources; signed Slack requests
to a live server, and the recording Slack fake."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.citelinks import LinkSigner
from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from ingest.embed import Embedder
from tests.access_corpus import RH_QUESTION, write_access, write_corpus
from tests.conftest import LiveServer
from tests.fake_slack import FakeSlack, error, member
from tests.test_slack import SECRET, click, event, form

RH_TEXT = "4 200 euros"
FILLER = [f"UF{i:04d}" for i in range(450)]  # three pages of 200: the member is on the last one


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture()
def fake(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.reset()
    fake_slack.members.update({"C0RH": [*FILLER, "UMEMBER", "UGUEST", "UULTRA", "UEXT"], "C1": ["UMEMBER"]})
    fake_slack.users.update({"UGUEST": member("UGUEST", is_restricted=True),
                             "UULTRA": member("UULTRA", is_restricted=True, is_ultra_restricted=True),
                             "UEXT": member("UEXT", team="T2")})
    return fake_slack


def _server(root: Path, embedder: Embedder, fake: FakeSlack, ttl: float, **extra: Any) -> LiveServer:
    settings = Settings(index_dir=root / "index", sources_dir=write_corpus(root), access_file=write_access(root),
                        data_dir=root / "var", rate_limit_per_minute=0, slack_bot_token=SecretStr("xoxb-test"),
                        slack_signing_secret=SecretStr(SECRET), slack_api_url=fake.api_url,
                        public_url="https://sourcier.example.org", slack_rate_limit_per_minute=0,
                        slack_members_ttl_seconds=ttl, **extra)
    engine = Engine(settings, embedder)
    engine.ingest()
    server = LiveServer(create_app(settings, engine))
    server.data_dir = settings.data_dir  # type: ignore[attr-defined]
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, fake_slack: FakeSlack) -> Iterator[LiveServer]:
    with _server(tmp_path_factory.mktemp("slackaccess"), embedder, fake_slack, ttl=300) as live:
        yield live


def _answer(fake: FakeSlack, channel: str, count: int) -> dict[str, Any]:
    """The count-th message posted in a channel (bounded wait)."""
    deadline = time.monotonic() + 30
    while len(found := [b for b in fake.named("chat.postMessage") if b.get("channel") == channel]) < count:
        assert time.monotonic() < deadline, fake.methods()
        time.sleep(0.02)
    return found[count - 1]


def dm(server: LiveServer, fake: FakeSlack, user: str, text: str = RH_QUESTION, **extra: Any) -> str:
    """A direct message from `user`; the reply's text and blocks as one string."""
    channel = f"D{user}"
    before = len([b for b in fake.named("chat.postMessage") if b.get("channel") == channel])
    ts = f"{time.time():.6f}"
    event(server, {"type": "message", "channel_type": "im", "channel": channel, "user": user, "text": text,
                   "ts": ts, "event_ts": ts, **extra})
    return json.dumps(_answer(fake, channel, before + 1), ensure_ascii=False)


def test_slack_access_member_reads_the_channel_sources_in_a_dm_and_no_one_else(server: LiveServer,
                                                                              fake: FakeSlack) -> None:
    assert RH_TEXT in dm(server, fake, "UMEMBER")
    pages = fake.named("conversations.members")
    assert len(pages) == 3 and pages[1]["cursor"] and all(p["channel"] == "C0RH" for p in pages)
    for outsider, extra in (("UOTHER", {}), ("UGUEST", {}), ("UULTRA", {}), ("UEXT", {}),
                            ("UMEMBER", {"user_team": "T2"})):  # a Slack Connect event: another workspace
        reply = dm(server, fake, outsider, **extra)
        assert RH_TEXT not in reply and "rh/salaires" not in reply and "Salaires" not in reply, outsider


def test_slack_access_mention_answers_from_what_the_whole_channel_may_read(server: LiveServer,
                                                                          fake: FakeSlack) -> None:
    for channel, ts, readable in (("C1", "51.1", False), ("C0RH", "51.2", True)):
        event(server, {"type": "app_mention", "user": "UMEMBER", "text": f"<@UBOT> {RH_QUESTION}", "ts": ts,
                       "channel": channel, "event_ts": ts})
        assert (RH_TEXT in json.dumps(_answer(fake, channel, 1), ensure_ascii=False)) is readable, channel


def test_slack_access_member_left_channel_takes_effect_at_once(server: LiveServer, fake: FakeSlack) -> None:
    assert RH_TEXT in dm(server, fake, "UMEMBER")
    fake.members["C0RH"].remove("UMEMBER")
    calls = len(fake.named("conversations.members"))
    assert RH_TEXT in dm(server, fake, "UMEMBER")  # within the TTL the list is trusted: no new call
    assert len(fake.named("conversations.members")) == calls
    event(server, {"type": "member_left_channel", "user": "UMEMBER", "channel": "C0RH", "channel_type": "G",
                   "team": "T1", "event_ts": "60.1"})
    assert RH_TEXT not in dm(server, fake, "UMEMBER")
    fake.members["C0RH"].append("UMEMBER")
    event(server, {"type": "member_joined_channel", "user": "UMEMBER", "channel": "C0RH", "channel_type": "G",
                   "team": "T1", "event_ts": "60.2"})
    assert RH_TEXT in dm(server, fake, "UMEMBER")


def test_slack_access_membership_changes_apply_within_the_ttl(tmp_path: Path, embedder: Embedder,
                                                              fake: FakeSlack) -> None:
    with _server(tmp_path, embedder, fake, ttl=1) as live:
        assert RH_TEXT in dm(live, fake, "UMEMBER")
        fake.members["C0RH"].remove("UMEMBER")  # no event: Slack may not send one to every app
        deadline = time.monotonic() + 20
        while RH_TEXT in dm(live, fake, "UMEMBER"):
            assert time.monotonic() < deadline, "the removal never took effect"


def test_slack_access_when_slack_will_not_say_the_answer_is_public_only(server: LiveServer, fake: FakeSlack) -> None:
    fake.members["C0RH"].append("UNEW")
    fake.missing_users.add("UNEW")  # users.info: user_not_found
    assert RH_TEXT not in dm(server, fake, "UNEW")
    forget_members(server)
    fake.members.pop("C0RH")  # channel_not_found (archived, or the bot was removed)
    assert RH_TEXT not in dm(server, fake, "UMEMBER")
    fake.members["C0RH"] = ["UMEMBER"]
    fake.script("conversations.members", error("not_in_channel"))
    assert RH_TEXT not in dm(server, fake, "UMEMBER")
    assert RH_TEXT in dm(server, fake, "UMEMBER")  # a failure is not cached


def forget_members(server: LiveServer) -> None:
    """Drop the cached member list of C0RH, as Slack's member event does."""
    event(server, {"type": "member_joined_channel", "user": "UX", "channel": "C0RH", "team": "T1",
                   "event_ts": f"{time.time():.6f}"})


def test_slack_access_slash_command_and_app_home_follow_the_same_rule(server: LiveServer, fake: FakeSlack) -> None:
    for n, (user, readable) in enumerate((("UMEMBER", True), ("UGUEST", False)), 1):
        form(server, {"token": "x", "team_id": "T1", "channel_id": "C9", "user_id": user, "command": "/sourcier",
                      "text": RH_QUESTION, "response_url": f"{fake.url}/response/7{n}", "trigger_id": "t"})
        assert (RH_TEXT in str(fake.wait_for(f"response/7{n}")[0])) is readable, user
        event(server, {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home",
                       "event_ts": f"70.{n}"})
        view = json.dumps(fake.wait_for("views.publish", n)[n - 1]["view"], ensure_ascii=False)
        assert ("<#C0RH>" in view) is readable and ("Salaires" in view) is readable and "Vos accès" in view


def test_slack_access_citation_links_are_signed_for_their_passage(server: LiveServer, fake: FakeSlack) -> None:
    reply = dm(server, fake, "UMEMBER")
    token = re.search(r"#cite=(s1\.[\w.-]+)", reply)
    assert token is not None
    passage = LinkSigner(server.data_dir, 3).check(token.group(1))  # type: ignore[attr-defined]
    assert passage.source_id == "rh/salaires"


def test_slack_access_a_private_answer_from_channel_sources_is_not_shared_where_others_would_read_it(
        server: LiveServer, fake: FakeSlack) -> None:
    for n, channel in ((81, "C9"), (82, "C0RH")):
        form(server, {"token": "x", "team_id": "T1", "channel_id": channel, "user_id": "UMEMBER",
                      "command": "/sourcier", "text": RH_QUESTION, "response_url": f"{fake.url}/response/{n}",
                      "trigger_id": "t"})
        private = fake.wait_for(f"response/{n}")[0]
        assert RH_TEXT in str(private)
        click(server, fake, "share_answer", {**private, "channel": channel}, "UMEMBER", ephemeral=True, n=n)
    refused = fake.wait_for("response/81", 2)[1]
    assert refused["response_type"] == "ephemeral" and "je ne la partage pas ici" in refused["text"]
    shared = fake.wait_for("response/82", 2)[1]
    assert shared["response_type"] == "in_channel" and RH_TEXT in str(shared)


def test_slack_access_a_channel_mapped_to_sources_the_asker_may_not_read_says_so(
        tmp_path: Path, embedder: Embedder, fake: FakeSlack) -> None:
    with _server(tmp_path, embedder, fake, ttl=300, slack_channel_sources={"C0RH": ["rh/"]}) as live:
        for user, ts in (("UOTHER", "90.1"), ("UMEMBER", "90.2")):
            event(live, {"type": "app_mention", "user": user, "text": f"<@UBOT> {RH_QUESTION}", "ts": ts,
                         "channel": "C0RH", "event_ts": ts})
        texts = [_answer(fake, "C0RH", n)["text"] for n in (1, 2)]
    assert "ne vous sont pas ouvertes" in texts[0] and RH_TEXT in texts[1]
