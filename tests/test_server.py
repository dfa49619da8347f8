"""The server process (bot/http/server.py, `sourcier serve`): whose X-Forwarded-For the rate limit believes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from tests.conftest import LiveServer
from tests.processes import sourcier_serve


def _codes(client: httpx.Client, addresses: list[str]) -> list[int]:
    return [client.get("/v1/sources", headers={"X-Forwarded-For": a}).status_code for a in addresses]


def test_server_ignores_forwarded_for_unless_the_proxy_is_allowed(seed_settings: Settings, engine: Engine) -> None:
    settings = seed_settings.model_copy(update={"rate_limit_per_minute": 6, "rate_limit_burst": 3,
                                                "allow_anonymous": True})  # clients behind the proxy are not local
    spoofed = [f"203.0.113.{i}" for i in range(5)]  # a new address per request, from a loopback client
    with LiveServer(create_app(settings, engine)) as server, server.client() as c:
        assert _codes(c, spoofed) == [200, 200, 200, 429, 429]
    proxy = settings.model_copy(update={"forwarded_allow_ips": "127.0.0.1"})
    with LiveServer(create_app(proxy, engine)) as proxied, proxied.client() as c:
        assert _codes(c, spoofed) == [200] * 5  # behind an allowed proxy, each client has its own bucket
        assert _codes(c, ["198.51.100.7"] * 4) == [200, 200, 200, 429]


@pytest.fixture()
def served(seed_settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[str]:
    """`sourcier serve --port 0 --forwarded-allow-ips 127.0.0.1` as a real process; yields its URL."""
    env = {**os.environ, "SOURCIER_INDEX_DIR": str(seed_settings.index_dir), "SOURCIER_DATA_DIR": str(tmp_path),
           "SOURCIER_RATE_LIMIT_PER_MINUTE": "6", "SOURCIER_RATE_LIMIT_BURST": "2", "HF_HUB_OFFLINE": "1",
           "SOURCIER_ALLOW_ANONYMOUS": "true"}  # clients behind the proxy are not local: a demo without keys
    with sourcier_serve(env, "--forwarded-allow-ips", "127.0.0.1") as (url, _):
        yield url


def test_server_serve_option_trusts_forwarded_for_from_the_listed_proxy(served: str) -> None:
    with httpx.Client(base_url=served, timeout=30) as c:
        assert _codes(c, ["203.0.113.1", "203.0.113.1", "203.0.113.1"]) == [200, 200, 429]
        assert _codes(c, ["203.0.113.2", "203.0.113.2"]) == [200, 200]  # another client behind the proxy
