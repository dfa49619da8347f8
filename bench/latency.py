"""Benchmark POST /v1/ask with wrk at several concurrencies and worker counts, plus a per-stage breakdown.

Run by hand (not in the test suite):  .venv/bin/python bench/latency.py [--duration 15]
Needs Debian's wrk. Writes a Markdown table to stdout; docs/performance.md records the results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SOURCIER = str(Path(sys.executable).parent / "sourcier")
QUESTIONS = [
    "Qui dirige OpenAI par intérim ?",
    "Quelle entreprise Emmett Shear a-t-il fondée ?",
    "Who resigned in protest after being demoted?",
    "Combien de GPU Microsoft achètera-t-il ?",
    "Quelle est la météo prévue demain à Marseille ?",
]
LUA = """
local bodies = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/v1/ask", {["Content-Type"] = "application/json"}, bodies[(i %% #bodies) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%.3f %%.3f %%.3f %%d\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, summary.duration))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(index_dir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "SOURCIER_LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1", "SOURCIER_RATE_LIMIT_PER_MINUTE": "0",
           "SOURCIER_ANSWER_CACHE_SIZE": os.environ.get("SOURCIER_ANSWER_CACHE_SIZE", "0")}  # its 5 questions repeat:
    # measure the work a question costs, not the cache (set the variable to measure the cache)
    proc = subprocess.Popen([SOURCIER, "serve", "--port", str(port), "--workers", str(workers), "--index-dir",
                             str(index_dir)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not become ready")


def run_wrk(url: str, connections: int, seconds: int, script: Path) -> dict[str, float]:
    threads = 1  # wrk shares the 2 cores with the server: keep its own share small
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                          url], capture_output=True, text=True, check=True).stdout
    if "RESULT" not in out:
        raise SystemExit(f"wrk script failed:\n{out}")
    match = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", out)
    if not match:
        raise SystemExit(out)
    n, bad_status, socket_errors, p50, p95, p99, micros = match.groups()
    return {"requests": int(n), "errors": int(bad_status) + int(socket_errors), "p50": float(p50),
            "p95": float(p95), "p99": float(p99), "rps": int(n) / (int(micros) / 1e6)}


def breakdown(url: str, rounds: int = 200) -> dict[str, float]:
    """Median server-side stage timings, plus client round trip (serialisation and HTTP on top)."""
    stages: dict[str, list[float]] = {}
    with httpx.Client(base_url=url) as client:
        for i in range(rounds):
            started = time.perf_counter()
            data = client.post("/v1/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]}).json()
            stages.setdefault("round trip (client)", []).append((time.perf_counter() - started) * 1000)
            for name, ms in data["timings_ms"].items():
                stages.setdefault(name, []).append(ms)
    return {name: round(statistics.median(values), 3) for name, values in stages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--index-dir", type=Path, default=None, help="existing index (default: build the seeds)")
    args = parser.parse_args()
    index_dir = args.index_dir or Path(tempfile.mkdtemp()) / "index"
    if args.index_dir is None:
        subprocess.run([SOURCIER, "ingest", str(ROOT / "seeds"), "--index-dir", str(index_dir)], check=True,
                       capture_output=True)
    bodies = ", ".join(f"[==[{json.dumps({'question': q})}]==]" for q in QUESTIONS)  # Lua long strings
    script = Path(tempfile.mkdtemp()) / "ask.lua"
    script.write_text(LUA % bodies, encoding="utf-8")
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print("\n| workers | concurrency | requests | errors | p50 ms | p95 ms | p99 ms | req/s |")
    print("|---|---|---|---|---|---|---|---|")
    stages: dict[str, float] = {}
    for workers in (1, 2):
        proc, url = start_server(index_dir, workers)
        try:
            run_wrk(url, 8, 3, script)  # warm-up
            if workers == 1:
                stages = breakdown(url)
            for connections in (1, 8, 32):
                r = run_wrk(url, connections, args.duration, script)
                print(f"| {workers} | {connections} | {r['requests']} | {r['errors']} | {r['p50']:.2f} | "
                      f"{r['p95']:.2f} | {r['p99']:.2f} | {r['rps']:.0f} |", flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print("\nStage breakdown (1 worker, sequential, median ms):\n")
    print("| stage | ms |\n|---|---|")
    for name, ms in stages.items():
        print(f"| {name} | {ms} |")


if __name__ == "__main__":
    main()
