"""The FAISS index over sentence vectors: exact while that is fast, IVF or HNSW past it, tuned by recall."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import faiss
import numpy as np

from index.errors import IndexTypeError

# Exact search is kept up to this many vectors: at 50k x 512-d one query costs about 7.5 ms on one
# thread, the budget of a whole request (bench/scale.py measures the curve; docs/performance.md).
FLAT_MAX = 50_000
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

    def to_json(self) -> dict[str, Any]:
        """For the manifest."""
        return asdict(self)


def choose_kind(n: int, requested: str = "auto") -> str:
    """The index type for n vectors: the operator's choice, or exact search while it is fast enough."""
    if requested not in KINDS:
        raise IndexTypeError(f"unknown index type {requested!r}; choose one of {', '.join(KINDS)}")
    if requested != "auto":
        return requested
    return "flat" if n <= FLAT_MAX else "ivf"


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


def build_dense(vectors: np.ndarray, requested: str = "auto",
                previous: faiss.Index | None = None) -> tuple[faiss.Index, DenseParams]:
    """Build the index for these vectors and tune its search knob to reach TARGET_RECALL.

    An IVF of the previous version is reused for its trained cells while the corpus is within a
    factor of two of its size: k-means is most of an IVF build, and one edited document must not
    cost a retraining.
    """
    started = time.perf_counter()
    n, dim = vectors.shape if len(vectors) else (0, vectors.shape[1])
    kind = choose_kind(n, requested)
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == "flat" or n < 1000:
        flat = faiss.IndexFlatIP(dim)
        flat.add(data)
        return flat, DenseParams("flat", build_seconds=round(time.perf_counter() - started, 3))
    queries = tuning_queries(data)
    truth = exact_top10(data, queries)
    if kind == "hnsw":
        return _hnsw(data, queries, truth, started)
    index, params = _ivf(data, queries, truth, started, _trained_cells(previous, n))
    if requested == "auto" and params.nprobe > params.nlist // 4 and n <= 4 * FLAT_MAX:
        # Near-duplicate corpora scatter neighbours over many cells: an IVF that must probe a
        # quarter of them is no faster than exact search, and less exact. Stay exact then.
        flat = faiss.IndexFlatIP(dim)
        flat.add(data)
        return flat, DenseParams("flat", build_seconds=round(time.perf_counter() - started, 3))
    return index, params


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
    """A navigable small-world graph; efSearch doubles until the recall target is met."""
    index = faiss.IndexHNSWFlat(data.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(data)
    ef, recall = 16, 0.0
    while ef <= 1024:
        index.hnsw.efSearch = ef
        recall = recall_at_10(index, queries, truth)
        if recall >= TARGET_RECALL:
            break
        ef *= 2
    return index, DenseParams("hnsw", hnsw_m=32, ef_search=index.hnsw.efSearch, recall_at_10=round(recall, 4),
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
