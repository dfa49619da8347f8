"""What a browser asks for besides the API: the chat page, its icon, and the API docs served offline."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from bot.config import Settings
from bot.ratelimit import RateLimiter
from bot.slack.payload import payload_problem

WEB = Path(__file__).parent / "web"
log = logging.getLogger(__name__)


def add_pages(app: FastAPI) -> None:
    """Mount the web page, the favicon, Swagger UI's own files (no CDN: /docs works offline) and Slack's route."""
    app.mount("/static/swagger", StaticFiles(directory=str(swagger_ui_path)), name="swagger")  # before /static
    app.mount("/static", StaticFiles(directory=WEB), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(WEB / "favicon.ico", media_type="image/x-icon")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title="sourcier — API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css",
                                   swagger_favicon_url="/favicon.ico")

    unsigned = RateLimiter(per_minute=30, burst=10)  # failed Slack signatures per client address

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        """Slack events, slash commands and button clicks (HTTP mode): the signature is checked before anything
        is parsed; a bad one gets 401 and one log line (429 when an address keeps trying)."""
        handler = request.app.state.slack_handler
        if handler is None:
            return JSONResponse({"detail": "Slack is not configured on this server: set SLACK_BOT_TOKEN and "
                                           "SLACK_SIGNING_SECRET (README, 'Connect Slack')"}, status_code=404)
        body = await request.body()
        if not _signed(request.app.state.settings, body, request.headers):
            client = request.client.host if request.client else "?"
            wait = unsigned.check(client)
            log.warning("refused an unsigned or stale Slack request from %s (%d bytes)", client, len(body))
            if wait:
                return JSONResponse({"detail": "too many invalid Slack requests"}, status_code=429,
                                    headers={"Retry-After": str(math.ceil(wait))})
            return JSONResponse({"detail": "invalid or missing Slack signature"}, status_code=401)
        problem = payload_problem(body, request.headers.get("content-type", ""))
        if problem:
            log.warning("malformed signed Slack request: %s", problem)
            return JSONResponse({"detail": f"malformed Slack request: {problem}"}, status_code=400)
        try:
            response: Response = await handler.handle(request)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # signed, but not a payload Bolt can read
            log.warning("unreadable signed Slack request: %s: %s", type(exc).__name__, exc)
            return JSONResponse({"detail": "malformed Slack request"}, status_code=400)
        return response


def _signed(settings: Settings, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's v0 HMAC over timestamp and body, timestamp within 5 minutes; malformed headers are just invalid."""
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    timestamp, signature = headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
    # isascii: `²` and `١٢` pass isdigit(); headers arrive decoded as Latin-1, so a non-ASCII signature is possible
    if not secret or not timestamp or not signature or not (timestamp.isascii() and timestamp.isdigit()) or \
            abs(time.time() - int(timestamp)) > 300:
        return False
    expected = "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    # bytes, not str: compare_digest raises TypeError on non-ASCII text (an unauthenticated 500, never counted);
    # and over the raw body, since slack_sdk's verifier fails on non-UTF-8
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "backslashreplace"))
