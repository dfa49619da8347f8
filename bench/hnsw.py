"""HNSW parameters for the on-disk index, chosen by recall: 50k real 512-d sentence vectors, real questions.

Run by hand (not in the test suite):  .venv/bin/python bench/hnsw.py [--vectors 50000] [--out docs/hnsw.json]
The first run ingests the vectors (bench/hnsw_data.py: a few minutes) and caches them under var/bench/hnsw.
Everything runs on one thread, as a served worker does (SOURCIER_THREADS=1). It measures:
  - exact search (IndexFlatIP) p50 at growing sizes: where the flat threshold should be;
  - HNSW for M x efConstruction: build seconds, graph bytes, and for each efSearch recall@10 and recall@50
    against exact search (the dev sets' questions) and p50 of one 50-candidate query (what retrieval asks);
    and which efSearch sourcier's own tuning (noisy copies of stored vectors, recall@10 >= 0.95) picks;
  - source filters of 1-90 % of the rows: exact within the rows, the graph restricted to them, and
    index.dense.search_units (what serving does): recall@10 and p50.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hnsw_data import question_vectors, sentence_vectors
from index.dense import (
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_MIN,
    TARGET_RECALL,
    build_dense,
    recall_at_10,
    search_units,
    tuning_queries,
)
from index.hnsw_parts import GRAPH, save_hnsw

EF_SEARCH = (16, 32, 48, 64, 96, 128, 256)
CANDIDATES = 50  # sentences retrieval asks the dense index for


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k ids and scores, 128 queries at a time."""
    ids, scores = [], []
    for start in range(0, len(queries), 128):
        sims = queries[start : start + 128] @ vectors.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_scores, axis=1)
        ids.append(np.take_along_axis(top, order, axis=1))
        scores.append(np.take_along_axis(top_scores, order, axis=1))
    return np.vstack(ids), np.vstack(scores)


def recall(found_scores: np.ndarray, truth_scores: np.ndarray) -> float:
    """Share of the exact top-k reached, ties counted (a duplicate sentence is as good as its twin)."""
    kth = truth_scores[:, -1:] - 1e-5
    return float(np.mean(found_scores[:, : truth_scores.shape[1]] >= kth))


def p50_ms(search: object, queries: np.ndarray, rounds: int = 300) -> float:
    """Median milliseconds of one single-question call."""
    times = []
    for i in range(min(rounds, len(queries))):
        started = time.perf_counter()
        search(queries[i])  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)


def flat_curve(vectors: np.ndarray, queries: np.ndarray) -> list[dict[str, float]]:
    """Exact search p50 at growing sizes."""
    rows = []
    for n in (5_000, 10_000, 20_000, 30_000, 50_000):
        if n > len(vectors):
            break
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(np.ascontiguousarray(vectors[:n]))
        rows.append({"vectors": n, "p50_ms": p50_ms(lambda q, f=flat: f.search(q.reshape(1, -1), CANDIDATES), queries)})
    return rows


def grid(vectors: np.ndarray, queries: np.ndarray, truth10: np.ndarray, truth50: np.ndarray,
         ms: tuple[int, ...], constructions: tuple[int, ...]) -> tuple[list[dict[str, object]], dict[tuple[int, int], faiss.Index]]:
    """Every (M, efConstruction) built once, every efSearch measured on it."""
    tuning = tuning_queries(vectors)
    tuning_truth = exact_top(vectors, tuning, 10)
    rows: list[dict[str, object]] = []
    built = {}
    for m in ms:
        for construction in constructions:
            index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = construction
            started = time.perf_counter()
            index.add(vectors)
            build_s = round(time.perf_counter() - started, 1)
            with tempfile.TemporaryDirectory() as tmp:
                save_hnsw(index, Path(tmp))
                graph_mb = round((Path(tmp) / GRAPH).stat().st_size / 2**20, 1)
            tuned_at: dict[int, float] = {}
            for ef in EF_SEARCH:
                index.hnsw.efSearch = ef
                s10, _ = index.search(queries, 10)
                s50, _ = index.search(queries, CANDIDATES)
                tuned = tuned_at[ef] = recall_at_10(index, tuning, tuning_truth)
                rows.append({"M": m, "ef_construction": construction, "ef_search": ef, "build_s": build_s,
                             "graph_mb": graph_mb, "recall_at_10": round(recall(s10, truth10), 4),
                             "recall_at_50": round(recall(s50, truth50), 4), "tuning_recall_at_10": round(tuned, 4),
                             "p50_ms": p50_ms(lambda q, i=index: i.search(q.reshape(1, -1), CANDIDATES), queries),
                             "picked_by_tuning": False})
            picked = tuning_pick(tuned_at)
            for row in rows:
                if row["M"] == m and row["ef_construction"] == construction and row["ef_search"] == picked:
                    row["picked_by_tuning"] = True
            built[(m, construction)] = index
            print(f"built M={m} efC={construction} in {build_s}s", file=sys.stderr, flush=True)
    return rows, built


def tuning_pick(recall_at: dict[int, float]) -> int:
    """The efSearch build_dense keeps: doubling from HNSW_EF_MIN until the target, or a gain under 0.01."""
    ef = HNSW_EF_MIN
    while recall_at[ef] < TARGET_RECALL and ef * 2 in recall_at and recall_at[ef * 2] - recall_at[ef] >= 0.01:
        ef *= 2
    return ef


def filters(index: faiss.Index, vectors: np.ndarray, queries: np.ndarray, flat_max: int) -> list[dict[str, object]]:
    """Source filters covering a share of the rows (blocks of 1,000 sentences, as sources), three ways."""
    rng = np.random.default_rng(3)
    n = len(vectors)
    blocks = [(s, min(s + 1000, n)) for s in range(0, n, 1000)]
    rows: list[dict[str, object]] = []
    for share in (0.01, 0.1, 0.3, 0.6, 0.9):
        chosen = sorted(rng.choice(len(blocks), size=max(1, round(share * len(blocks))), replace=False))
        within = [blocks[i] for i in chosen]
        allowed = np.concatenate([np.arange(a, b) for a, b in within])
        _, truth_scores = exact_top(vectors[allowed], queries, 10)
        for way, exact_max in (("exact within the rows", n), ("graph restricted to the rows", 0),
                               (f"search_units (exact up to {flat_max:,})", flat_max)):
            found = [search_units(index, vectors, q, 10, within, exact_max) for q in queries]
            scores = np.vstack([np.pad(vectors[f] @ q, (0, 10 - len(f)), constant_values=-np.inf)
                                for f, q in zip(found, queries, strict=True)])
            rows.append({"share": share, "rows": len(allowed), "way": way,
                         "recall_at_10": round(recall(scores, truth_scores), 4),
                         "p50_ms": p50_ms(lambda q, w=within, e=exact_max: search_units(index, vectors, q, CANDIDATES,
                                                                                        w, e), queries)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=50_000)
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench" / "hnsw")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "hnsw.json")
    parser.add_argument("--m", default="16,32", help="HNSW M values")
    parser.add_argument("--ef-construction", default="40,80,160")
    parser.add_argument("--flat-max", type=int, default=20_000, help="exact-search threshold for the filter runs")
    parser.add_argument("--filters-only", action="store_true",
                        help="only the source-filter runs, on the index build_dense makes; updates --out")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args.cache.mkdir(parents=True, exist_ok=True)
    vectors, counts = sentence_vectors(args.cache, args.vectors)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    queries = np.ascontiguousarray(question_vectors(args.cache), dtype=np.float32)
    truth10 = exact_top(vectors, queries, 10)[1]
    truth50 = exact_top(vectors, queries, CANDIDATES)[1]
    if args.filters_only:
        index, dense = build_dense(vectors, "hnsw")
        result = json.loads(args.out.read_text(encoding="utf-8"))
        result["filters"] = filters(index, vectors, queries[:400], args.flat_max)
        result["filter_index"] = {"M": dense.hnsw_m, "ef_construction": HNSW_EF_CONSTRUCTION,
                                  "ef_search": dense.ef_search, "build_s": dense.build_seconds}
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print_filters(result)
        return
    ms = tuple(int(v) for v in args.m.split(","))
    constructions = tuple(int(v) for v in args.ef_construction.split(","))
    flat = flat_curve(vectors, queries)
    rows, built = grid(vectors, queries, truth10, truth50, ms, constructions)
    serving = built.get((32, 80)) or next(iter(built.values()))
    picked = next((r["ef_search"] for r in rows if r["picked_by_tuning"] and r["M"] == serving.hnsw.nb_neighbors(1)
                   and r["ef_construction"] == serving.hnsw.efConstruction), 64)
    serving.hnsw.efSearch = int(picked)  # type: ignore[call-overload]
    filtered = filters(serving, vectors, queries, args.flat_max)
    result = {"machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
              "busy": "measured while another worker used the same 2 cores", "vectors": len(vectors),
              "corpora": counts, "questions": len(queries), "flat": flat, "hnsw": rows, "filters": filtered,
              "filter_index": {"M": serving.hnsw.nb_neighbors(1), "ef_construction": serving.hnsw.efConstruction,
                               "ef_search": serving.hnsw.efSearch}}
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"{len(vectors):,} sentence vectors ({counts}), {len(queries)} questions\n")
    print("| exact search over | p50 ms (50 candidates) |\n|---|---|")
    for row in flat:
        print(f"| {row['vectors']:,} | {row['p50_ms']} |")
    print("\n| M | efConstruction | build s | graph MB | efSearch | recall@10 | recall@50 | p50 ms | tuning picks |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['M']} | {r['ef_construction']} | {r['build_s']} | {r['graph_mb']} | {r['ef_search']} | "
              f"{r['recall_at_10']} | {r['recall_at_50']} | {r['p50_ms']} | {'yes' if r['picked_by_tuning'] else ''} |")
    print_filters(result)


def print_filters(result: dict[str, Any]) -> None:
    """The source-filter table."""
    where = result["filter_index"]
    print(f"\nSource filters (M {where['M']}, efConstruction {where['ef_construction']}, efSearch "
          f"{where['ef_search']}):\n")
    print("| share of rows | rows | search | recall@10 | p50 ms |\n|---|---|---|---|---|")
    for r in result["filters"]:
        print(f"| {math.floor(float(r['share']) * 100)} % | {r['rows']:,} | {r['way']} | {r['recall_at_10']} | "
              f"{r['p50_ms']} |")


if __name__ == "__main__":
    main()
