"""An IVF index saved as its cells and each sentence's cell, and rebuilt at load over the shared sentence vectors.

Saved whole, an IVF holds every vector again: 120 MB per version at 10,000 documents (59k sentences), for one
edited document. Its cells (nlist x d floats) and one list number per sentence are 2.5 MB, and adding the
vectors back to their known lists at load is a copy, not a k-means or a search (no quantizer is run).
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
from faiss.contrib.ivf_tools import add_preassigned

CELLS = "ivf_cells.npy"
LISTS = "ivf_lists.npy"


def save_ivf(index: faiss.Index, directory: Path) -> None:
    """Write an IVF-Flat's centroids and the list of every vector (the vectors themselves live in segments)."""
    ivf = faiss.extract_index_ivf(index)
    invlists = ivf.invlists
    assert invlists is not None, "a built IVF has inverted lists"
    lists = np.empty(ivf.ntotal, dtype=np.int64)
    for cell in range(ivf.nlist):
        size = invlists.list_size(cell)
        if size:
            lists[np.array(faiss.rev_swig_ptr(invlists.get_ids(cell), size))] = cell
    np.save(directory / CELLS, ivf.quantizer.reconstruct_n(0, ivf.nlist))
    np.save(directory / LISTS, lists)


def load_ivf(directory: Path, vectors: np.ndarray, nprobe: int) -> faiss.Index:
    """The same IVF as was built (same lists, same order within them), over these vectors."""
    cells = np.load(directory / CELLS)
    lists = np.load(directory / LISTS)
    if len(lists) != len(vectors):
        raise ValueError(f"{LISTS} has {len(lists)} rows for {len(vectors)} vectors")
    quantizer = faiss.IndexFlatIP(cells.shape[1])
    quantizer.add(cells)
    index = faiss.IndexIVFFlat(quantizer, cells.shape[1], len(cells), faiss.METRIC_INNER_PRODUCT)
    index.is_trained = True
    add_preassigned(index, np.ascontiguousarray(vectors, dtype=np.float32), lists)
    index.nprobe = nprobe
    return index
