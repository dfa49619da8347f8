"""Extractive answers: the sentences that best answer, verbatim from cited passages, each marked [n]."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import quote

from bot.answer_types import answer_span
from bot.language import language
from bot.quoting import option_term
from bot.reader import Reading
from bot.retrieve import Hit, Retrieval
from index.records import Chunk

NOT_FOUND = {
    "fr": "Je ne sais pas : je n'ai pas trouvé la réponse dans les sources.",
    "en": "I don't know: I did not find the answer in the sources.",
}
# Measured (docs/quality.md): three English questions in four about French text are refused, against one French
# question in four; the refusal says so, so that the asker tries again in French.
IN_FRENCH = " The sources are in French: the same question asked in French is answered far more often."
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
LINK_WORDS = 60  # characters of the cited sentence a citation link carries to find it again
SECOND = 0.2  # the reader's second sentence is quoted too when rated at least this share of the best (_pick)


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
    code: bool = False  # the quoted sentence is a code line (a command): edges show it as code
    answer_start: int = 0  # the short answer inside the quoted sentence (a name, a date, a number), source offsets;
    answer_end: int = 0  # both 0 when the question asks for no such thing or the sentence has none
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
        """A link that opens the web page on this passage; absolute when a public base URL is known. It ends with
        the cited sentence's first words, so the page finds the passage again after an edit moved it."""
        base = (base_url or "").rstrip("/")
        a, b = self.sentence_start - self.start, self.sentence_end - self.start
        words = self.text[a:b][:LINK_WORDS].rsplit(" ", 1)[0] if b - a > LINK_WORDS else self.text[a:b]
        return f"{base}/#cite={quote(self.source_id, safe='')}:{self.start}-{self.end}:" \
               f"{self.sentence_start}-{self.sentence_end}:{quote(words, safe='')}"


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
    short: str = ""  # the short answer (a name, a date, a number) inside the first quoted sentence, to highlight

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the CLI: the answer text is `answer`, as in the API."""
        data = asdict(self)
        data["answer"] = data.pop("text")
        return data


def _pick(reading: Reading | None, most: int, keep: float) -> list[tuple[int, tuple[int, int]]]:
    """(citation number, sentence span) of the reader's best sentence, then of the next one when the reader rates
    it at least `keep` times as likely to answer. Measured through the engine (docs/quality.md): the second
    sentence at 0.5 quotes the gold answer 4 points more often on piaf-dev than the best alone, for 50 characters
    more; at 0.2, 3.6 points more again on piaf-dev, 6.4 on the seed, 1.9 on Service-Public.fr, none fewer, for a
    median answer 24-61 characters longer (180-290 in all). No padding beyond two."""
    if reading is None or not reading.candidates:
        return []
    best = reading.candidates[0]
    chosen = [(best.n, best.span)]
    for other in reading.candidates[1 : most]:
        if other.score >= keep * best.score:
            chosen.append((other.n, other.span))
    return chosen


def compose(retrieval: Retrieval, max_sentences: int = 2, keep_ratio: float = SECOND) -> Answer:
    """Quote the sentences the reader chose, best first; when it abstains, say so and quote nothing."""
    lang = language(retrieval.question)
    hits = retrieval.hits
    chosen = _pick(retrieval.reading, max_sentences, keep_ratio) if retrieval.found else []
    terms = _terms(hits, chosen)
    quoted = {n: (terms.get((n, span), span)[0], span[1]) for n, span in reversed(chosen)}  # each passage's best
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
            code=n in quoted and _is_code(hit.chunk, quoted[n]),
            section=hit.chunk.section,
            page=hit.chunk.page,
            anchor=hit.chunk.anchor,
        )
        for n, hit in enumerate(hits, 1)
    ]
    short = _short(retrieval, hits, chosen[0]) if chosen else None
    short_text = ""
    if short is not None:
        first = citations[chosen[0][0] - 1]
        citations[first.n - 1] = replace(first, answer_start=short[0], answer_end=short[1])
        short_text = first.text[short[0] - first.start : short[1] - first.start]
    by_n = {c.n: c for c in citations}
    parts = [f"{_quote(by_n[n], span, _is_code(hits[n - 1].chunk, span), terms.get((n, span)))} [{n}]"
             for n, span in chosen]
    text = " ".join(parts) if chosen else _refusal(retrieval, lang)
    return Answer(retrieval.question, text, bool(chosen), citations, lang, retrieval.confidence,
                  retrieval.timings_ms, retrieval.index_version, short_text)


def _refusal(retrieval: Retrieval, lang: str) -> str:
    """« I don't know » in the question's language; to an English question over French passages, a hint."""
    if not retrieval.searchable:
        return HELP[lang]
    french = bool(retrieval.hits) and language(retrieval.hits[0].chunk.text) == "fr"
    return NOT_FOUND[lang] + (IN_FRENCH if lang == "en" and french else "")


def _short(retrieval: Retrieval, hits: list[Hit], best: tuple[int, tuple[int, int]]) -> tuple[int, int] | None:
    """Source offsets of the short answer inside the best quoted sentence, when the question asks for one."""
    n, (start, end) = best
    chunk = hits[n - 1].chunk
    if retrieval.reading is None or _is_code(chunk, (start, end)):
        return None
    found = answer_span(chunk.text[start - chunk.start : end - chunk.start], retrieval.reading.kind,
                        retrieval.question)
    return (start + found[0], start + found[1]) if found else None


def _is_code(chunk: Chunk, span: tuple[int, int]) -> bool:
    """Whether the sentence at `span` is one of the chunk's code lines."""
    return span in chunk.sentences and chunk.sentences.index(span) in chunk.code


def _terms(hits: list[Hit], chosen: list[tuple[int, tuple[int, int]]]) -> dict[tuple[int, tuple[int, int]],
                                                                                tuple[int, int]]:
    """The option line each quoted description describes, shown once even when two of its sentences are quoted."""
    found: dict[tuple[int, tuple[int, int]], tuple[int, int]] = {}
    shown: set[tuple[int, tuple[int, int]]] = set()
    for n, span in chosen:
        chunk = hits[n - 1].chunk
        term = None if _is_code(chunk, span) else option_term(chunk, span)
        if term is not None and (n, term) not in shown:
            found[(n, span)] = term
            shown.add((n, term))
    return found


def _quote(citation: Citation, span: tuple[int, int], code: bool, term: tuple[int, int] | None = None) -> str:
    """The exact sentence text, cut from the cited passage itself; a command between backticks, shown as code,
    and so is the option line the sentence describes."""
    text = citation.text[span[0] - citation.start : span[1] - citation.start]
    if term is not None:
        return f"`{citation.text[term[0] - citation.start : term[1] - citation.start]}` {text}"
    return f"`{text}`" if code else text
