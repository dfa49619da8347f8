"""A local stand-in for Slack's Web API and response_url endpoints that records every call."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_USER = "UBOT"


class FakeSlack:
    """Answers auth.test, chat.*, reactions.* and response URLs; `calls` holds (method, body) in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                    for key in ("blocks",):
                        if isinstance(body.get(key), str):
                            body[key] = json.loads(body[key])
                path, _, query = self.path.partition("?")
                body.update({k: v[0] for k, v in parse_qs(query).items()})  # the SDK sends some args in the URL
                method = path.strip("/").removeprefix("api/")
                with fake._lock:
                    fake.calls.append((method, body))
                reply = fake.reply(method, body)
                data = json.dumps(reply).encode() if isinstance(reply, dict) else reply.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json" if isinstance(reply, dict) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api_url = self.url + "/api/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def reply(self, method: str, body: dict[str, Any]) -> dict[str, Any] | str:
        if method.startswith("response/"):
            return "ok"
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": "BBOT", "team_id": "T1", "team": "test",
                    "user": "sourcier", "url": "https://test.slack.com/"}
        if method == "chat.postMessage":
            return {"ok": True, "channel": body.get("channel"), "ts": f"{time.time():.6f}",
                    "message": {"text": body.get("text", "")}}
        return {"ok": True}

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

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
