"""The reader's inputs: for each quotable sentence of the first passages, numbers that mean the same in any corpus.

Cosines with the question, the share of the question's words (IDF-weighted, plain, in pairs) that the
sentence, its neighbours and its passage hold, the question's names and rarest word when they are
missing, what kind of answer the question wants and whether the sentence brings it, and where the
sentence and its passage rank. bench/reader_data.py reads the same rows to train on.
"""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from bot.answer_types import KINDS, asks, command_like, evidence, question_words
from bot.crosslingual import WordVectors, carry, plain_words
from bot.language import language
from bot.question import meaningful, neutral_words
from bot.quoting import option_term
from index.lexical import FrenchAnalyzer
from index.records import Chunk
from index.snapshot import TermStats
from ingest.text import quotable

if TYPE_CHECKING:
    from bot.retrieve import Hit

EVIDENCE = ("person", "date", "days", "number", "place", "how", "why", "define")
FEATURES = (
    "cos", "cos_gap", "cos_prev", "cos_next", "passage_cos", "fused", "rank_inv", "top_passage",
    "cov", "share", "cov_window", "cov_prev", "bigrams", "names_missing", "rare_missing",
    "cov_passage", "share_passage", "names_missing_passage", "rare_missing_passage", "novel", "length", "position",
    "first", "question_length", "kind_evidence",
    *(f"evidence_{e}" for e in EVIDENCE), *(f"asks_{k}" for k in KINDS),
)
COLUMN = {name: i for i, name in enumerate(FEATURES)}
# A French question's word overlap with an English passage is left unmeasured (NaN, read as the average by the
# models), names, numbers and acronyms aside: measured, even word for word, it made the handbook's unanswerable
# how-to questions look answered over its untranslated English paragraphs (docs/quality.md).
WORDS_ONLY = [COLUMN[n] for n in ("cov", "share", "cov_window", "cov_prev", "bigrams", "rare_missing", "cov_passage",
                                  "share_passage", "rare_missing_passage", "novel")]
NAMES_ONLY = [COLUMN[n] for n in ("names_missing", "names_missing_passage")]


@dataclass(frozen=True)
class Question:
    """What every candidate of one question is compared with, analysed once."""

    kind: str
    weights: dict[str, float]  # the question's terms and their IDF
    total: float  # their sum
    pairs: frozenset[tuple[str, str]]  # consecutive terms: a phrase of the question found again
    names: dict[str, float]  # names, numbers and acronyms: words any language writes the same
    words: frozenset[str]  # folded surface words, for answer-type evidence
    rarest: float
    lang: str
    plain: tuple[str, ...]  # its words but names, unstemmed: what bot.crosslingual carries into another language


def analyse(question: str, lexical: TermStats) -> Question:
    """The question's terms, weights, names and kind."""
    text = meaningful(question)
    weights = lexical.weights(text)
    ordered = lexical.analyzer.terms(text)
    names = {t: weights[t] for t in lexical.analyzer.terms(neutral_words(question)) if t in weights}
    return Question(asks(question), weights, sum(weights.values()), frozenset(pairwise(ordered)), names,
                    question_words(question), max(weights.values(), default=1.0), language(question),
                    plain_words(question, lexical.analyzer))


def crossed(q: Question, other: list[Hit], vectors: WordVectors | None, lexical: TermStats) -> Question | None:
    """An English question in the words of these passages written in French (names, numbers and acronyms as they
    are spelled); None for a French question, whose overlap with English passages stays unmeasured, or without
    word vectors (the rows the reader is fitted on)."""
    if q.lang != "en" or vectors is None:
        return None
    if not other or not q.plain:
        return _checkable(q)
    text = " ".join(carry(q.plain, [h.chunk for h in other], lexical.analyzer, vectors))
    weights = lexical.weights(text) | q.names
    return replace(q, weights=weights, total=sum(weights.values()), pairs=frozenset(pairwise(lexical.analyzer.terms(text))),
                   words=q.words | question_words(text), rarest=max(weights.values(), default=1.0))


def share(weights: dict[str, float], terms: AbstractSet[str], total: float | None = None) -> float:
    """The weighted share of the question's terms that are in `terms` (`total`: their weights' sum, when the caller
    has it: this runs for every candidate)."""
    total = sum(weights.values()) if total is None else total
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0


_EMPTY: frozenset[str] = frozenset()


def _overlap(q: Question, own: frozenset[str], window: frozenset[str] = _EMPTY,
             before: frozenset[str] = _EMPTY) -> tuple[float, float, float, float, float, float]:
    """The weighted and plain share of the question's terms in `own`, the share of its names absent, the IDF of its
    rarest absent word (0–1), then the weighted share in `window` and in `before`: one pass over the question's
    terms, as this runs for every candidate."""
    found = near = prev = rare = 0.0
    count = 0
    for t, w in q.weights.items():
        if t in own:
            found += w
            count += 1
        elif w > rare:
            rare = w
        if t in window:
            near += w
        if t in before:
            prev += w
    total = q.total
    names = 1.0 - share(q.names, own) if q.names else 0.0
    return (found / total if total else 0.0, count / len(q.weights) if q.weights else 0.0, names,
            rare / q.rarest if q.rarest else 0.0, near / total if total else 0.0, prev / total if total else 0.0)


@dataclass(frozen=True, slots=True)
class _Sentence:
    """A quotable sentence of a passage, as every question reads it."""

    i: int  # its place among the passage's sentences
    span: tuple[int, int]
    text: str
    ordered: tuple[str, ...]  # its terms, in order
    window: frozenset[str]  # its terms and its neighbours'
    code: bool  # a command line: quotable only to a how-to question
    option: bool  # it describes the option line above it (a man page, a <dl>): a way to do something, like a command


@dataclass(frozen=True, slots=True)
class _Layout:
    """A passage analysed once, for every question that reads it (kept small: thousands are kept)."""

    sentences: tuple[_Sentence, ...]
    terms: tuple[frozenset[str], ...]  # every sentence's terms, headings included
    present: frozenset[str]  # the terms of the passage and its headings
    lang: str


@lru_cache(maxsize=4096)
def _layout(chunk: Chunk, analyzer: FrenchAnalyzer) -> _Layout:
    """The question-independent part of reading a passage (the same passages come back question after question)."""
    base = chunk.start
    texts = [chunk.text[a - base : b - base] for a, b in chunk.sentences]
    ordered = [tuple(analyzer.terms(t)) for t in texts]
    terms = tuple(frozenset(t) for t in ordered)
    rows = []
    for i, (span, text) in enumerate(zip(chunk.sentences, texts, strict=True)):
        code = i in chunk.code
        if i not in chunk.headings and (quotable(text) and not code or code and command_like(text)):
            rows.append(_Sentence(i, span, text, ordered[i], frozenset().union(*terms[max(0, i - 1) : i + 2]), code,
                                  not code and option_term(chunk, span) is not None))
    return _Layout(tuple(rows), terms, frozenset(analyzer.terms(chunk.context)), language(chunk.text))


def _checkable(q: Question) -> Question:
    """Across languages only names, numbers and acronyms can be found word for word: overlap counts those."""
    if not q.names:
        return q
    return replace(q, weights=q.names, total=sum(q.names.values()),
                   pairs=frozenset(p for p in q.pairs if set(p) <= set(q.names)), rarest=max(q.names.values()))


def _passage(q: Question, across: Question | None, hit: Hit, layout: _Layout, n: int,
             top: float) -> list[tuple[tuple[int, int], list[float]]]:
    """(span, inputs) of every quotable sentence of one passage, read with the question in its language (`across`:
    the question in the words of the passages in the other one); cos_gap is set by `candidates`."""
    unmeasured = layout.lang != q.lang and across is None
    q = (across or _checkable(q)) if layout.lang != q.lang else q
    cos, terms = hit.sentence_cosines, layout.terms
    passage = [hit.dense, hit.score / top if top > 0 else 0.0, 1.0 / n, float(n == 1)]
    whole = list(_overlap(q, layout.present)[:4])
    asked = [float(q.kind == k) for k in KINDS]
    length, last, question_terms = math.log1p(len(q.weights)), max(len(terms) - 1, 1), frozenset(q.weights)
    rows = []
    for s in layout.sentences:
        if s.code and q.kind != "how":
            continue
        i, own = s.i, terms[s.i]
        ev = evidence(s.text, q.words, s.code or s.option)
        cov, plain, names, rare, near, prev = _overlap(q, own, s.window, terms[i - 1] if i else _EMPTY)
        pairs = len(q.pairs & set(pairwise(s.ordered))) / len(q.pairs) if q.pairs and cov else 0.0
        rows.append((s.span, [
            cos[i], 0.0, cos[i - 1] if i else 0.0, cos[i + 1] if i + 1 < len(cos) else 0.0, *passage,
            cov, plain, near, prev, pairs, names, rare, *whole, len(own - question_terms) / max(len(own), 1), math.log1p(len(own)),
            i / last, float(i == 0), length, ev.of(q.kind), *(getattr(ev, e) for e in EVIDENCE), *asked,
        ]))
    if unmeasured:
        for _, row in rows:
            for c in WORDS_ONLY + (NAMES_ONLY if not q.names else []):
                row[c] = math.nan
    return rows


def candidates(question: str, hits: list[Hit], lexical: TermStats, vectors: WordVectors | None,
               from_hits: int) -> tuple[list[tuple[int, tuple[int, int]]], np.ndarray, Question, tuple[float, float]]:
    """(passage rank, span) of every quotable sentence of the first passages, their input rows, the question, and
    the decision's question-level inputs (`_reach`, with the question in the passages' language when none of
    them is in its own)."""
    q = analyse(question, lexical)
    read = hits[:from_hits]
    layouts = [_layout(h.chunk, lexical.analyzer) for h in read]
    other = [h for h, layout in zip(read, layouts, strict=True) if layout.lang != q.lang]
    across = crossed(q, other, vectors, lexical)
    top = hits[0].score if hits else 0.0
    keys: list[tuple[int, tuple[int, int]]] = []
    rows: list[list[float]] = []
    for n, (hit, layout) in enumerate(zip(read, layouts, strict=True), 1):
        for span, row in _passage(q, across, hit, layout, n, top):
            keys.append((n, span))
            rows.append(row)
    x = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(FEATURES))
    if len(x):
        x[:, COLUMN["cos_gap"]] = x[:, 0] - x[:, 0].max()
    same = len(other) < len(read)
    return keys, x, q, _reach(q if same or not read else across, hits, lexical, from_hits)


DECISION = ("select", "select_gap", "cov_top", "fused_gap", "cos", "cov", "share", "cov_window", "bigrams",
            "names_missing", "rare_missing", "cov_passage", "share_passage", "names_missing_passage",
            "rare_missing_passage", "kind_evidence", "question_length",
            *(f"asks_{k}" for k in KINDS))


def _reach(q: Question | None, hits: list[Hit], lexical: TermStats, from_hits: int) -> tuple[float, float]:
    """How much of the question the first passages hold together (None: a French question over English passages,
    unmeasured), and the first passage's lead over the second."""
    terms = set().union(*(lexical.analyzer.terms(h.chunk.context) for h in hits[:from_hits]))
    lead = hits[0].score - hits[1].score if len(hits) > 1 else hits[0].score if hits else 0.0
    return share(q.weights, terms) if q is not None else math.nan, lead


def decision_row(x: np.ndarray, logits: np.ndarray, question_reach: tuple[float, float]) -> np.ndarray:
    """The question-level inputs: the best candidate's, its lead over the next, and the first passages' reach."""
    order = np.argsort(-logits, kind="stable")
    best = x[order[0]]
    gap = float(logits[order[0]] - logits[order[1]]) if len(order) > 1 else 4.0
    head = [float(logits[order[0]]), min(gap, 4.0), *question_reach]
    return np.asarray(head + [float(best[COLUMN[name]]) for name in DECISION[4:]], dtype=np.float32)
