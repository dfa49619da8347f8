"""The FAISS index over sentence vectors: exact while that is fast, HNSW past it, IVF for very large corpora."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import faiss
import numpy as np

from index.errors import IndexTypeError

# Exact search is kept up to this many vectors (SOURCIER_FLAT_MAX_VECTORS): at 50k x 512-d one query costs
# about 7.5 ms on one thread, three times the question's embedding; bench/hnsw.py measures the curve.
FLAT_MAX = 20_000
# Past this many, HNSW's build (a graph rebuilt on every ingest that changes something: 12.5 s at 50k on one
# thread, about a minute at 200k by bench/scale.py's slope) costs more than an IVF whose cells are reused.
HNSW_MAX = 200_000
# Measured by bench/hnsw.py and bench/hnsw_retrieval.py on 50k-67k real sentence vectors and the dev sets'
# questions: M 32 / efConstruction 80 builds in 12.5 s (160: 27.5 s) and, from efSearch 128, gives the same
# first passage as exact search for 98.3 % of questions, the same hit@1, at 0.65 ms instead of 11.4 ms.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
# Real questions sit farther from every sentence (cosine 0.46 to the nearest) than the tuning queries (0.7):
# the tuning reaches its recall from efSearch 32, real questions need more, so tuning starts here.
HNSW_EF_MIN = 128
KINDS = ("auto", "flat", "ivf", "hnsw")
TARGET_RECALL = 0.95
_TUNING_QUERIES = 200


@dataclass(frozen=True)
class DenseParams:
    """What the manifest records about the dense index: its type, its knobs and the recall they gave."""

    kind: str
    nlist: int = 0
    nprobe: int = 0
    hnsw_m: int = 0
    ef_search: int = 0
    recall_at_10: float = 1.0
    build_seconds: float = 0.0
    flat_max: int = FLAT_MAX  # the exact-search threshold in force at build: a source filter up to it is exact

    def to_json(self) -> dict[str, Any]:
        """For the manifest."""
        return asdict(self)


def choose_kind(n: int, requested: str = "auto", flat_max: int = FLAT_MAX) -> str:
    """The index type for n vectors: the operator's choice, or exact search while it is fast enough, then HNSW,
    then (past HNSW_MAX) IVF."""
    if requested not in KINDS:
        raise IndexTypeError(f"unknown index type {requested!r}; choose one of {', '.join(KINDS)}")
    if requested != "auto":
        return requested
    if n <= flat_max:
        return "flat"
    return "hnsw" if n <= max(HNSW_MAX, flat_max) else "ivf"


def tuning_queries(vectors: np.ndarray, count: int = _TUNING_QUERIES, seed: int = 0) -> np.ndarray:
    """Noisy copies of stored vectors (cosine about 0.7 to their source), like questions near their answer."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(vectors), size=min(count, len(vectors)), replace=False)
    base = np.asarray(vectors[np.sort(rows)], dtype=np.float32)
    noise = rng.standard_normal(base.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    queries = base + noise
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def recall_at_10(index: faiss.Index, queries: np.ndarray, truth: tuple[np.ndarray, np.ndarray]) -> float:
    """Share of the exact top-10 that the index returns; ties count (duplicate passages are interchangeable)."""
    scores, found = index.search(queries, 10)
    truth_ids, truth_scores = truth
    tenth = truth_scores.min(axis=1, keepdims=True) - 1e-5
    found_scores = np.where(found >= 0, scores, -np.inf)
    return float(np.mean(found_scores >= tenth)) if len(truth_ids) else 1.0


def exact_top10(vectors: np.ndarray, queries: np.ndarray, block: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-10 ids and scores, in blocks so memory stays flat."""
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    for start in range(0, len(vectors), block):
        scores = queries @ np.asarray(vectors[start : start + block], dtype=np.float32).T
        ids = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        all_scores = np.hstack([best_scores, scores])
        all_ids = np.hstack([best_ids, ids])
        top = np.argpartition(-all_scores, 9, axis=1)[:, :10]
        best_scores = np.take_along_axis(all_scores, top, axis=1)
        best_ids = np.take_along_axis(all_ids, top, axis=1)
    return best_ids, best_scores


def build_dense(vectors: np.ndarray, requested: str = "auto", previous: faiss.Index | None = None,
                flat_max: int = FLAT_MAX) -> tuple[faiss.Index, DenseParams]:
    """Build the index for these vectors and tune its search knob to reach TARGET_RECALL.

    An IVF of the previous version is reused for its trained cells while the corpus is within a
    factor of two of its size: k-means is most of an IVF build, and one edited document must not
    cost a retraining.
    """
    started = time.perf_counter()
    n, dim = vectors.shape if len(vectors) else (0, vectors.shape[1])
    kind = choose_kind(n, requested, flat_max)
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == "flat" or n < 1000:
        flat = faiss.IndexFlatIP(dim)
        flat.add(data)
        return flat, DenseParams("flat", build_seconds=round(time.perf_counter() - started, 3), flat_max=flat_max)
    queries = tuning_queries(data)
    truth = exact_top10(data, queries)
    if kind == "hnsw":
        index, params = _hnsw(data, queries, truth, started)
        return index, replace(params, flat_max=flat_max)
    index, params = _ivf(data, queries, truth, started, _trained_cells(previous, n))
    if requested == "auto" and params.nprobe > params.nlist // 4:
        # Near-duplicate corpora scatter neighbours over many cells: an IVF that must probe a quarter
        # of them is no faster than exact search. A graph follows neighbours wherever they are.
        index, params = _hnsw(data, queries, truth, started)
    return index, replace(params, flat_max=flat_max)


def _trained_cells(previous: faiss.Index | None, n: int) -> np.ndarray | None:
    """The previous IVF's centroids, when it exists and the corpus has not changed size much."""
    if previous is None or not 0.5 <= n / max(previous.ntotal, 1) <= 2:
        return None
    try:
        ivf = faiss.extract_index_ivf(previous)
    except RuntimeError:  # not an IVF index
        return None
    return ivf.quantizer.reconstruct_n(0, ivf.nlist)


def _ivf(data: np.ndarray, queries: np.ndarray, truth: tuple[np.ndarray, np.ndarray], started: float,
         centroids: np.ndarray | None) -> tuple[faiss.Index, DenseParams]:
    """Inverted lists over k-means cells; nprobe doubles until the recall target is met."""
    n, dim = data.shape
    quantizer = faiss.IndexFlatIP(dim)
    if centroids is not None:
        nlist = len(centroids)
        quantizer.add(centroids)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.is_trained = True
    else:
        nlist = int(min(max(64, 4 * math.sqrt(n)), n // 39))
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(1).choice(n, size=min(n, 40 * nlist), replace=False)
        index.train(data[np.sort(sample)])
    index.add(data)
    nprobe, recall = 1, 0.0
    while nprobe <= nlist:
        index.nprobe = nprobe
        recall = recall_at_10(index, queries, truth)
        if recall >= TARGET_RECALL:
            break
        nprobe *= 2
    index.nprobe = min(nprobe, nlist)
    return index, DenseParams("ivf", nlist=nlist, nprobe=index.nprobe, recall_at_10=round(recall, 4),
                              build_seconds=round(time.perf_counter() - started, 3))


def _hnsw(data: np.ndarray, queries: np.ndarray, truth: tuple[np.ndarray, np.ndarray],
          started: float) -> tuple[faiss.Index, DenseParams]:
    """A navigable small-world graph; efSearch doubles from HNSW_EF_MIN until the recall target is met, or until a
    doubling gains less than 0.01 (near-duplicate corpora plateau below the target: more buys only time)."""
    index = faiss.IndexHNSWFlat(data.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(data)
    ef = HNSW_EF_MIN
    index.hnsw.efSearch = ef
    recall = recall_at_10(index, queries, truth)
    while recall < TARGET_RECALL and ef < 1024:
        index.hnsw.efSearch = ef * 2
        better = recall_at_10(index, queries, truth)
        if better - recall < 0.01:
            index.hnsw.efSearch = ef
            break
        ef, recall = ef * 2, better
    return index, DenseParams("hnsw", hnsw_m=HNSW_M, ef_search=index.hnsw.efSearch, recall_at_10=round(recall, 4),
                              build_seconds=round(time.perf_counter() - started, 3))


def load_dense(path: str, params: dict[str, Any]) -> faiss.Index:
    """Read an index memory-mapped (shared between worker processes) and restore its search knob."""
    index = faiss.read_index(path, faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    if params.get("kind") == "ivf":
        faiss.extract_index_ivf(index).nprobe = int(params["nprobe"])
    elif params.get("kind") == "hnsw":
        hnsw = faiss.downcast_index(index)
        assert isinstance(hnsw, faiss.IndexHNSWFlat), "the manifest says HNSW"
        hnsw.hnsw.efSearch = int(params["ef_search"])
    return index


def search_units(index: faiss.Index, vectors: np.ndarray, query: np.ndarray, n: int,
                 within: list[tuple[int, int]] | None = None, exact_max: int = FLAT_MAX) -> np.ndarray:
    """Rows of the n vectors nearest the query, among the row ranges `within` (one per source) when given.

    A filter never drops a small source: sources are searched exactly, smallest first, up to `exact_max` rows
    in all (a flat index's cost); only sources beyond that go through the HNSW graph, restricted to their
    rows (never a post-filter of a global top-n), and the two are merged by score.
    """
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    if within is None:
        n = min(n, index.ntotal)
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        _, found = index.search(q, n)
        return found[0][found[0] >= 0]
    sizes = [end - start for start, end in within]
    graph = isinstance(faiss.downcast_index(index), faiss.IndexHNSW) and sum(sizes) > exact_max
    exact, budget = [], exact_max
    for i in sorted(range(len(within)), key=sizes.__getitem__):
        if not graph or sizes[i] <= budget:
            exact.append(within[i])
            budget -= sizes[i]
    rows, scores = _exact_search(vectors, q[0], exact)
    if graph and len(exact) < len(within):
        others = [r for r in within if r not in exact]
        found_scores, found = _graph_search(index, q, n, others)
        rows, scores = np.concatenate([rows, found]), np.concatenate([scores, found_scores])
    return rows[np.argsort(-scores, kind="stable")[:n]]


def _exact_search(vectors: np.ndarray, q: np.ndarray, ranges: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of every vector in these ranges. Touching ranges (a folder's sources) are merged and each
    is scored on a view: no copy of the rows (20k x 512 floats would be a 40 MB copy per question)."""
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif end > start:
            merged.append([start, end])
    if not merged:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    rows = np.concatenate([np.arange(start, end, dtype=np.int64) for start, end in merged])
    scores = np.concatenate([np.asarray(vectors[start:end] @ q, dtype=np.float32) for start, end in merged])
    return rows, scores


def _graph_search(index: faiss.Index, q: np.ndarray, n: int,
                  ranges: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """HNSW search that only ever returns rows of these ranges; efSearch grows as the share they cover shrinks,
    so the graph walk still meets n of them (bench/hnsw.py measures the recall)."""
    hnsw = faiss.downcast_index(index)
    assert isinstance(hnsw, faiss.IndexHNSW), "graph search on an HNSW index"
    mask = np.zeros(index.ntotal, dtype=bool)
    for start, end in ranges:
        mask[start:end] = True
    bitmap = np.packbits(mask, bitorder="little")
    share = max(float(mask.mean()), 1e-6)
    params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # missing from faiss's stubs
    params.sel = faiss.IDSelectorBitmap(index.ntotal, faiss.swig_ptr(bitmap))
    params.efSearch = int(min(1024, max(n, math.ceil(hnsw.hnsw.efSearch / share))))
    scores, found = index.search(q, n, params=params)
    keep = found[0] >= 0
    return scores[0][keep], found[0][keep].astype(np.int64)
