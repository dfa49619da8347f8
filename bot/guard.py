"""Protection at the edge: request body size cap, and per-client token-bucket rate limits (HTTP and Slack)."""

from __future__ import annotations

import json
import math
import threading
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Routes a person or a probe must always reach; Slack is limited per Slack user inside the app.
_UNLIMITED = ("/healthz", "/readyz", "/metrics", "/static/", "/slack/events")


class RateLimiter:
    """Token buckets by key: `per_minute` sustained, `burst` at once; a rate of 0 disables limiting."""

    def __init__(self, per_minute: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(burst, 1)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def check(self, key: str) -> float:
        """0 when the request may go ahead (and is counted), else the seconds to wait before retrying."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                self._evict()
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def _evict(self) -> None:
        """Forget the oldest keys so a flood of addresses cannot grow memory without bound."""
        if len(self._buckets) > self._max_keys:
            for key in list(self._buckets)[: len(self._buckets) // 10]:
                del self._buckets[key]


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
