"""Search scaling: exact vs IVF vs HNSW on 10k, 100k and 1M synthetic 512-d vectors, plus BM25 scaling.

Run by hand:  .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000] [--out docs/scale.json]
Vectors are a Gaussian mixture (clusters of sentences around topics), because embedding a million
real passages with USE would take about an hour on 2 cores; the index code path is the real one.
Each (size, type) is measured in a fresh subprocess so resident memory and load time are honest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIM = 512


def mixture(n: int, seed: int = 0, clusters: int = 2000) -> np.ndarray:
    """Unit vectors around `clusters` topic centres, generated in blocks to keep memory flat."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        block = centres[rng.integers(0, clusters, m)] + 1.2 * rng.standard_normal((m, DIM)).astype(np.float32)
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def rss_mb() -> float:
    """Resident memory of this process."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_one(n: int, kind: str, workdir: Path) -> dict[str, object]:
    """Build, save, reload (in this fresh process) and query one index; called in a subprocess."""
    import faiss

    from index.dense import build_dense, exact_top10, load_dense, recall_at_10, tuning_queries

    faiss.omp_set_num_threads(2)
    vectors = mixture(n)
    started = time.perf_counter()
    index, params = build_dense(vectors, kind)
    build_s = time.perf_counter() - started
    path = workdir / f"{n}-{kind}.faiss"
    faiss.write_index(index, str(path))
    queries = tuning_queries(vectors, 300, seed=99)
    truth = exact_top10(vectors, queries)
    del index, vectors
    faiss.omp_set_num_threads(1)  # serving: one thread per worker
    before = rss_mb()
    started = time.perf_counter()
    loaded = load_dense(str(path), params.to_json())
    load_s = time.perf_counter() - started
    latencies = []
    for q in queries:
        t = time.perf_counter()
        loaded.search(q.reshape(1, -1), 10)
        latencies.append((time.perf_counter() - t) * 1000)
    recall = recall_at_10(loaded, queries, truth)
    return {"n": n, "kind": params.kind, "build_s": round(build_s, 2), "disk_mb": round(path.stat().st_size / 2**20, 1),
            "rss_mb": round(rss_mb() - before, 1), "load_s": round(load_s, 3),
            "p50_ms": round(float(np.percentile(latencies, 50)), 3),
            "p99_ms": round(float(np.percentile(latencies, 99)), 3), "recall_at_10": round(recall, 4),
            "nprobe": params.nprobe, "ef_search": params.ef_search, "nlist": params.nlist}


def lexical_scaling(n: int) -> dict[str, object]:
    """BM25 over n French passages recombined from the seed sentences: build, size, query latency."""
    from bench.corpus import passages
    from index.lexical import LexicalIndex

    texts = passages(n)
    before = rss_mb()
    started = time.perf_counter()
    index = LexicalIndex.build(texts)
    build_s = time.perf_counter() - started
    questions = ["Qui dirige OpenAI par intérim ?", "Microsoft achète des GPU", "licenciement du PDG",
                 "investissement massif de Microsoft", "startups d'IA générative"]
    latencies = []
    for i in range(200):
        t = time.perf_counter()
        scores = index.scores(questions[i % len(questions)])
        np.argpartition(-scores, 50)[:50]
        latencies.append((time.perf_counter() - t) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        index.save(Path(tmp))
        disk = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20
    return {"n": n, "kind": "bm25", "build_s": round(build_s, 2), "disk_mb": round(disk, 1),
            "rss_mb": round(rss_mb() - before, 1), "p50_ms": round(float(np.percentile(latencies, 50)), 3),
            "p99_ms": round(float(np.percentile(latencies, 99)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--kinds", default="flat,ivf,hnsw")
    parser.add_argument("--skip", default="1000000:hnsw", help="size:kind pairs to skip (comma separated)")
    parser.add_argument("--lexical", default="10000,100000")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "scale.json")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: "n:kind:workdir" in a subprocess
    args = parser.parse_args()
    if args.one:
        n, kind, workdir = args.one.split(":", 2)
        print(json.dumps(lexical_scaling(int(n)) if kind == "bm25" else measure_one(int(n), kind, Path(workdir))))
        return
    skip = set(args.skip.split(",")) if args.skip else set()
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        jobs = [(int(n), k) for n in args.sizes.split(",") for k in args.kinds.split(",") if f"{n}:{k}" not in skip]
        jobs += [(int(n), "bm25") for n in args.lexical.split(",") if n]
        for n, kind in jobs:
            out = subprocess.run([sys.executable, __file__, "--one", f"{n}:{kind}:{workdir}"], capture_output=True,
                                 text=True, check=False, env={**os.environ, "OMP_NUM_THREADS": "2"})
            if out.returncode != 0:
                print(f"{n} {kind} failed: {out.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(row)
            print(json.dumps(row), flush=True)
            args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
