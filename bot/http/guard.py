"""Protection at the HTTP edge: request body size cap, and per-client rate limits (bot/ratelimit.py)."""

from __future__ import annotations

import json
import math

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.ratelimit import RateLimiter

# Routes a person or a probe must always reach; Slack is limited per Slack user inside the app.
_UNLIMITED = ("/healthz", "/readyz", "/metrics", "/static/", "/slack/events")


async def _reply(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Pure ASGI middleware: 413 past `max_body` bytes (declared or streamed), 429 + Retry-After past the rate."""

    def __init__(self, app: ASGIApp, max_body: int, limiter: RateLimiter) -> None:
        self.app = app
        self.max_body = max_body
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if not path.startswith(_UNLIMITED) and path != "/":
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.limiter.check(client)
            if wait:
                retry = str(math.ceil(wait))
                await _reply(send, 429, f"too many requests from {client}: retry in {retry} s",
                             [(b"retry-after", retry.encode())])
                return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _reply(send, 413, f"request body over {self.max_body} bytes")
            return
        await self._capped(scope, receive, send)

    async def _capped(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count streamed bytes (chunked uploads declare no length) and stop reading at the cap."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise HTTPException(413, f"request body over {self.max_body} bytes")
            return message

        await self.app(scope, counted, send)
