"""Block Kit formatting: compact answers, Slack's limits respected, hostile text escaped everywhere."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from bot.answer import Answer, Citation
from bot.slack.answerer import question_of
from bot.slack.blocks import MAX_BLOCKS, MAX_TEXT, answer_blocks, escape, fallback_text, with_tally
from bot.slack.store import SlackStore, Vote
from bot.statedb import SqliteSql

HOSTILE = "Alerte <!channel> <!here> <@U123> & <https://evil.example|la page officielle>"


def citation(n: int, text: str, sentence: tuple[int, int] | None = None, cited: bool = True,
             title: str = "Titre", source_id: str = "s") -> Citation:
    a, b = sentence or (0, len(text))
    return Citation(n=n, source_id=source_id, title=title, text=text, start=0, end=len(text), score=1.0,
                    sentence_start=a, sentence_end=b, cited=cited, section=f"{title} › Partie")


def _texts(blocks: list[dict]) -> list[str]:
    out = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        out += [e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return out


def test_slack_blocks_escape_control_sequences_in_answer_excerpt_title_and_top_level_text() -> None:
    assert escape(HOSTILE) == ("Alerte &lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &amp; "
                               "&lt;https://evil.example|la page officielle&gt;")
    answer = Answer("q", f"{HOSTILE} [1]", True, [citation(1, HOSTILE, title=f"Titre {HOSTILE}")], "fr", 0.5)
    for expanded in (False, True):
        rendered = str(answer_blocks(answer, "id", {}, expanded=expanded))
        assert "<!channel>" not in rendered and "<@U123>" not in rendered and "<https://evil" not in rendered
        assert "&lt;!here&gt;" in rendered
    assert fallback_text(answer).startswith("Alerte &lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &amp;")
    around = f"{HOSTILE} La phrase citée. {HOSTILE}"  # hostile text before and after the cited sentence
    a = around.index("La phrase")
    expanded = str(answer_blocks(Answer("q", "La phrase citée. [1]", True, [citation(1, around, (a, a + 16))], "fr",
                                        0.5), "id", {}, expanded=True))
    assert "<!channel>" not in expanded and "<@U123>" not in expanded and expanded.count("&lt;!here&gt;") == 2


def test_slack_blocks_every_text_is_verbatim_so_nothing_is_auto_linked() -> None:
    answer = Answer("q", "Voir https://exemple.fr et #général. [1]", True, [citation(1, "Voir https://exemple.fr.")],
                    "fr", 0.5)
    for expanded in (False, True):
        for block in answer_blocks(answer, "id", {}, expanded=expanded, context=["avant ?"]):
            objects = [block["text"]] if isinstance(block.get("text"), dict) else [
                e for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
            assert all(o["verbatim"] is True for o in objects if o["type"] == "mrkdwn")


def test_slack_blocks_titles_and_ids_cannot_break_formatting() -> None:
    answer = Answer("q", "Phrase. [1]", True, [citation(1, "Phrase.", title="*gras* `code` ~barré~ _it_",
                                                        source_id="a*b`c")], "fr", 0.5)
    line = answer_blocks(answer, "id", {})[1]["elements"][0]["text"]
    assert "*" not in line and "`" not in line and "~" not in line and "_" not in line


def test_slack_blocks_compact_answer_lists_at_most_three_sources_one_line_each() -> None:
    citations = [citation(n, f"Phrase {n}. " * 50, (0, 10), cited=True) for n in range(1, 6)]
    answer = Answer("q", "Phrase 1. [1]", True, citations, "fr", 0.5)
    blocks = answer_blocks(answer, "id", {1: "https://sourcier/#c1"})
    sources = blocks[1]["elements"][0]["text"].split("\n")
    assert sources == ["[1] <https://sourcier/#c1|Titre › Partie>", "[2] Titre › Partie", "[3] Titre › Partie"]
    buttons = [e["action_id"] for e in blocks[-1]["elements"]]
    assert buttons == ["feedback_up", "feedback_down", "more_sources"]
    expanded = answer_blocks(answer, "id", {}, expanded=True)
    assert [b["block_id"] for b in expanded if b.get("block_id", "").startswith("cite-")] == \
        ["cite-1", "cite-2", "cite-3", "cite-4", "cite-5"]
    assert "more_sources" not in str(expanded[-1])


def test_slack_blocks_link_the_original_with_its_page() -> None:
    c = citation(1, "Phrase.")
    cited = Citation(**{**c.__dict__, "page": 2, "source_url": "https://intranet/guide.pdf#page=2"})
    line = answer_blocks(Answer("q", "Phrase. [1]", True, [cited], "fr", 0.5), "id", {})[1]["elements"][0]["text"]
    assert line == "[1] <https://intranet/guide.pdf#page=2|Titre › Partie, p. 2>"


def test_slack_blocks_stay_within_limits() -> None:
    long_text = "mot " * 2000
    citations = [citation(n, long_text, (100, 5000)) for n in range(1, 80)]
    answer = Answer("q", ("Une phrase. " * 400) + "[1]", True, citations, "fr", 0.5)
    for expanded in (False, True):
        blocks = with_tally(answer_blocks(answer, "id", {n: "https://x/#c" for n in range(1, 80)},
                                          shareable=True, expanded=expanded), 1, 0)
        assert len(blocks) <= MAX_BLOCKS
        assert all(len(t) <= MAX_TEXT for t in _texts(blocks))


def test_slack_blocks_bold_the_cited_sentence_when_expanded() -> None:
    text = "Avant. La phrase citée. Après."
    blocks = answer_blocks(Answer("q", "La phrase citée. [1]", True, [citation(1, text, (7, 23))], "fr", 0.5),
                           "id", {}, expanded=True)
    assert "Avant. *La phrase citée.* Après." in blocks[1]["elements"][0]["text"]


def test_slack_blocks_tally_is_one_block_whatever_the_votes() -> None:
    blocks = answer_blocks(Answer("q", "Phrase. [1]", True, [citation(1, "Phrase.")], "fr", 0.5), "id", {})
    twice = with_tally(with_tally(blocks, 1, 0), 2, 1)
    assert [b.get("block_id") for b in twice].count("tally") == 1
    assert twice[-1]["elements"][0]["text"] == "👍 2 · 👎 1"


def test_slack_question_of_removes_only_our_mention() -> None:
    text = "<@UBOT> que pense <@U42> de <#C1|général> et <https://ex.fr|ce lien> ?"
    assert question_of(text, "UBOT") == "que pense @U42 de #général et ce lien ?"
    assert question_of("<@UBOT|sourcier> Qui ?", "UBOT") == "Qui ?"


def test_slack_store_forgets_questions_and_votes_after_the_retention(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    store = SlackStore(SqliteSql(tmp_path / "s.db"), retention_days=30)
    store.record_answer("old", "Vieille question ?", "r", True, [], [], "U1", "C1", "C1:1.1")
    store.vote("old", "U2", "C1", "up")
    later = time.time() + 31 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    store.record_answer("new", "Nouvelle ?", "r", True, [], [], "U1", "C1", "C1:1.1")
    store.purge()
    assert store.answer("old") is None and store.answer("new") is not None
    assert store.earlier_questions("C1:1.1") == ["Nouvelle ?"]
    assert store.vote("old", "U3", "C1", "up") is Vote.UNKNOWN
    rows = sqlite3.connect(tmp_path / "s.db").execute("SELECT COUNT(*) FROM feedback").fetchone()
    assert rows == (0,)


def test_slack_manifest_matches_the_app_and_asks_only_the_scopes_it_uses() -> None:
    import yaml

    from bot.slack.app import SHORTCUT

    manifest = yaml.safe_load((Path(__file__).parent.parent / "bot" / "slack" / "manifest.yml").read_text())
    assert [s["callback_id"] for s in manifest["features"]["shortcuts"]] == [SHORTCUT]
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/sourcier"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention", "message.im", "app_home_opened", "member_joined_channel", "member_left_channel"}
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == [  # channels/groups:read: conversations.members
        "app_mentions:read", "channels:read", "chat:write", "commands", "groups:read", "im:history",
        "reactions:write", "users:read"]  # users:read: users.info (guests, other workspaces)
