"""Answers to repeated questions (a Slack channel asks the same thing many times), for the live version only."""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable

from bot.answer import Answer
from ingest.text import normalise

Key = tuple[Hashable, ...]


def cache_key(question: str, k: int, sources: Collection[str] | None, version: str,
              readable: frozenset[str] | None = None) -> Key:
    """The normalised question, how many passages, the sources filter, the live version and the sources the caller
    may read (None: all): an answer depends on nothing else, so a version swap can never serve an old answer and
    one caller never gets an answer built from sources another may read and they may not."""
    return (" ".join(normalise(question).split()).casefold(), k, tuple(sorted(sources)) if sources is not None else None,
            version, readable)


class AnswerCache:
    """A bounded least-recently-used map of answers; each lookup is reported (hit or miss) for /metrics."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self._lock = threading.Lock()
        self.on_lookup: Callable[[bool], None] | None = None

    def get(self, key: Key) -> Answer | None:
        """A copy of the stored answer (edges may adjust what they get), or None."""
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
        if self.on_lookup is not None and self.size:
            self.on_lookup(answer is not None)
        return copy.deepcopy(answer) if answer is not None else None

    def put(self, key: Key, answer: Answer) -> None:
        """Keep an answer, dropping the least recently used beyond the size."""
        if not self.size:
            return
        with self._lock:
            self._answers[key] = copy.deepcopy(answer)
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)

    def clear(self) -> None:
        """Forget every answer (a new version went live)."""
        with self._lock:
            self._answers.clear()
