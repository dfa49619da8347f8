"""Durable Slack state in SQLite: answers given, one vote per person per answer, events already handled."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
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
"""
_EVENT_TTL_S = 3600.0


class SlackStore:
    """One SQLite file under the data dir; safe across threads and worker processes (WAL, short writes)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def first_time(self, event_id: str) -> bool:
        """True the first time an event id is seen, across retries and workers; old ids expire."""
        now = time.time()
        with self._lock:
            self._db.execute("DELETE FROM seen_events WHERE seen_at < ?", (now - _EVENT_TTL_S,))
            cursor = self._db.execute("INSERT OR IGNORE INTO seen_events VALUES (?, ?)", (event_id, now))
            return cursor.rowcount == 1

    def record_answer(self, answer_id: str, question: str, answer: str, found: bool,
                      citations: list[dict[str, Any]], blocks: list[dict[str, Any]], user_id: str | None,
                      channel_id: str | None) -> None:
        """Keep what was answered (and the public blocks), so feedback and sharing can refer to it."""
        with self._lock:
            self._db.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (answer_id, question, answer, int(found), json.dumps(citations, ensure_ascii=False),
                              json.dumps(blocks, ensure_ascii=False), user_id, channel_id, time.time()))

    def answer(self, answer_id: str) -> dict[str, Any] | None:
        """A recorded answer, or None."""
        with self._lock:
            row = self._db.execute("SELECT question, answer, found, citations, blocks, user_id, channel_id "
                                   "FROM answers WHERE answer_id = ?", (answer_id,)).fetchone()
        if row is None:
            return None
        return {"question": row[0], "answer": row[1], "found": bool(row[2]), "citations": json.loads(row[3]),
                "blocks": json.loads(row[4]), "user_id": row[5], "channel_id": row[6]}

    def vote(self, answer_id: str, user_id: str, channel_id: str | None, vote: str) -> bool:
        """Store a vote; False when this person already voted on this answer (or the answer is unknown)."""
        with self._lock:
            if self._db.execute("SELECT 1 FROM answers WHERE answer_id = ?", (answer_id,)).fetchone() is None:
                return False
            cursor = self._db.execute("INSERT OR IGNORE INTO feedback VALUES (?, ?, ?, ?, ?)",
                                      (answer_id, user_id, channel_id, vote, time.time()))
            return cursor.rowcount == 1

    def tally(self, answer_id: str) -> tuple[int, int]:
        """(👍, 👎) counts for one answer."""
        with self._lock:
            rows = dict(self._db.execute("SELECT vote, COUNT(*) FROM feedback WHERE answer_id = ? GROUP BY vote",
                                         (answer_id,)).fetchall())
        return rows.get("up", 0), rows.get("down", 0)

    def close(self) -> None:
        """Release the file."""
        with self._lock:
            self._db.close()
