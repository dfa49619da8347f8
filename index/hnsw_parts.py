"""An HNSW index saved as its graph alone, and rebuilt at load over the shared sentence vectors.

Saved whole, an HNSW-Flat holds every vector again (2 KB a sentence, 100 MB at 50k) in each version, for one
edited document. Its graph (each sentence's level and neighbour lists: about 4·2M bytes a sentence, 13 MB at
50k with M = 32) is all that is its own; at load the vectors are copied into its storage, as a flat index's
are, and the graph arrays are copied back: no search, no insertion, the very graph that was built.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

GRAPH = "hnsw_graph.npz"
_ARRAYS = ("levels", "offsets", "neighbors", "assign_probas", "cum_nneighbor_per_level")


def save_hnsw(index: faiss.Index, directory: Path) -> None:
    """Write an HNSW-Flat's graph (the vectors themselves live in segments)."""
    graph = faiss.downcast_index(index)
    assert isinstance(graph, faiss.IndexHNSWFlat), "an HNSW index"
    hnsw = graph.hnsw
    arrays = {name: faiss.vector_to_array(getattr(hnsw, name)) for name in _ARRAYS}
    arrays["entry"] = np.array([hnsw.entry_point, hnsw.max_level], dtype=np.int64)
    np.savez(directory / GRAPH, **arrays)  # type: ignore[arg-type]  # numpy's stub: one keyword is allow_pickle


def load_hnsw(directory: Path, vectors: np.ndarray, m: int, ef_search: int) -> faiss.Index:
    """The same HNSW as was built (same graph, same entry point), over these vectors."""
    with np.load(directory / GRAPH) as saved:
        arrays = {name: saved[name] for name in (*_ARRAYS, "entry")}
    if len(arrays["levels"]) != len(vectors) or len(arrays["offsets"]) != len(vectors) + 1:
        raise ValueError(f"{GRAPH} has {len(arrays['levels'])} nodes for {len(vectors)} vectors")
    if len(vectors) and (arrays["neighbors"].max() >= len(vectors) or arrays["offsets"][-1] != len(arrays["neighbors"])):
        raise ValueError(f"{GRAPH} points outside its {len(vectors)} vectors")
    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    hnsw = index.hnsw
    for name in _ARRAYS:
        faiss.copy_array_to_vector(arrays[name], getattr(hnsw, name))
    hnsw.entry_point, hnsw.max_level = (int(v) for v in arrays["entry"])
    hnsw.efSearch = ef_search
    index.storage.add(np.ascontiguousarray(vectors, dtype=np.float32))
    index.ntotal = len(vectors)
    return index
