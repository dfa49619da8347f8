"""Hybrid retrieval: sentence-level dense + chunk BM25, fused by max-normalised scores, then the reader decides."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from bot.crosslingual import WordVectors
from bot.reader import ReaderModel, Reading, read
from bot.scope import Scope
from index.errors import QuestionError, UnknownSourceError
from index.records import Chunk
from index.snapshot import Candidates, Snapshot
from ingest.embed import Embedder
from ingest.text import normalise


@dataclass(frozen=True)
class RetrievalParams:
    """Fusion weights and abstention thresholds, measured on the dev set (see README)."""

    min_confidence: float  # the reader's score of its best sentence; below it, abstain (0.5: the fitted cut)
    max_question_chars: int  # both from Settings, their one owner
    candidates: int = 50
    w_chunk: float = 0.5  # whole-passage cosine
    w_sentence: float = 1.0  # best single sentence cosine: the strongest signal for short questions
    w_lexical: float = 1.0  # BM25 over the French analyser
    reader: ReaderModel | None = None  # None: rank only, never answer (the engine passes the shipped one)
    words: WordVectors | None = None  # the reader's word vectors across languages (the engine passes its encoder's;
    # None: an English question's overlap with French passages is left unmeasured, as in the rows it was fitted on)
    read_passages: int = 5  # the reader reads the sentences of this many passages (5 refuses less than 3)

    def only(self, signals: str) -> RetrievalParams:
        """The same parameters with fusion inputs switched off, to measure what each one brings."""
        if signals == "dense":
            return replace(self, w_lexical=0.0)
        if signals == "lexical":
            return replace(self, w_chunk=0.0, w_sentence=0.0)
        if signals != "hybrid":
            raise ValueError("signals must be hybrid, dense or lexical")
        return self


@dataclass(frozen=True)
class Hit:
    """A ranked passage, the scores that placed it, and the sentence inside it closest to the question."""

    chunk: Chunk
    row: int
    score: float
    dense: float
    sentence_cos: float
    lexical: float
    sentence_cosines: tuple[float, ...]  # one per sentence of the chunk, in order

    @property
    def sentence(self) -> tuple[int, int]:
        """Source offsets of the chunk's sentence closest in meaning to the question."""
        body = [i for i in range(len(self.chunk.sentences)) if i not in self.chunk.headings] or [0]
        return self.chunk.sentences[max(body, key=lambda i: self.sentence_cosines[i])]


@dataclass
class Retrieval:
    """Ranked, de-duplicated hits and whether they truly support an answer."""

    question: str
    hits: list[Hit]
    found: bool
    confidence: float
    timings_ms: dict[str, float] = field(default_factory=dict)
    index_version: str = ""
    reading: Reading | None = None
    searchable: bool = True  # False when the question has no word to search for ("😀", "et alors ?")


def clean_question(question: str, max_chars: int) -> str:
    """Normalise like the sources (NFC, plain spaces), trim and validate, so every edge rejects the same bad input
    with the same words and a decomposed « é » scores like a composed one."""
    cleaned = " ".join(normalise(question).split())
    if not cleaned:
        raise QuestionError("the question is empty: type a question, e.g. « Qui dirige OpenAI par intérim ? »")
    if len(cleaned) > max_chars:
        raise QuestionError(f"the question has {len(cleaned)} characters; the limit is {max_chars}")
    return cleaned


def _share_text(a: Chunk, b: Chunk) -> bool:
    """True when two chunks of one source overlap, so showing both repeats text."""
    return a.source_id == b.source_id and a.start < b.end and b.start < a.end


def _normalised(x: np.ndarray) -> np.ndarray:
    """Scale by the best candidate so each signal counts in [0, 1] whatever its units."""
    top = float(x.max()) if len(x) else 0.0
    return x / top if top > 0 else np.zeros_like(x)


def names_source(name: str, source_id: str) -> bool:
    """Whether a name is this source's id or one of its folders (`man/` or `man`)."""
    return source_id == name or source_id.startswith(name if name.endswith("/") else name + "/")


def matching_sources(wanted: Iterable[str], ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """The source ids named by exact id or folder prefix (`man/` or `man`), and the names that match none:
    one rule for the CLI's --source, the API's `sources`, Slack's channel mapping and the access file."""
    names = list(dict.fromkeys(wanted))
    matched = [sid for sid in ids if any(names_source(w, sid) for w in names)]
    unknown = sorted(w for w in names if not any(names_source(w, sid) for sid in matched))
    return matched, unknown


def retrieve(
    question: str,
    snapshot: Snapshot,
    embedder: Embedder,
    k: int,
    params: RetrievalParams,
    sources: Collection[str] | None = None,
    scope: Scope | None = None,
) -> Retrieval:
    """Rank passages for a question, fusing dense and lexical evidence, and decide whether to abstain.

    With a scope (what the caller may read), the rest of the index does not exist: a source filter naming
    only forbidden sources is unknown, and BM25 and the reader's weights come from the scope's passages.
    The index is asked twice: for candidates (dense and lexical), then for the features of their union."""
    question = clean_question(question, params.max_question_chars)
    wanted: set[str] | None = None
    if sources is not None:
        matched, unknown = matching_sources(sources, scope.sources if scope is not None else snapshot.texts)
        if unknown:
            raise UnknownSourceError(unknown)
        wanted = set(matched)
    view: Snapshot = scope.over(snapshot) if scope is not None else snapshot
    if not view.terms.analyzer.terms(question):
        return Retrieval(question, [], False, 0.0, {}, snapshot.version, searchable=False)
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round((now - clock) * 1000, 3)
        clock = now

    query = embedder.embed_query(question)
    lap("embed")
    found = view.candidates(query, question, params.candidates, wanted)
    lap("candidates")
    kept: list[Hit] = []
    for hit in _fuse(view, query, found, params):
        if not any(_share_text(hit.chunk, other.chunk) for other in kept):
            kept.append(hit)
            if len(kept) == k:
                break
    lap("fusion")
    reading = read(question, kept, view.terms, params.reader, params.words, params.read_passages) if params.reader else None
    sure = reading.confidence if reading else 0.0
    lap("reader")
    return Retrieval(question, kept, sure >= params.min_confidence, round(sure, 4), timings, snapshot.version,
                     reading)


def _fuse(snapshot: Snapshot, query: np.ndarray, found: Candidates, params: RetrievalParams) -> Iterator[Hit]:
    """Candidates by a weighted sum of normalised signals, best first, built only as far as they are read."""
    rows, lex = found.rows, found.lexical
    if len(rows) == 0:
        return
    dense = snapshot.features(query, rows)
    fused = (
        params.w_chunk * _normalised(dense.chunk_cos)
        + params.w_sentence * _normalised(dense.best_sentence_cos)
        + params.w_lexical * _normalised(lex)
    )
    for i in np.argsort(-fused, kind="stable"):
        yield Hit(
            chunk=dense.chunks[int(i)],
            row=int(rows[i]),
            score=float(fused[i]),
            dense=float(dense.chunk_cos[i]),
            sentence_cos=float(dense.best_sentence_cos[i]),
            lexical=float(lex[i]),
            sentence_cosines=tuple(dense.sentence_cos[dense.offsets[i] : dense.offsets[i + 1]].tolist()),
        )
