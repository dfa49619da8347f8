"""Side by side, in one run: sourcier's search path against a bare encoder + FAISS loop on the same index.

Run by hand:  .venv/bin/python bench/overhead.py --index-dir var/index [--rounds 5]
Both paths use the same USE model (one thread), the same FAISS file and the same questions (the dev
set's 36, in order, repeated), interleaved question by question so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    import faiss

    from bot.config import Settings
    from bot.engine import Engine
    from index.versions import require_current

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-dir", type=Path, default=ROOT / "var" / "index")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--gold", type=Path, default=ROOT / "tests" / "data" / "eval" / "seed.jsonl")
    args = parser.parse_args()
    questions = [json.loads(line)["q"] for line in args.gold.read_text(encoding="utf-8").splitlines() if line]
    engine = Engine(Settings(index_dir=args.index_dir))
    snapshot = engine.snapshot
    bare_index = faiss.read_index(str(args.index_dir / require_current(args.index_dir) / "units.faiss"))
    if snapshot.manifest.dense.kind == "ivf":
        faiss.extract_index_ivf(bare_index).nprobe = snapshot.manifest.dense.nprobe
    faiss.omp_set_num_threads(1)
    bare_model = engine.embedder  # the same model object: only the code around it differs

    def bare(question: str) -> None:
        vector = bare_model.embed_query(question)
        bare_index.search(vector.reshape(1, -1), 10)

    timings: dict[str, list[float]] = {"bare encoder + faiss": [], "sourcier search": [], "sourcier ask": []}
    paths = {"bare encoder + faiss": bare, "sourcier search": lambda q: engine.search(q, 10),
             "sourcier ask": lambda q: engine.ask(q, 10)}
    for q in questions:  # warm-up
        for run in paths.values():
            run(q)
    for _ in range(args.rounds):
        for q in questions:
            for name, run in paths.items():
                started = time.perf_counter()
                run(q)
                timings[name].append((time.perf_counter() - started) * 1000)
    base = statistics.median(timings["bare encoder + faiss"])
    print(f"index: {snapshot.manifest.counts} dense={snapshot.manifest.dense.kind}")
    print("\n| path | p50 ms | p99 ms | overhead at p50 |\n|---|---|---|---|")
    for name, values in timings.items():
        p50, p99 = statistics.median(values), float(np.percentile(values, 99))
        print(f"| {name} | {p50:.3f} | {p99:.3f} | {100 * (p50 / base - 1):+.0f}% |")


if __name__ == "__main__":
    main()
