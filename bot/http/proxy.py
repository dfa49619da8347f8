"""Believing a reverse proxy: X-Forwarded-For (uvicorn's middleware) and, for an authenticating proxy, its user
header, both only from SOURCIER_FORWARDED_ALLOW_IPS (`serve --forwarded-allow-ips`).

The app does this instead of uvicorn's server option so that it still knows, per request, whether the
connection came from a trusted proxy: a user header from anyone else is never believed.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

VIA_PROXY = "sourcier.via_proxy"  # scope key: True when the connecting peer is a trusted proxy


class TrustedProxy:
    """Pure ASGI middleware: mark requests from a trusted proxy, then let uvicorn's middleware rewrite the client."""

    def __init__(self, app: ASGIApp, trusted: str) -> None:
        self.inner = ProxyHeadersMiddleware(app, trusted_hosts=trusted)  # type: ignore[arg-type]
        self.trusted = self.inner.trusted_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer = scope.get("client")
            scope[VIA_PROXY] = peer is not None and peer[0] in self.trusted
        await self.inner(scope, receive, send)  # type: ignore[arg-type]
