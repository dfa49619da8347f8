"""Slack state in PostgreSQL, for replicas sharing one database: an event delivered to several is answered once,
and a vote given through one is seen by all. The same methods as the SQLite store (store.py), over the engine's
connection pool; the tables come from migration 2 (index/pg/migrations.py)."""

from __future__ import annotations

import time
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from bot.slack.store import Vote
from index.pg.connect import lend

_EVENT_TTL_S = 3600.0


class PgSlackStore:
    """Answers, votes, thread questions and events already handled, in the index database."""

    def __init__(self, pool: ConnectionPool, timeout: float, retention_days: float) -> None:
        self._pool, self._timeout = pool, timeout
        self.retention_s = retention_days * 86400
        self._purged = 0.0
        self.purge()

    def purge(self) -> None:
        """Delete what is older than the retention (questions and user ids are personal data)."""
        cutoff = time.time() - self.retention_s
        with lend(self._pool, self._timeout) as conn, conn.transaction():
            conn.execute("delete from slack_feedback where created_at < %s", (cutoff,))
            conn.execute("delete from slack_answers where created_at < %s", (cutoff,))  # their votes cascade
            conn.execute("delete from slack_turns where created_at < %s", (cutoff,))
        self._purged = time.time()

    def first_time(self, *keys: str) -> bool:
        """True when none of these keys was seen before by any replica: the insert that wins is the only one."""
        now = time.time()
        with lend(self._pool, self._timeout) as conn, conn.transaction():
            conn.execute("delete from slack_seen_events where seen_at < %s", (now - _EVENT_TTL_S,))
            new = conn.execute("insert into slack_seen_events select k, %s from unnest(%s::text[]) k "
                               "on conflict do nothing returning event_id", (now, list(keys))).fetchall()
        return len(new) == len(set(keys))

    def record_answer(self, answer_id: str, question: str, answer: str, found: bool,
                      citations: list[dict[str, Any]], blocks: list[dict[str, Any]], user_id: str | None,
                      channel_id: str | None, thread: str | None = None) -> None:
        """Keep what was answered (and the public blocks), so votes, sharing and follow-ups can refer to it."""
        now = time.time()
        with lend(self._pool, self._timeout) as conn, conn.transaction():
            conn.execute("insert into slack_answers values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                         (answer_id, question, answer, found, Jsonb(citations), Jsonb(blocks), user_id, channel_id,
                          now))
            if thread:
                conn.execute("insert into slack_turns values (%s, %s, %s)", (thread, question, now))
        if now - self._purged > 3600:
            self.purge()

    def earlier_questions(self, thread: str, since_s: float | None = None, most: int = 2) -> list[str]:
        """The last questions asked in a thread (oldest first), optionally only the recent ones."""
        cutoff = time.time() - since_s if since_s is not None else 0.0
        with lend(self._pool, self._timeout) as conn:
            rows = conn.execute("select question from slack_turns where thread = %s and created_at >= %s "
                                "order by created_at desc limit %s", (thread, cutoff, most)).fetchall()
        return [str(r[0]) for r in reversed(rows)]

    def answer(self, answer_id: str) -> dict[str, Any] | None:
        """A recorded answer, or None."""
        with lend(self._pool, self._timeout) as conn:
            row = conn.execute("select question, answer, found, citations, blocks, user_id, channel_id "
                               "from slack_answers where answer_id = %s", (answer_id,)).fetchone()
        if row is None:
            return None
        return {"question": row[0], "answer": row[1], "found": bool(row[2]), "citations": row[3], "blocks": row[4],
                "user_id": row[5], "channel_id": row[6]}

    def vote(self, answer_id: str, user_id: str, channel_id: str | None, vote: str) -> Vote:
        """Store a vote, at most one per person per answer, whichever replica it reaches."""
        with lend(self._pool, self._timeout) as conn, conn.transaction():
            if conn.execute("select 1 from slack_answers where answer_id = %s", (answer_id,)).fetchone() is None:
                return Vote.UNKNOWN
            cursor = conn.execute("insert into slack_feedback values (%s, %s, %s, %s, %s) on conflict do nothing",
                                  (answer_id, user_id, channel_id, vote, time.time()))
            return Vote.COUNTED if cursor.rowcount == 1 else Vote.ALREADY

    def tally(self, answer_id: str) -> tuple[int, int]:
        """(👍, 👎) counts for one answer, as stored now."""
        with lend(self._pool, self._timeout) as conn:
            rows = dict(conn.execute("select vote, count(*) from slack_feedback where answer_id = %s group by vote",
                                     (answer_id,)).fetchall())
        return int(rows.get("up", 0)), int(rows.get("down", 0))

    def close(self) -> None:
        """Nothing to release: the pool belongs to the engine."""
