"""create_app(): the FastAPI service, its lifespan (model and index load once), errors and metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.citelinks import link_signer
from bot.config import Settings
from bot.engine import Engine
from bot.http.guard import Guard
from bot.http.job_records import SqlJobRecords
from bot.http.jobs import ReindexJobs
from bot.http.metrics import Metrics
from bot.http.pages import add_pages
from bot.http.proxy import TrustedProxy
from bot.http.reindex_queue import ReindexQueue
from bot.http.routes import public_detail, router
from bot.keys import KeyStore
from bot.ratelimit import RateLimiter
from bot.statedb import shared_database
from index.errors import EmbedderMismatchError, IndexCorruptError, SourcierError
from index.versions import IndexNotFoundError

log = logging.getLogger(__name__)
NOT_JSON = "body: not a JSON document in UTF-8 (send Content-Type: application/json with a UTF-8 body)"


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The whole HTTP service; pass an engine to share a loaded model (tests), or let the lifespan load one."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        live = engine if engine is not None else await asyncio.to_thread(Engine, settings)
        metrics: Metrics = app.state.metrics
        live.on_swap = lambda snap: metrics.serving(snap.version, snap.manifest.counts["chunks"])
        live.cache.on_lookup = lambda hit: metrics.answer_cache.labels(result="hit" if hit else "miss").inc()
        live.batch_stats.on_batch = metrics.embed_batch.observe
        if live.database is not None:
            rows = live.database.rows
            metrics.follow_passages(lambda: rows.hits, lambda: rows.misses)
        try:
            snap = await asyncio.to_thread(lambda: live.snapshot)
            metrics.serving(snap.version, snap.manifest.counts["chunks"])
        except (IndexNotFoundError, IndexCorruptError, EmbedderMismatchError) as exc:
            log.warning("starting without an index: %s", exc)
        app.state.engine = live
        shared = await asyncio.to_thread(shared_database, settings)  # one pool for the jobs, keys and Slack store
        queue = await _reindex_queue(settings)
        app.state.jobs = ReindexJobs(live, metrics, settings.data_dir / "jobs",
                                     SqlJobRecords(shared) if shared is not None else None, queue)
        working = asyncio.create_task(queue.work()) if queue is not None else None
        keys = app.state.keys = await asyncio.to_thread(KeyStore, settings.data_dir, shared,
                                                        settings.database_poll_seconds)
        links = app.state.links = await asyncio.to_thread(link_signer, settings, shared)
        store = None
        if slack_on:
            from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler

            from bot.slack.app import create_slack_app
            from bot.slack.store import open_store

            store = open_store(settings, shared)
            app.state.slack_handler = AsyncSlackRequestHandler(create_slack_app(settings, live, store, signer=links))
        yield
        if queue is not None and working is not None:
            working.cancel()  # a job still running is given a few seconds, then recorded as interrupted
            await asyncio.gather(working, return_exceptions=True)
            await queue.close()
        keys.close()
        links.close()
        for held in (store, shared):  # closing the shared pool twice is harmless
            if held is not None:
                held.close()

    slack_on = settings.slack_enabled()  # half-configured Slack fails here, naming the missing variable
    app = FastAPI(title="sourcier", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Answers from your French sources, with exact cited passages.")
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.slack_handler = None
    app.include_router(router)
    _add_errors(app)
    app.add_middleware(Guard, max_body=settings.max_body_bytes,
                       limiter=RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst))
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "Authorization"])
    app.add_middleware(Observe)  # counts 413s and 429s too
    if settings.forwarded_allow_ips:  # outermost: the rate limit and the caller see the forwarded client
        app.add_middleware(TrustedProxy, trusted=settings.forwarded_allow_ips)
    add_pages(app)
    return app


async def _reindex_queue(settings: Settings) -> ReindexQueue | None:
    """With a shared database, re-index jobs go through its queue, which this process also works."""
    if settings.database_url is None:
        return None
    queue = await asyncio.to_thread(ReindexQueue, settings.database_url.get_secret_value(),
                                    settings.ingest_heartbeat_seconds)
    await queue.open()
    return queue


def _add_errors(app: FastAPI) -> None:
    """Translate named errors and validation failures into a status and a `detail` a person can act on."""

    async def named(request: Request, exc: Exception) -> JSONResponse:
        status = exc.status if isinstance(exc, SourcierError) else 500
        message = exc.http_detail() if isinstance(exc, SourcierError) else str(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": public_detail(message, request.app.state.settings)}, status_code=status,
                            headers=headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        if _unparsed_body(request, errors):  # FastAPI only parses JSON it is told is JSON
            return JSONResponse({"detail": NOT_JSON, "errors": _jsonable(list(errors))}, status_code=422)
        parts = []
        for error in errors:
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            parts.append(f"{where}: {message}")
        detail = "; ".join(parts) or "invalid request"
        return JSONResponse({"detail": detail, "errors": _jsonable(list(errors))}, status_code=422)

    async def unparsable(request: Request, exc: Exception) -> Response:
        # FastAPI answers 400 "There was an error parsing the body" for bytes that are not JSON in UTF-8
        # (Latin-1, gzip, huge integers): the same bad input as malformed JSON, so the same documented 422.
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 400 and "parsing the body" in str(exc.detail):
            return JSONResponse({"detail": NOT_JSON, "errors": []}, status_code=422)
        return await http_exception_handler(request, exc)  # type: ignore[arg-type]

    app.add_exception_handler(SourcierError, named)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, unparsable)


def _unparsed_body(request: Request, errors: Sequence[Any]) -> bool:
    """A body refused as a whole because it was not sent as JSON (« Input should be a valid dictionary »)."""
    whole = any(tuple(e.get("loc", ())) == ("body",) and e.get("type") == "model_attributes_type" for e in errors)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return whole and not (content_type == "application/json" or content_type.endswith("+json"))


def _jsonable(errors: list[dict[str, object]]) -> list[dict[str, object]]:
    """Validation errors without the raw input and exception objects, which may not serialise."""
    return [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors]


class Observe:
    """Pure ASGI middleware: count and time requests by route template.

    (Starlette's BaseHTTPMiddleware costs about a millisecond a request; this costs microseconds.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            metrics: Metrics = state.metrics
            metrics.requests.labels(route=template, method=scope["method"], status=str(status)).inc()
            metrics.latency.labels(route=template).observe(time.perf_counter() - started)


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory` and multi-worker serving: settings from the environment."""
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(settings)
