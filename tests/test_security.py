"""Edges that refuse abuse: body size, encoding, rate limits, CORS, secrets, hostile sources."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from bot.ratelimit import RateLimiter
from ingest.embed import Embedder
from tests.conftest import ADMIN_TOKEN, LiveServer


@pytest.fixture()
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as c:
        yield c


def test_security_large_body_is_413(client: httpx.Client) -> None:
    big = b'{"question": "' + b"a" * 70_000 + b'"}'
    r = client.post("/v1/ask", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "65536" in r.json()["detail"]


def test_security_large_chunked_body_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(80):
            yield b"a" * 1000
        yield b'"}'

    r = client.post("/v1/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_security_invalid_utf8_is_4xx(client: httpx.Client) -> None:
    r = client.post("/v1/ask", content=b'{"question": "\xff\xfe caf\xe9"}', headers={"Content-Type":
                                                                                  "application/json"})
    assert 400 <= r.status_code < 500 and r.json()["detail"]


@pytest.mark.parametrize("path", ["..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd", "....//etc/passwd",
                                  "/etc/passwd", "openai-altman-microsoft/../../../etc/passwd"])
def test_security_path_traversal_never_reads_files(client: httpx.Client, path: str) -> None:
    r = client.get(f"/v1/sources/{path}")
    assert r.status_code == 404 and "root:" not in r.text


def test_security_admin_token_never_leaks(client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    r = client.post("/v1/admin/reindex", headers={"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"})
    assert r.status_code == 401 and ADMIN_TOKEN not in r.text
    assert ADMIN_TOKEN not in client.get("/metrics").text
    assert ADMIN_TOKEN not in caplog.text
    assert ADMIN_TOKEN not in repr(Settings(admin_token=SecretStr(ADMIN_TOKEN)))


def test_security_rate_limiter_refills() -> None:
    limiter = RateLimiter(per_minute=60, burst=2)
    assert limiter.check("a") == 0 and limiter.check("a") == 0
    assert 0 < limiter.check("a") <= 1.0
    assert limiter.check("b") == 0  # per key
    assert RateLimiter(per_minute=0, burst=1).check("a") == 0


def test_security_http_rate_limit_is_429_with_retry_after(seed_settings: Settings, engine: Engine) -> None:
    settings = seed_settings.model_copy(update={"rate_limit_per_minute": 6, "rate_limit_burst": 3})
    with LiveServer(create_app(settings, engine)) as server, server.client() as c:
        codes = [c.get("/v1/sources").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.get("/v1/sources")
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and "retry in" in r.json()["detail"]
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200


def test_security_cors_off_by_default_and_configurable(seed_settings: Settings, engine: Engine,
                                                       client: httpx.Client) -> None:
    origin = {"Origin": "https://evil.example"}
    assert "access-control-allow-origin" not in client.get("/v1/sources", headers=origin).headers
    settings = seed_settings.model_copy(update={"cors_origins": ["https://intranet.example"]})
    with LiveServer(create_app(settings, engine)) as server, server.client() as c:
        ok = c.get("/v1/sources", headers={"Origin": "https://intranet.example"})
        assert ok.headers["access-control-allow-origin"] == "https://intranet.example"
        assert "access-control-allow-origin" not in c.get("/v1/sources", headers=origin).headers


def test_security_slow_client_does_not_block_others(live_server: LiveServer) -> None:
    body = b'{"question": "Qui a fond\xc3\xa9 Twitch.tv ?"}'
    slow = socket.create_connection(("127.0.0.1", live_server.port))
    slow.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    stop = threading.Event()

    def trickle() -> None:
        for byte in body[:-1]:
            if stop.wait(0.05):
                return
            slow.sendall(bytes([byte]))

    feeder = threading.Thread(target=trickle)
    feeder.start()
    try:
        with live_server.client(timeout=5) as c:  # a blocked server would time these out
            for _ in range(5):
                assert c.post("/v1/ask", json={"question": "Qui a fondé Twitch.tv ?"}).status_code == 200
    finally:
        stop.set()
        feeder.join()
        slow.close()


def test_security_hostile_source_is_text_everywhere(tmp_path: Path, embedder: Embedder) -> None:
    hostile = ("# Piège\n\nAttention <script>window.pwned=1</script> et <img src=x onerror=\"window.pwned=2\"> "
               "ainsi que <!channel> <!here> <@U123> & co. Le mot de passe du coffre est tournesol.\n")
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "piege.md").write_text(hostile, encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "index", sources_dir=tmp_path / "seeds", rate_limit_per_minute=0)
    engine = Engine(settings, embedder=embedder)
    engine.ingest()
    answer = engine.ask("Quel est le mot de passe du coffre ?")
    assert answer.found and "<script>" in answer.citations[0].text  # kept verbatim; escaping is each edge's job
    from bot.slack.blocks import answer_blocks

    rendered = str(answer_blocks(answer, "id", {}))
    assert "<!channel>" not in rendered and "<@U123>" not in rendered and "<script>" not in rendered


@pytest.mark.parametrize("body", [b'{"question": "caf\xe9 ?"}', b"\x1f\x8b\x08\x00garbage",
                                  b'{"question": "x", "k": ' + b"9" * 5000 + b"}"])
def test_security_undecodable_bodies_get_the_documented_422(client: httpx.Client, body: bytes) -> None:
    r = client.post("/v1/ask", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"], r.text


def test_security_health_routes_answer_head(client: httpx.Client) -> None:
    assert client.head("/healthz").status_code == 200
    assert client.head("/readyz").status_code == 200


def test_security_term_cache_is_bounded_and_skips_long_texts() -> None:
    from index.lexical import FrenchAnalyzer, _cached_terms

    before = _cached_terms.cache_info()
    FrenchAnalyzer().terms("mot " * 2000)  # a long distinct question is analysed, not kept
    assert _cached_terms.cache_info().currsize == before.currsize and before.maxsize == 16384


def _raw(server: LiveServer, data: bytes, timeout: float = 20) -> bytes:
    """Send raw bytes on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused before reading everything
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_security_oversized_request_head_gets_431_and_others_are_served(live_server: LiveServer,
                                                                          client: httpx.Client) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2_000_000 + b"\r\n\r\n"
    reply = _raw(live_server, head)
    assert reply.startswith(b"HTTP/1.1 431 ") and b'"detail"' in reply
    huge_url = b"GET /healthz?" + b"q" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert _raw(live_server, huge_url).startswith(b"HTTP/1.1 431 ")
    assert client.get("/healthz").status_code == 200
    normal = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fine: " + b"b" * 8000 + b"\r\nConnection: close\r\n\r\n"
    assert _raw(live_server, normal).startswith(b"HTTP/1.1 200 ")


def test_security_client_that_never_finishes_its_head_is_closed(seed_settings: Settings, engine: Engine,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.http import server as guarded

    monkeypatch.setattr(guarded, "HEAD_TIMEOUT_S", 0.5)
    with LiveServer(create_app(seed_settings, engine)) as server:
        started = time.monotonic()
        reply = _raw(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and then nothing
        assert reply.startswith(b"HTTP/1.1 408 ") and time.monotonic() - started < 15
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as silent:  # connects, says nothing
            assert silent.recv(4096).startswith(b"HTTP/1.1 408 ")
        keep_alive = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert _raw(server, keep_alive).count(b"HTTP/1.1 200 ") == 2


def test_security_client_that_never_sends_its_announced_body_is_closed(
        seed_settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from bot.http import server as guarded

    monkeypatch.setattr(guarded, "BODY_TIMEOUT_S", 0.5, raising=False)  # without it: times out
    head = b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    with caplog.at_level(logging.WARNING), LiveServer(create_app(seed_settings, engine)) as server:
        stuck = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(20)]
        for sock in stuck:
            sock.sendall(head + b'{"question": "Qui')  # and the other 183 bytes never come
        started = time.monotonic()
        for sock in stuck:
            reply = b"".join(iter(partial(sock.recv, 65536), b""))  # read until the server closes (timeout 5 s)
            assert reply.startswith(b"HTTP/1.1 408 ") and b"request body not complete" in reply
            sock.close()
        assert time.monotonic() - started < 5
        body = json.dumps({"question": "Qui a fondé Twitch.tv ?"}).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:  # a body in time is served
            sock.sendall(head.replace(b"200", str(len(body)).encode()) + body[:10])
            sock.sendall(body[10:])
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    assert not [r for r in caplog.records if r.exc_info]


def test_security_503_details_never_show_the_server_index_path(tmp_path: Path, embedder: Embedder) -> None:
    index_dir = (tmp_path / "secret-place" / "index").resolve()
    settings = Settings(index_dir=index_dir, rate_limit_per_minute=0)
    with LiveServer(create_app(settings, Engine(settings, embedder=embedder))) as server, server.client() as c:
        ready, ask = c.get("/readyz"), c.post("/v1/ask", json={"question": "Qui ?"})
    assert ready.status_code == ask.status_code == 503
    for body in (ready.text, ask.text):
        assert "secret-place" not in body and "$SOURCIER_INDEX_DIR" in body and "sourcier ingest" in body
