"""Extractive answers: the sentences that best answer, verbatim from cited passages, each marked [n]."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from bot.language import language
from bot.retrieve import Hit, Retrieval
from index.lexical import FrenchAnalyzer
from ingest.text import quotable

NOT_FOUND = {
    "fr": "Je ne sais pas : je n'ai pas trouvé la réponse dans les sources.",
    "en": "I don't know: I did not find the answer in the sources.",
}
HELP = {
    "fr": "Je n'ai trouvé aucun mot à chercher dans cette question : posez-la avec des mots du sujet, "
          "par exemple « Qui a été nommé directeur général ? ».",
    "en": "I found no word to search for in this question: ask it with words about the topic, "
          "for example “Who was appointed chief executive?”.",
}
LABELS = {
    "fr": {"sources": "Sources", "see_also": "Voir aussi", "closest": "Passages proches"},
    "en": {"sources": "Sources", "see_also": "See also", "closest": "Closest passages"},
}
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
    cited: bool = False  # the answer quotes this passage; the others are "voir aussi"
    section: str = ""  # the headings above the passage, "Titre › Section"
    page: int = 0  # the PDF page of the passage; 0 for other formats
    anchor: str = ""  # the section heading's anchor in the original document
    url: str | None = None  # set by edges that know the public base URL
    source_url: str | None = None  # the original document at its heading, when SOURCIER_SOURCE_URL_BASE is set

    @property
    def place(self) -> str:
        """Where the passage is, as people read it: « Titre › Section » (the section path starts with the title)."""
        where = self.title if not self.section or self.section == self.title else \
            f"{self.title} › {self.section.split(' › ', 1)[-1]}"
        return f"{where}, p. {self.page}" if self.page else where

    def original(self, base: str, path: str) -> str:
        """The published original (an intranet URL) at the passage's heading or PDF page."""
        return f"{base.rstrip('/')}/{quote(path)}" + (f"#{quote(self.anchor, safe='=')}" if self.anchor else "")

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
        """Plain JSON for the CLI: the answer text is `answer`, as in the API."""
        data = asdict(self)
        data["answer"] = data.pop("text")
        return data


def _candidates(hits: list[Hit], question: str, analyzer: FrenchAnalyzer,
                weight: float) -> list[tuple[float, int, tuple[int, int], frozenset[str]]]:
    """(score, citation number, span, question terms) of every quotable sentence, best first.

    A sentence scores its cosine plus a bonus for question words, scaled by how well its passage ranked.
    """
    wanted = set(analyzer.terms(question))
    top = hits[0].score if hits else 0.0
    scored = []
    for n, hit in enumerate(hits, 1):
        rank_factor = (hit.score / top) ** 2 if top > 0 else 1.0
        for span, cos in zip(hit.chunk.sentences, hit.sentence_cosines, strict=True):
            text = hit.chunk.text[span[0] - hit.chunk.start : span[1] - hit.chunk.start]
            if not quotable(text):
                continue
            terms = frozenset(analyzer.terms(text)) & wanted
            overlap = len(terms) / len(wanted) if wanted else 0.0
            scored.append(((cos + weight * overlap) * rank_factor, n, span, terms))
    scored.sort(key=lambda item: -item[0])
    return scored


def _pick(hits: list[Hit], question: str, analyzer: FrenchAnalyzer, most: int, weight: float,
          ratio: float) -> list[tuple[int, tuple[int, int]]]:
    """(citation number, sentence span) of the best sentence, then of a sentence that adds something: one
    nearly as good that brings question words the chosen ones lack, or the one right after the best when the
    best only restates the question (it holds every question word, so the answer tends to follow). No padding."""
    scored = _candidates(hits, question, analyzer, weight)
    if not scored:
        return []
    best, n, span, covered = scored[0]
    chosen = [(n, span)]
    sentences = hits[n - 1].chunk.sentences
    following = sentences.index(span) + 1
    nxt = sentences[following] if following < len(sentences) else None
    restates = covered >= set(analyzer.terms(question))
    for score, other_n, other_span, terms in scored[1:]:
        if len(chosen) >= most:
            break
        after = other_n == n and other_span == nxt
        if (after and restates) or ((score >= best * ratio or after) and terms - covered):
            chosen.append((other_n, other_span))
            covered |= terms
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
            cited=n in quoted,
            section=hit.chunk.section,
            page=hit.chunk.page,
            anchor=hit.chunk.anchor,
        )
        for n, hit in enumerate(hits, 1)
    ]
    by_n = {c.n: c for c in citations}
    parts = [f"{_quote(by_n[n], span)} [{n}]" for n, span in sorted(chosen, key=lambda c: (c[0], c[1][0]))]
    text = " ".join(parts) if chosen else (NOT_FOUND if retrieval.searchable else HELP)[lang]
    return Answer(retrieval.question, text, bool(chosen), citations, lang, retrieval.confidence,
                  retrieval.timings_ms, retrieval.index_version)


def _quote(citation: Citation, span: tuple[int, int]) -> str:
    """The exact sentence text, cut from the cited passage itself."""
    return citation.text[span[0] - citation.start : span[1] - citation.start]
