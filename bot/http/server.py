"""The HTTP server process: uvicorn with a request-head guard, so one client cannot hold memory or connections.

httptools reads a request head of any size, and uvicorn waits for a head, and for the body it announces,
forever; `GuardedHttp` refuses a head over 32 KiB with 431 and closes a connection whose head is not complete
10 s after its first byte (or after connecting), or whose body is not complete 10 s after its head, with 408.
`sourcier serve` and the tests' live servers both use `server_config`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)
MAX_HEAD_BYTES = 32 * 1024  # request line and headers; nginx's default large_client_header_buffers is 4 × 8 KiB
HEAD_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 10.0  # from the end of the head to the end of the body: 64 KiB (the body cap) at 6.5 KB/s
LINGER_S = 1.0  # after refusing, keep reading (and dropping) this long before closing


def _status(code: int, reason: str, detail: str) -> bytes:
    """A complete JSON error response that closes the connection, in the API's ErrorOut shape."""
    body = f'{{"detail": "{detail}"}}'.encode()
    return (f"HTTP/1.1 {code} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode() + body


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the size of, and the time to send, a request head."""

    _head_bytes = 0
    _in_head = True
    _refused = False
    _timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()

    def _start_head(self) -> None:
        self._in_head, self._head_bytes = True, 0
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(HEAD_TIMEOUT_S, self._too_slow)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: read and drop, so the client sees the status, not a reset
        if self._in_head:  # checked before parsing: a whole oversized head may arrive in one chunk
            room = MAX_HEAD_BYTES - self._head_bytes
            if data.find(b"\r\n\r\n", 0, room + 4) < 0:
                if len(data) > room:
                    self._refuse(431, "Request Header Fields Too Large",
                                 f"request line and headers over {MAX_HEAD_BYTES // 1024} KiB")
                    return
                self._head_bytes += len(data)
        super().data_received(data)

    def on_message_begin(self) -> None:
        if not self._in_head:
            self._start_head()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(BODY_TIMEOUT_S, self._body_too_slow)  # cancelled when the body is in
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        super().connection_lost(exc)

    def _too_slow(self) -> None:
        if self._in_head and not self.transport.is_closing():
            self._refuse(408, "Request Timeout", f"request head not complete after {HEAD_TIMEOUT_S:g} s")

    def _body_too_slow(self) -> None:
        """A body announced (Content-Length, chunked) that never ends would hold the app and the socket forever."""
        if self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.response_started:  # answered without reading it: just close
            self.transport.close()
            return
        self._refuse(408, "Request Timeout", f"request body not complete {BODY_TIMEOUT_S:g} s after its head")

    def _refuse(self, code: int, reason: str, detail: str) -> None:
        log.warning("%s from %s: %s", code, self.client[0] if self.client else "?", detail)
        self._in_head, self._refused = False, True
        self.transport.write(_status(code, reason, detail))
        self.loop.call_later(LINGER_S, self.transport.close)


PROTOCOL = "bot.http.server:GuardedHttp"  # an import string, so uvicorn's worker processes load it too


def proxy_options() -> dict[str, Any]:
    """uvicorn's own proxy handling off: the app does it (bot/http/proxy.py, SOURCIER_FORWARDED_ALLOW_IPS), so it
    can still tell which connections came through a trusted proxy (whose user header it may then believe).

    uvicorn's own default believes X-Forwarded-For from 127.0.0.1, so any local client, or a proxy that passes
    the header on, could name a new address with each request and never meet the per-address rate limit.
    """
    return {"proxy_headers": False, "forwarded_allow_ips": ""}


def server_config(app: Any, **kwargs: Any) -> uvicorn.Config:
    """uvicorn's config with the guarded protocol and the proxy options, as `sourcier serve` runs it."""
    return uvicorn.Config(app, http=PROTOCOL, **proxy_options(), **kwargs)
