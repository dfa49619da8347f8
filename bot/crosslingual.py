"""Questions asked in one language about passages in another: the question's words carried into the passages' words.

Word overlap between an English question and a French passage measures nothing, so the reader could only
lean on the cosines. The multilingual encoder also places single words: « appointed » lies close to
« désignée » and « nommé » (0.84), « researchers » to « chercheurs » (0.90), and unrelated words lower (under
0.5). Each of the question's words is replaced by the passages' closest word when it is that close, and kept
as it is otherwise, so that it counts as missing; the reader then measures overlap as in one language.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from bot.question import meaningful, neutral_words
from index.lexical import FrenchAnalyzer
from index.records import Chunk
from ingest.embed import Embedder

CLOSE = 0.6  # a word's cosine with its translation (0.54-0.93 on common words), above unrelated words'
WORD_CACHE = 32768  # words kept per process: 32 MB of float16 vectors at 512 dimensions


class WordVectors:
    """The encoder's vector for single words, kept per word: the same passages come back question after question,
    and a cold passage costs ~0.3 ms a word (about 40 ms for three passages)."""

    def __init__(self, embedder: Embedder, size: int = WORD_CACHE) -> None:
        self._embedder = embedder
        self._size = size
        self._kept: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        """One unit row per word (one thread at a time: the reader runs on each worker's one CPU thread)."""
        with self._lock:
            missing = list(dict.fromkeys(w for w in words if w not in self._kept))
            if missing:
                for word, vector in zip(missing, self._embedder.embed_documents(missing), strict=True):
                    self._kept[word] = vector.astype(np.float16)
            rows = [self._kept[w] for w in words]
            for word in words:
                self._kept.move_to_end(word)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return np.asarray(rows, dtype=np.float32).reshape(len(words), -1)


def translate(words: Sequence[str], vocabulary: Sequence[str], vectors: WordVectors) -> list[str]:
    """Each word, or the vocabulary's closest word when the encoder finds them close."""
    if not words or not vocabulary:
        return list(words)
    similar = vectors(words) @ vectors(vocabulary).T
    best = similar.argmax(axis=1)
    return [vocabulary[j] if similar[i, j] >= CLOSE else word for i, (word, j) in enumerate(zip(words, best, strict=True))]


def _translatable(word: str) -> bool:
    """A word, not a number, code or particle."""
    return len(word) > 2 and word.isalpha()


def plain_words(question: str, analyzer: FrenchAnalyzer) -> tuple[str, ...]:
    """The question's words to carry into another language, unstemmed: not its names, numbers and acronyms, which
    any language writes the same."""
    spelled = set(analyzer.words(neutral_words(question)))
    return tuple(w for w in analyzer.words(meaningful(question)) if w not in spelled and _translatable(w))


@lru_cache(maxsize=1024)
def _vocabulary(chunk: Chunk, analyzer: FrenchAnalyzer) -> tuple[str, ...]:
    """A passage's distinct words, unstemmed (only asked of passages in another language than a question)."""
    return tuple(sorted({w for w in analyzer.words(chunk.context) if _translatable(w)}))


def carry(words: Sequence[str], chunks: Sequence[Chunk], analyzer: FrenchAnalyzer, vectors: WordVectors) -> list[str]:
    """`words` in these passages' words: each one the passages' closest word when close, else itself."""
    vocabulary = sorted(set().union(*(_vocabulary(c, analyzer) for c in chunks)))
    return translate(words, vocabulary, vectors)
