"""HTTP request and response models: the API's contract, and what /docs shows."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.answer import Citation
from bot.config import MAX_QUESTION

MAX_K = 20


class AskRequest(BaseModel):
    """A question, optionally limited to some sources."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"question": "Qui dirige OpenAI par intérim ?", "k": 3}]})

    question: str = Field(..., description="the question, in French or English (SOURCIER_MAX_QUESTION_CHARS "
                                         "sets the limit, at most 10,000)", max_length=MAX_QUESTION)
    k: int | None = Field(None, ge=1, le=MAX_K, description="how many passages to cite (default: SOURCIER_K)")
    sources: list[str] | None = Field(None, max_length=100, description="only search these source ids or folder "
                                                                               "prefixes (e.g. man/)")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        """Whitespace is not a question."""
        if not value.strip():
            raise ValueError("the question is empty: type a question, e.g. « Qui dirige OpenAI par intérim ? »")
        return value


class AskResponse(BaseModel):
    """The answer with [n] markers, or found=false and an honest "je ne sais pas"."""

    question: str
    answer: str
    found: bool
    language: Literal["fr", "en"]
    confidence: float
    citations: list[Citation]
    index_version: str
    timings_ms: dict[str, float]
    short: str = Field("", description="the short answer (a name, a date, a number) inside the first quoted "
                                       "sentence, for highlighting; empty when the question asks for none")


class PassageOut(BaseModel):
    """One ranked passage with every score that ranked it."""

    rank: int
    source_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    dense: float
    sentence: float
    lexical: float
    section: str = ""
    page: int = Field(0, description="the PDF page of the passage; 0 for other formats")


class SearchResponse(BaseModel):
    """Ranked passages, no answer composition."""

    query: str
    found: bool
    confidence: float
    signals: dict[str, float] = Field(default_factory=dict, description="what the reader's answer-or-abstain "
                                                                         "decision read, for its best sentence")
    contributions: dict[str, float] = Field(default_factory=dict, description="each input's part of the decision's "
                                                                               "log-odds")
    passages: list[PassageOut]
    index_version: str


class SourceOut(BaseModel):
    """An indexed source."""

    source_id: str
    title: str
    path: str
    chunks: int
    chars: int
    sha256: str
    ingested_at: str
    language: str = Field("", description="what most of the source is in: fr or en (empty when too short to tell)")


class SectionOut(BaseModel):
    """A run of the source's text under one heading (and PDF page): [start, end) offsets into `text`."""

    start: int
    end: int
    path: str = Field(description="the headings, « Titre › Section »")
    anchor: str = Field("", description="the heading's anchor in the original (HTML id, Markdown slug, page=N)")
    page: int = Field(0, description="the PDF page; 0 for other formats")


class SourceText(SourceOut):
    """A source with its full text, so a citation can be shown in context, and its section boundaries."""

    text: str
    sections: list[SectionOut] = Field(default_factory=list)


class CitedSource(SourceText):
    """What a signed citation link opens: that passage's source, and where the passage is in it."""

    start: int
    end: int
    sentence_start: int
    sentence_end: int
    words: str = Field(description="the cited sentence's first words, to find it again after an edit")


class ReindexRequest(BaseModel):
    """Optional body of POST /v1/admin/reindex."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"replace": True}]})

    replace: bool = Field(False, description="allow replacing the index: reading another folder than the one it "
                                             "was built from, or removing more than half of its sources")


class JobOut(BaseModel):
    """A re-index job and, once finished, its ingest report or its error."""

    job_id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    created_at: str
    finished_at: str | None = None
    report: dict[str, object] | None = None
    error: str | None = None


class Readiness(BaseModel):
    """What the server is serving."""

    ready: bool
    index_version: str | None = None
    sources: int = 0
    chunks: int = 0
    embedder: str
    detail: str | None = None


class ErrorOut(BaseModel):
    """Every error: a sentence a person can act on, plus the field errors for validation failures."""

    detail: str
    errors: list[dict[str, object]] | None = None


def errors(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error statuses a route can answer, all with the ErrorOut body."""
    return {code: {"model": ErrorOut} for code in (*codes, 413, 422, 429)}
