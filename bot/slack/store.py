"""Durable Slack state in SQLite: answers given, votes, the questions of each thread, events already handled.

Every method is synchronous and short; the async handlers call them through `asyncio.to_thread`, so a slow
disk never blocks the event loop. Questions, answers and votes older than the retention are deleted.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from enum import Enum
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL, found INTEGER NOT NULL,
    citations TEXT NOT NULL, blocks TEXT NOT NULL, user_id TEXT, channel_id TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT NOT NULL REFERENCES answers(answer_id), user_id TEXT NOT NULL, channel_id TEXT,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')), created_at REAL NOT NULL,
    PRIMARY KEY (answer_id, user_id));
CREATE TABLE IF NOT EXISTS seen_events (event_id TEXT PRIMARY KEY, seen_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS turns (thread TEXT NOT NULL, question TEXT NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS turns_thread ON turns (thread, created_at);
"""
_EVENT_TTL_S = 3600.0


class Vote(Enum):
    """What storing a vote did."""

    COUNTED = "counted"
    ALREADY = "already"  # this person already voted on this answer
    UNKNOWN = "unknown"  # no such answer (expired by the retention, or forged)


class SlackStore:
    """One SQLite file under the data dir; safe across threads and worker processes (WAL, short writes)."""

    def __init__(self, path: Path, retention_days: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.retention_s = retention_days * 86400
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._purged = 0.0
        self.purge()

    def purge(self) -> None:
        """Delete what is older than the retention (questions and user ids are personal data)."""
        cutoff = time.time() - self.retention_s
        with self._lock:
            self._db.execute("DELETE FROM feedback WHERE answer_id IN "
                             "(SELECT answer_id FROM answers WHERE created_at < ?)", (cutoff,))
            self._db.execute("DELETE FROM feedback WHERE created_at < ?", (cutoff,))
            self._db.execute("DELETE FROM answers WHERE created_at < ?", (cutoff,))
            self._db.execute("DELETE FROM turns WHERE created_at < ?", (cutoff,))
            self._purged = time.time()

    def first_time(self, *keys: str) -> bool:
        """True when none of these keys (event id, channel:ts) was seen before, across retries and workers."""
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM seen_events WHERE seen_at < ?", (now - _EVENT_TTL_S,))
            new = [self._db.execute("INSERT OR IGNORE INTO seen_events VALUES (?, ?)", (k, now)).rowcount == 1
                   for k in keys]
        return all(new)

    def record_answer(self, answer_id: str, question: str, answer: str, found: bool,
                      citations: list[dict[str, Any]], blocks: list[dict[str, Any]], user_id: str | None,
                      channel_id: str | None, thread: str | None = None) -> None:
        """Keep what was answered (and the public blocks), so votes, sharing and follow-ups can refer to it."""
        now = time.time()
        with self._lock:
            self._db.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (answer_id, question, answer, int(found), json.dumps(citations, ensure_ascii=False),
                              json.dumps(blocks, ensure_ascii=False), user_id, channel_id, now))
            if thread:
                self._db.execute("INSERT INTO turns VALUES (?, ?, ?)", (thread, question, now))
        if now - self._purged > 3600:
            self.purge()

    def earlier_questions(self, thread: str, since_s: float | None = None, most: int = 2) -> list[str]:
        """The last questions asked in a thread (oldest first), optionally only the recent ones."""
        cutoff = time.time() - since_s if since_s is not None else 0.0
        with self._lock:
            rows = self._db.execute("SELECT question FROM turns WHERE thread = ? AND created_at >= ? "
                                    "ORDER BY created_at DESC LIMIT ?", (thread, cutoff, most)).fetchall()
        return [r[0] for r in reversed(rows)]

    def answer(self, answer_id: str) -> dict[str, Any] | None:
        """A recorded answer, or None."""
        with self._lock:
            row = self._db.execute("SELECT question, answer, found, citations, blocks, user_id, channel_id "
                                   "FROM answers WHERE answer_id = ?", (answer_id,)).fetchone()
        if row is None:
            return None
        return {"question": row[0], "answer": row[1], "found": bool(row[2]), "citations": json.loads(row[3]),
                "blocks": json.loads(row[4]), "user_id": row[5], "channel_id": row[6]}

    def vote(self, answer_id: str, user_id: str, channel_id: str | None, vote: str) -> Vote:
        """Store a vote, at most one per person per answer."""
        with self._lock:
            if self._db.execute("SELECT 1 FROM answers WHERE answer_id = ?", (answer_id,)).fetchone() is None:
                return Vote.UNKNOWN
            cursor = self._db.execute("INSERT OR IGNORE INTO feedback VALUES (?, ?, ?, ?, ?)",
                                      (answer_id, user_id, channel_id, vote, time.time()))
            return Vote.COUNTED if cursor.rowcount == 1 else Vote.ALREADY

    def tally(self, answer_id: str) -> tuple[int, int]:
        """(👍, 👎) counts for one answer, as stored now."""
        with self._lock:
            rows = dict(self._db.execute("SELECT vote, COUNT(*) FROM feedback WHERE answer_id = ? GROUP BY vote",
                                         (answer_id,)).fetchall())
        return rows.get("up", 0), rows.get("down", 0)

    def close(self) -> None:
        """Release the file."""
        with self._lock:
            self._db.close()
