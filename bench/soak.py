"""Soak: 5 minutes of POST /v1/ask at concurrency 32 with a re-index in the middle; errors, p99, memory.

Run by hand:  .venv/bin/python bench/soak.py [--minutes 5] [--workers 2] [--corpus 10000]
With --corpus N the sources are N generated documents (bench/corpus.py) and the re-index rewrites all of
them, so the whole corpus is re-embedded while the load runs (in a child process since the re-index
job no longer runs in the server); segments go on until the job is done.
wrk runs in 30-second segments so p99 can be reported before, during and after the swap; the
server's resident memory (all worker processes) is sampled every 10 s. docs/reliability.md keeps
the last results.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import write_corpus
from bench.latency import LUA, QUESTIONS, free_port, run_wrk

SOURCIER = str(Path(sys.executable).parent / "sourcier")
TOKEN = "soak-token"


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the uvicorn workers)."""
    pids = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split() if Path(f"/proc/{pid}").exists() else []:
        pids.append(int(child))
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def _running(url: str, job_id: str, auth: dict[str, str]) -> bool:
    """Whether the re-index job is still queued or running."""
    return bool(job_id) and httpx.get(f"{url}/v1/admin/reindex/{job_id}", headers=auth).json()["status"] in (
        "queued", "running")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--corpus", type=int, default=0, help="generated documents instead of the seed")
    parser.add_argument("--nice", type=int, default=10, help="SOURCIER_REINDEX_NICE for the re-index job")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    if args.corpus:
        write_corpus(work / "seeds", args.corpus)
    else:
        shutil.copytree(ROOT / "seeds", work / "seeds")
    env = {"SOURCIER_INDEX_DIR": str(work / "index"), "SOURCIER_SOURCES_DIR": str(work / "seeds"),
           "SOURCIER_ADMIN_TOKEN": TOKEN, "SOURCIER_RATE_LIMIT_PER_MINUTE": "0", "SOURCIER_LOG_LEVEL": "WARNING",
           "SOURCIER_DATA_DIR": str(work / "var"), "HF_HUB_OFFLINE": "1", "PATH": str(Path(sys.executable).parent),
           "SOURCIER_REINDEX_NICE": str(args.nice)}
    subprocess.run([SOURCIER, "ingest"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([SOURCIER, "serve", "--port", str(port), "--workers", str(args.workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        script = work / "ask.lua"
        bodies = ", ".join(f"[==[{json.dumps({'question': q})}]==]" for q in QUESTIONS)
        script.write_text(LUA % bodies, encoding="utf-8")
        samples: list[tuple[float, float]] = []
        stop = threading.Event()
        started = time.monotonic()

        def sample() -> None:
            while not stop.wait(0 if not samples else 10):
                samples.append((round(time.monotonic() - started), round(tree_rss_mb(server.pid), 1)))

        sampler = threading.Thread(target=sample)
        sampler.start()
        segments = max(int(args.minutes * 60 // 30), 3)
        swap_at = segments // 2
        auth = {"Authorization": f"Bearer {TOKEN}"}
        print("| segment | phase | requests | errors | p50 ms | p99 ms | req/s |\n|---|---|---|---|---|---|---|")
        job_id = ""
        i = 0
        while i < segments or (job_id and _running(url, job_id, auth)):
            phase = "before" if i < swap_at else ("during (re-index)" if _running(url, job_id, auth) else "after")
            if i == swap_at:
                for source in list((work / "seeds").rglob("*.txt"))[: None if args.corpus else 1]:
                    source.write_text(source.read_text(encoding="utf-8") + " Une phrase ajoutée pendant le soak.",
                                      encoding="utf-8")
                job_id, phase = httpx.post(url + "/v1/admin/reindex", headers=auth).json()["job_id"], "during (re-index)"
            result = run_wrk(url, args.connections, 30, script)
            print(f"| {i + 1} | {phase} | {result['requests']} | {result['errors']} | {result['p50']:.1f} | "
                  f"{result['p99']:.1f} | {result['rps']:.0f} |", flush=True)
            i += 1
        stop.set()
        sampler.join()
        job = httpx.get(f"{url}/v1/admin/reindex/{job_id}", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        version = httpx.get(url + "/readyz").json()["index_version"]
        print(f"\nre-index job: {job['status']}, new version {job['report']['version'] if job['report'] else None}, "
              f"served now: {version}")
        print("\nresident memory (all workers), MB, every 10 s:")
        print(", ".join(f"{t}s {mb}" for t, mb in samples))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
