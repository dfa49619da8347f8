"""The HTTP routes; CPU work (embedding, search) runs in worker threads so the event loop stays free."""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.access import Caller
from bot.answer import Answer
from bot.audit import audit
from bot.config import MAX_QUESTION, Settings
from bot.engine import Engine
from bot.http.auth import CallerDep
from bot.http.jobs import Job, ReindexJobs
from bot.http.metrics import Metrics
from bot.http.schemas import (
    MAX_K,
    AskRequest,
    AskResponse,
    CitedSource,
    JobOut,
    PassageOut,
    Readiness,
    ReindexRequest,
    SearchResponse,
    SectionOut,
    SourceOut,
    SourceText,
    errors,
)
from index.snapshot import Snapshot
from index.versions import IndexNotFoundError

router = APIRouter()
_bearer = HTTPBearer(auto_error=False)


# Dependencies are `async def` although they never await: FastAPI runs a plain `def` dependency in its thread
# pool, one thread hop each, which cost more CPU per /v1/ask than BM25 (py-spy; docs/performance.md).
async def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


EngineDep = Annotated[Engine, Depends(_engine)]
SettingsDep = Annotated[Settings, Depends(_settings)]


def _answer_out(answer: Answer, settings: Settings, version: str) -> AskResponse:
    citations = [replace(c, url=c.link(settings.public_url)) for c in answer.citations]
    return AskResponse(question=answer.question, answer=answer.text, found=answer.found, language=answer.language,
                       confidence=answer.confidence, citations=citations, index_version=version,
                       timings_ms=answer.timings_ms, short=answer.short)


@router.post("/v1/ask", response_model=AskResponse, tags=["questions"], responses=errors(401, 404, 503))
async def ask(body: AskRequest, engine: EngineDep, settings: SettingsDep, request: Request,
              caller: CallerDep) -> AskResponse:
    """Answer a question with [n] markers and the cited passages, or say it is not in the sources; only from
    the sources the caller's key (or, anonymous, the public audience) may read."""
    answer = await engine.ask_async(body.question, body.k, body.sources, caller.audiences)
    audit(caller, "ask", (c.source_id for c in answer.citations), answer.found,
          body.question if settings.audit_questions else None)
    metrics: Metrics = request.app.state.metrics
    metrics.answers.labels(outcome="answered" if answer.found else "abstained").inc()
    return _answer_out(answer, settings, answer.index_version)


@router.get("/v1/search", response_model=SearchResponse, tags=["questions"], responses=errors(401, 503))
async def search(engine: EngineDep, settings: SettingsDep, caller: CallerDep,
                 q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION, description="the query")],
                 k: Annotated[int | None, Query(ge=1, le=MAX_K)] = None) -> SearchResponse:
    """Ranked passages with dense, sentence, lexical and fused scores, among the sources the caller may read."""
    result = await engine.search_async(q, k, None, caller.audiences)
    audit(caller, "search", (h.chunk.source_id for h in result.hits), result.found,
          q if settings.audit_questions else None)
    passages = [
        PassageOut(rank=i, source_id=h.chunk.source_id, title=h.chunk.title, text=h.chunk.text, start=h.chunk.start,
                   end=h.chunk.end, score=h.score, dense=h.dense, sentence=h.sentence_cos, lexical=h.lexical,
                   section=h.chunk.section, page=h.chunk.page)
        for i, h in enumerate(result.hits, 1)
    ]
    return SearchResponse(query=result.question, found=result.found, confidence=result.confidence,
                          signals=result.reading.inputs if result.reading else {},
                          contributions=result.reading.contributions if result.reading else {}, passages=passages, index_version=result.index_version)


def _source_out(snapshot: Snapshot, source_id: str) -> SourceOut:
    meta = snapshot.manifest.sources[source_id]
    return SourceOut(source_id=source_id, title=meta.title, path=meta.path, chunks=meta.chunks, chars=meta.chars,
                     sha256=meta.sha256, ingested_at=meta.ingested_at, language=meta.language)


@router.get("/v1/sources", response_model=list[SourceOut], tags=["sources"], responses=errors(401, 503))
async def sources(engine: EngineDep, caller: CallerDep) -> list[SourceOut]:
    """The indexed sources of the live version that the caller may read."""
    snapshot = await engine.run(lambda: engine.snapshot)
    readable = engine.readable(caller.audiences, snapshot)
    return [_source_out(snapshot, sid) for sid in snapshot.manifest.sources if readable is None or sid in readable]


@router.get("/v1/sources/{source_id:path}", response_model=SourceText, tags=["sources"],
            responses=errors(401, 404, 503))
async def source(source_id: str, engine: EngineDep, caller: CallerDep) -> SourceText:
    """One source's text as indexed, so citation offsets can be highlighted in context; never reads a file.
    A source the caller may not read is unknown to them, with the same 404."""
    snapshot = await engine.run(lambda: engine.snapshot)
    readable = engine.readable(caller.audiences, snapshot)
    if source_id not in snapshot.texts or (readable is not None and source_id not in readable):
        raise HTTPException(404, f"unknown source {source_id!r}; GET /v1/sources lists them")
    audit(caller, "source", [source_id])
    return source_text(snapshot, source_id)


def source_text(snapshot: Snapshot, source_id: str) -> SourceText:
    """A source's text, title and sections, as the viewer shows them."""
    sections = [SectionOut(start=a, end=b, path=p, anchor=anchor, page=page)
                for a, b, p, anchor, page in snapshot.manifest.sources[source_id].sections]
    return SourceText(**_source_out(snapshot, source_id).model_dump(), text=snapshot.texts[source_id],
                      sections=sections)


@router.get("/v1/cite/{token}", response_model=CitedSource, tags=["sources"], responses=errors(403, 404, 503))
async def cite(token: str, engine: EngineDep, request: Request) -> CitedSource:
    """The source of one passage, for whoever holds a valid signed citation link (no API key): a tampered,
    expired or pre-rotation link is a 403 whose `detail` says so in French."""
    passage = await asyncio.to_thread(request.app.state.links.check, token)  # may ask the shared database
    snapshot = await engine.run(lambda: engine.snapshot)
    if passage.source_id not in snapshot.texts:
        raise HTTPException(404, "La source de ce passage n'est plus indexée.")
    audit(Caller("link", "web"), "cite", [passage.source_id])
    return CitedSource(**source_text(snapshot, passage.source_id).model_dump(), start=passage.start,
                       end=passage.end, sentence_start=passage.sentence_start, sentence_end=passage.sentence_end,
                       words=passage.words)


async def _admin(request: Request, settings: SettingsDep,
           credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Bearer token compared in constant time; admin is off when no token is configured."""
    if settings.admin_token is None or not settings.admin_token.get_secret_value():
        raise HTTPException(403, "admin endpoints are disabled: set SOURCIER_ADMIN_TOKEN to enable them")
    given = credentials.credentials.encode() if credentials else b""
    if not hmac.compare_digest(given, settings.admin_token.get_secret_value().encode()):
        raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})


def _job_out(job: Job) -> JobOut:
    return JobOut(**{k: v for k, v in job.__dict__.items() if k != "worker"})  # a pid is nobody's business


@router.post("/v1/admin/reindex", status_code=202, response_model=JobOut, tags=["admin"],
             dependencies=[Depends(_admin)], responses=errors(401, 403, 409))
async def reindex(request: Request, response: Response, body: ReindexRequest | None = None) -> JobOut:
    """Re-ingest the folder the index was built from in the background; the old version serves until the new
    one is live. An ingest that would replace the index fails unless the body says {"replace": true}."""
    jobs: ReindexJobs = request.app.state.jobs
    job = await jobs.start(replace=body.replace if body else False)
    response.headers["Location"] = f"/v1/admin/reindex/{job.job_id}"
    return _job_out(job)


@router.get("/v1/admin/reindex/{job_id}", response_model=JobOut, tags=["admin"], dependencies=[Depends(_admin)],
            responses=errors(401, 403, 404))
async def reindex_status(job_id: str, request: Request) -> JobOut:
    """A re-index job's status and, when finished, its report or error."""
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no re-index job {job_id!r} (only the last 50 are kept)")
    return _job_out(job)


@router.delete("/v1/admin/reindex/{job_id}", response_model=JobOut, tags=["admin"], dependencies=[Depends(_admin)],
               responses=errors(401, 403, 404, 409))
async def reindex_cancel(job_id: str, request: Request) -> JobOut:
    """Cancel a queued or running re-index job: its ingest process is killed and the old version keeps serving."""
    jobs: ReindexJobs = request.app.state.jobs
    job = await jobs.cancel(job_id)
    if job is None:
        raise HTTPException(404, f"no re-index job {job_id!r} (only the last 50 are kept)")
    return _job_out(job)


@router.head("/healthz", include_in_schema=False)
@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


def public_detail(message: str, settings: Settings) -> str:
    """An error message for unauthenticated clients: the server's index path becomes the variable that sets it."""
    for path in sorted({str(settings.index_dir.resolve()), str(settings.index_dir)}, key=len, reverse=True):
        message = message.replace(path, "$SOURCIER_INDEX_DIR")
    return message


@router.head("/readyz", response_model=Readiness, include_in_schema=False)
@router.get("/readyz", response_model=Readiness, tags=["ops"], responses={503: {"model": Readiness}})
async def readyz(engine: EngineDep) -> Readiness | JSONResponse:
    """Ready when an index is loaded; 503 with instructions otherwise."""
    try:
        snapshot = await engine.run(lambda: engine.snapshot)
    except IndexNotFoundError as exc:
        body = Readiness(ready=False, embedder=engine.embedder.name, detail=public_detail(str(exc), engine.settings))
        return JSONResponse(body.model_dump(), status_code=503)
    return Readiness(ready=True, index_version=snapshot.version, sources=len(snapshot.texts),
                     chunks=snapshot.manifest.counts["chunks"], embedder=engine.embedder.name)


@router.get("/metrics", tags=["ops"], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
