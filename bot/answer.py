"""Extractive answers: the sentences that best answer, verbatim from cited passages, each marked [n]."""

from __future__ import annotations

import re
from urllib.parse import quote
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.retrieve import Hit, Retrieval
from index.lexical import FrenchAnalyzer

NOT_FOUND = {
    "fr": "Je ne sais pas : je n'ai pas trouvé la réponse dans les sources.",
    "en": "I don't know: I did not find the answer in the sources.",
}
_EN = set("the what who whom which why how when where did does do is are was were of to in a an and "
          "with for by about from has have had will would can could should after before".split())
_FR = set("le la les un une des du de et est sont qui que quoi quel quelle quels quelles pourquoi comment "
          "quand où a ont au aux pour par sur dans avec ce cette il elle ils elles".split())


def language(text: str) -> str:
    """"en" when English function words outnumber French ones, else "fr" (our default)."""
    words = re.findall(r"[a-zàâçéèêëîïôûùüÿœ']+", text.lower())
    en = sum(w in _EN for w in words)
    fr = sum(w in _FR for w in words) + 0.5 * any(c in "àâçéèêëîïôûùœ" for c in text.lower())
    return "en" if en > fr else "fr"


@dataclass(frozen=True)
class Citation:
    """A numbered passage: exact source offsets, and the sentence the answer quotes from it."""

    n: int
    source_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    sentence_start: int
    sentence_end: int
    url: str | None = None  # set by edges that know the public base URL

    def link(self, base_url: str | None) -> str:
        """A link that opens the web page on this passage; absolute when a public base URL is known."""
        base = (base_url or "").rstrip("/")
        return f"{base}/#cite={quote(self.source_id, safe='')}:{self.start}-{self.end}:" \
               f"{self.sentence_start}-{self.sentence_end}"


@dataclass
class Answer:
    """What every edge shows: answer text with [n] markers, the citations, and whether it was found."""

    question: str
    text: str
    found: bool
    citations: list[Citation]
    language: str
    confidence: float
    timings_ms: dict[str, float] = field(default_factory=dict)
    index_version: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the CLI and the API."""
        return {**asdict(self), "answer": self.text}


def _sentence_scores(hit: Hit, top_score: float, question: str, analyzer: FrenchAnalyzer,
                     weight: float) -> list[float]:
    """Each sentence's cosine plus a bonus for question words, scaled by how well its passage ranked.

    A sentence that is itself a question ("Pensez-vous que… ?") rarely answers one, so it counts half.
    """
    wanted = set(analyzer.terms(question))
    rank_factor = (hit.score / top_score) ** 2 if top_score > 0 else 1.0
    scores = []
    for (start, end), cos in zip(hit.chunk.sentences, hit.sentence_cosines, strict=True):
        text = hit.chunk.text[start - hit.chunk.start : end - hit.chunk.start]
        overlap = len(wanted & set(analyzer.terms(text))) / len(wanted) if wanted else 0.0
        question_penalty = 0.5 if text.rstrip().endswith("?") else 1.0
        scores.append((cos + weight * overlap) * rank_factor * question_penalty)
    return scores


def _pick(hits: list[Hit], question: str, analyzer: FrenchAnalyzer, most: int, weight: float,
          ratio: float) -> list[tuple[int, tuple[int, int]]]:
    """(citation number, sentence span) of up to `most` sentences.

    The best sentence first, then the one right after it (answers often follow the sentence that
    restates the question), then any other sentence nearly as good as the best.
    """
    scored: list[tuple[float, int, tuple[int, int]]] = []
    for n, hit in enumerate(hits, 1):
        for span, score in zip(hit.chunk.sentences, _sentence_scores(hit, hits[0].score, question, analyzer, weight),
                               strict=True):
            scored.append((score, n, span))
    if not scored:
        return []
    scored.sort(key=lambda item: -item[0])
    best, n, span = scored[0]
    chosen = [(n, span)]
    sentences = hits[n - 1].chunk.sentences
    following = sentences.index(span) + 1
    if following < len(sentences) and most > 1:
        chosen.append((n, sentences[following]))
    for score, other_n, other_span in scored[1:]:
        if len(chosen) >= most or score < best * ratio:
            break
        if (other_n, other_span) not in chosen:
            chosen.append((other_n, other_span))
    return chosen


def compose(retrieval: Retrieval, analyzer: FrenchAnalyzer, max_sentences: int = 3, from_hits: int = 3,
            coverage_weight: float = 0.5, keep_ratio: float = 0.85) -> Answer:
    """Build the answer from the top hits; when retrieval abstains, say so and quote nothing."""
    lang = language(retrieval.question)
    hits = retrieval.hits
    chosen = _pick(hits[:from_hits], retrieval.question, analyzer, max_sentences, coverage_weight, keep_ratio) \
        if retrieval.found else []
    quoted = {n: span for n, span in reversed(chosen)}  # the best sentence of each cited passage
    citations = [
        Citation(
            n=n,
            source_id=hit.chunk.source_id,
            title=hit.chunk.title,
            text=hit.chunk.text,
            start=hit.chunk.start,
            end=hit.chunk.end,
            score=round(hit.score, 4),
            sentence_start=quoted.get(n, hit.sentence)[0],
            sentence_end=quoted.get(n, hit.sentence)[1],
        )
        for n, hit in enumerate(hits, 1)
    ]
    by_n = {c.n: c for c in citations}
    parts = [f"{_quote(by_n[n], span)} [{n}]" for n, span in sorted(chosen, key=lambda c: (c[0], c[1][0]))]
    text = " ".join(parts) if chosen else NOT_FOUND[lang]
    return Answer(retrieval.question, text, bool(chosen), citations, lang, retrieval.confidence,
                  retrieval.timings_ms, retrieval.index_version)


def _quote(citation: Citation, span: tuple[int, int]) -> str:
    """The exact sentence text, cut from the cited passage itself."""
    return citation.text[span[0] - citation.start : span[1] - citation.start]
