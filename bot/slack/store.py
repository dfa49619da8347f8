"""Durable Slack state: answers given, votes, the questions of each thread, events already handled (bot/slack/sql.py
holds it in SQLite, or in PostgreSQL shared by every replica).

Every method is synchronous and short; the async handlers call them through `asyncio.to_thread`, so a slow
disk never blocks the event loop. Questions, answers and votes older than the retention are deleted.
"""

from __future__ import annotations

import json
import time
from enum import Enum
from typing import TYPE_CHECKING, Any

from bot.statedb import Sql, SqliteSql, shared_database

if TYPE_CHECKING:
    from bot.config import Settings

_TABLES = (
    ("CREATE TABLE IF NOT EXISTS answers (answer_id TEXT PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL, "
    "found INTEGER NOT NULL, citations TEXT NOT NULL, blocks TEXT NOT NULL, user_id TEXT, channel_id TEXT, "
    "created_at REAL NOT NULL)"),
    ("CREATE TABLE IF NOT EXISTS feedback (answer_id TEXT NOT NULL REFERENCES answers(answer_id), "
    "user_id TEXT NOT NULL, channel_id TEXT, vote TEXT NOT NULL CHECK (vote IN ('up', 'down')), "
    "created_at REAL NOT NULL, PRIMARY KEY (answer_id, user_id))"),
    "CREATE TABLE IF NOT EXISTS seen_events (event_id TEXT PRIMARY KEY, seen_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS turns (thread TEXT NOT NULL, question TEXT NOT NULL, created_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS turns_thread ON turns (thread, created_at)",
)
_EVENT_TTL_S = 3600.0


class Vote(Enum):
    """What storing a vote did."""

    COUNTED = "counted"
    ALREADY = "already"  # this person already voted on this answer
    UNKNOWN = "unknown"  # no such answer (expired by the retention, or forged)


class SlackStore:
    """Answers, votes, threads and events seen, in SQLite or in the PostgreSQL that replicas share."""

    def __init__(self, sql: Sql, retention_days: float) -> None:
        self.sql = sql
        self.retention_s = retention_days * 86400
        sql.create(_TABLES)
        self._purged = 0.0
        self.purge()

    def purge(self) -> None:
        """Delete what is older than the retention (questions and user ids are personal data)."""
        cutoff = time.time() - self.retention_s
        run = self.sql.run
        run("DELETE FROM feedback WHERE answer_id IN (SELECT answer_id FROM answers WHERE created_at < ?)", (cutoff,))
        run("DELETE FROM feedback WHERE created_at < ?", (cutoff,))
        run("DELETE FROM answers WHERE created_at < ?", (cutoff,))
        run("DELETE FROM turns WHERE created_at < ?", (cutoff,))
        self._purged = time.time()

    def first_time(self, *keys: str) -> bool:
        """True when none of these keys (event id, channel:ts) was seen before, across retries, workers and
        replicas: the key's primary key decides, so two servers given the same event answer it once."""
        now = time.time()
        self.sql.run("DELETE FROM seen_events WHERE seen_at < ?", (now - _EVENT_TTL_S,))
        keys = tuple(dict.fromkeys(keys))  # one statement for all keys: with one statement per key, two
        # deliveries racing could each take one key and neither answer
        rows = ", ".join("(?, ?)" for _ in keys)
        _, added = self.sql.run(f"INSERT INTO seen_events VALUES {rows} ON CONFLICT DO NOTHING",
                                [v for k in keys for v in (k, now)])
        return added == len(keys)

    def record_answer(self, answer_id: str, question: str, answer: str, found: bool,
                      citations: list[dict[str, Any]], blocks: list[dict[str, Any]], user_id: str | None,
                      channel_id: str | None, thread: str | None = None) -> None:
        """Keep what was answered (and the public blocks), so votes, sharing and follow-ups can refer to it."""
        now = time.time()
        self.sql.run("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (answer_id, question, answer, int(found), json.dumps(citations, ensure_ascii=False),
                      json.dumps(blocks, ensure_ascii=False), user_id, channel_id, now))
        if thread:
            self.sql.run("INSERT INTO turns VALUES (?, ?, ?)", (thread, question, now))
        if now - self._purged > 3600:
            self.purge()

    def earlier_questions(self, thread: str, since_s: float | None = None, most: int = 2) -> list[str]:
        """The last questions asked in a thread (oldest first), optionally only the recent ones."""
        cutoff = time.time() - since_s if since_s is not None else 0.0
        rows, _ = self.sql.run("SELECT question FROM turns WHERE thread = ? AND created_at >= ? "
                               "ORDER BY created_at DESC LIMIT ?", (thread, cutoff, most))
        return [r[0] for r in reversed(rows)]

    def answer(self, answer_id: str) -> dict[str, Any] | None:
        """A recorded answer, or None."""
        rows, _ = self.sql.run("SELECT question, answer, found, citations, blocks, user_id, channel_id "
                               "FROM answers WHERE answer_id = ?", (answer_id,))
        if not rows:
            return None
        row = rows[0]
        return {"question": row[0], "answer": row[1], "found": bool(row[2]), "citations": json.loads(row[3]),
                "blocks": json.loads(row[4]), "user_id": row[5], "channel_id": row[6]}

    def vote(self, answer_id: str, user_id: str, channel_id: str | None, vote: str) -> Vote:
        """Store a vote, at most one per person per answer."""
        if not self.sql.run("SELECT 1 FROM answers WHERE answer_id = ?", (answer_id,))[0]:
            return Vote.UNKNOWN
        _, added = self.sql.run("INSERT INTO feedback VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                (answer_id, user_id, channel_id, vote, time.time()))
        return Vote.COUNTED if added == 1 else Vote.ALREADY

    def tally(self, answer_id: str) -> tuple[int, int]:
        """(👍, 👎) counts for one answer, as stored now."""
        rows, _ = self.sql.run("SELECT vote, COUNT(*) FROM feedback WHERE answer_id = ? GROUP BY vote", (answer_id,))
        counts = {r[0]: int(r[1]) for r in rows}
        return counts.get("up", 0), counts.get("down", 0)

    def close(self) -> None:
        """Release the file or the pool."""
        self.sql.close()


def open_store(settings: Settings, shared: Sql | None = None) -> SlackStore:
    """The store this deployment uses: the shared database when one is configured, else SQLite under the data dir."""
    shared = shared or shared_database(settings)
    return SlackStore(shared or SqliteSql(settings.data_dir / "sourcier.db"), settings.slack_retention_days)
