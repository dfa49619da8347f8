"""Local stand-ins for Slack: the Web API and response URLs (recording every call, and failing on demand the way
Slack does), and the Socket Mode websocket."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from aiohttp import WSMsgType, web

BOT_USER = "UBOT"


@dataclass
class Scripted:
    """One scripted reply: an HTTP status, a JSON body, headers, and a delay before answering."""

    body: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def rate_limited(retry_after: int = 1) -> Scripted:
    """Slack's 429: `ratelimited` with a Retry-After header."""
    return Scripted({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(retry_after)})


def error(code: str) -> Scripted:
    """A Web API refusal as Slack sends it: HTTP 200, ok false, the error code."""
    return Scripted({"ok": False, "error": code})


def member(user: str, team: str = "T1", **flags: Any) -> dict[str, Any]:
    """A `users.info` user as Slack sends it (the fields sourcier reads and their neighbours); flags such as
    is_restricted=True (a guest) or is_stranger=True override."""
    return {"id": user, "team_id": team, "name": user.lower(), "deleted": False, "real_name": f"Personne {user}",
            "tz": "Europe/Paris", "is_admin": False, "is_owner": False, "is_primary_owner": False,
            "is_restricted": False, "is_ultra_restricted": False, "is_bot": False, "is_app_user": False,
            "updated": 1700000000, "profile": {"real_name": f"Personne {user}", "display_name": user.lower(),
                                                "team": team}, **flags}


class FakeSlack:
    """Answers the Web API and response URLs; `calls` holds (method, body) in order; `script` queues failures.

    `members` (channel -> user ids) feeds `conversations.members`, paginated by `limit` with Slack's cursors
    (unknown channel: `channel_not_found`); `users` (id -> a `member()` dict) feeds `users.info`, where an id
    not listed is a plain member of T1 and one in `missing_users` is `user_not_found`.
    """

    def __init__(self) -> None:
        self.members: dict[str, list[str]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.missing_users: set[str] = set()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.ws_url = ""
        self._scripts: dict[str, deque[Scripted]] = defaultdict(deque)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                    for key in ("blocks", "view"):
                        if isinstance(body.get(key), str):
                            body[key] = json.loads(body[key])
                path, _, query = self.path.partition("?")
                body.update({k: v[0] for k, v in parse_qs(query).items()})  # the SDK sends some args in the URL
                method = path.strip("/").removeprefix("api/")
                with fake._lock:
                    fake.calls.append((method, body))
                    queued = fake._scripts[method]
                    scripted = queued.popleft() if queued else None
                if scripted is None:
                    reply: dict[str, Any] | str = fake.reply(method, body)
                    status, headers = 200, {}
                else:
                    time.sleep(scripted.delay)
                    reply, status, headers = scripted.body, scripted.status, scripted.headers
                data = json.dumps(reply).encode() if isinstance(reply, dict) else reply.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if isinstance(reply, dict) else "text/plain")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST  # the SDK sends some methods (users.info) as GET with the arguments in the URL

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api_url = self.url + "/api/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def script(self, method: str, *replies: Scripted) -> None:
        """Make the next calls of a method (e.g. "chat.postMessage", "response/1") get these replies."""
        with self._lock:
            self._scripts[method].extend(replies)

    def reply(self, method: str, body: dict[str, Any]) -> dict[str, Any] | str:
        if method.startswith("response/"):
            return "ok"
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": "BBOT", "team_id": "T1", "team": "test",
                    "user": "sourcier", "url": "https://test.slack.com/"}
        if method == "chat.postMessage":
            return {"ok": True, "channel": body.get("channel"), "ts": f"{time.time():.6f}",
                    "message": {"text": body.get("text", "")}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.ws_url}
        if method == "conversations.members":
            return self._members(body)
        if method == "users.info":
            user = str(body.get("user", ""))
            if user in self.missing_users:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": self.users.get(user) or member(user)}
        return {"ok": True}

    def _members(self, body: dict[str, Any]) -> dict[str, Any]:
        """One page of a channel's members, as Slack pages them: an opaque cursor, empty on the last page."""
        channel = str(body.get("channel", ""))
        if channel not in self.members:
            return {"ok": False, "error": "channel_not_found"}
        every = list(self.members[channel])
        start = int(base64.b64decode(body["cursor"]).decode().split(":")[1]) if body.get("cursor") else 0
        end = start + int(body.get("limit") or 100)
        cursor = base64.b64encode(f"user:{end}".encode()).decode() if end < len(every) else ""
        return {"ok": True, "members": every[start:end], "response_metadata": {"next_cursor": cursor}}

    def methods(self) -> list[str]:
        with self._lock:
            return [m for m, _ in self.calls]

    def named(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [b for m, b in self.calls if m == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
        """Block until `count` calls of a method arrived (bounded), then return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.named(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} {method} call(s), got {self.methods()}")

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._scripts.clear()
            self.members.clear()
            self.users.clear()
            self.missing_users.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeSocket:
    """Slack's Socket Mode endpoint: a websocket that sends envelopes and records the client's acks."""

    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self._ws: web.WebSocketResponse | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}/link"
        self._ready.set()
        self._loop.run_forever()

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
        return ws

    def connected(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self._ws is None:
            assert time.monotonic() < deadline, "the Socket Mode client never connected"
            time.sleep(0.02)

    def send(self, envelope: dict[str, Any]) -> None:
        """Push one envelope (events_api, slash_commands, interactive) to the connected client."""
        assert self._ws is not None
        asyncio.run_coroutine_threadsafe(self._ws.send_str(json.dumps(envelope)), self._loop).result(10)

    def wait_ack(self, envelope_id: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ack in list(self.acks):
                if ack.get("envelope_id") == envelope_id:
                    return ack
            time.sleep(0.02)
        raise AssertionError(f"no ack for {envelope_id}: {self.acks}")

    def close(self) -> None:
        async def stop() -> None:
            if self._ws is not None:
                await self._ws.close()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
