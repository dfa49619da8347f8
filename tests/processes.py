"""Real server processes for tests: `sourcier serve` on a port the OS picks."""

from __future__ import annotations

import contextlib
import queue
import re
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
