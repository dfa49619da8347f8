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


def _listening(pid: int, port: int) -> set[str]:
    """The kernel sockets (inodes) a process listens on at this port."""
    import psutil

    return {os.readlink(f"/proc/{pid}/fd/{c.fd}") for c in psutil.Process(pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.fd >= 0}


def _serving(pid: int, port: int) -> list[int]:
    """Per worker process, how many client connections it holds on this port."""
    import psutil

    workers = [p for p in psutil.Process(pid).children(recursive=True) if _listening(p.pid, port)]
    return [sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port for c in p.net_connections("tcp"))
            for p in workers]


def test_server_workers_each_accept_on_a_socket_of_their_own(seed_settings: Settings, tmp_path: Path) -> None:
    import concurrent.futures

    import psutil

    env = {**os.environ, "SOURCIER_INDEX_DIR": str(seed_settings.index_dir), "SOURCIER_DATA_DIR": str(tmp_path),
           "HF_HUB_OFFLINE": "1", "SOURCIER_RATE_LIMIT_PER_MINUTE": "0"}
    with sourcier_serve(env, "--workers", "2") as (url, proc):
        port = int(url.rsplit(":", 1)[1])
        clients = [httpx.Client(base_url=url, timeout=60) for _ in range(16)]
        try:
            with concurrent.futures.ThreadPoolExecutor(16) as pool:  # all at once, as a proxy's pool connects
                assert set(pool.map(lambda c: c.get("/v1/sources").status_code, clients)) == {200}
            workers = [p.pid for p in psutil.Process(proc.pid).children(recursive=True) if _listening(p.pid, port)]
            sockets = [_listening(pid, port) for pid in workers]
            assert len(workers) == 2 and all(len(s) == 1 for s in sockets) and sockets[0] != sockets[1]
            spread = _serving(proc.pid, port)
            assert sum(spread) == 16 and min(spread) > 0  # the kernel shares them out (all on one: 2 in 65,536)
        finally:
            for c in clients:
                c.close()


def test_server_workers_refuse_an_address_already_served(seed_settings: Settings, tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    env = {**os.environ, "SOURCIER_INDEX_DIR": str(seed_settings.index_dir), "SOURCIER_DATA_DIR": str(tmp_path),
           "HF_HUB_OFFLINE": "1"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--workers", "2"],
                              check=False, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
