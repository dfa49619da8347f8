"""An IVF saved as cells and lists, rebuilt at load over the shared vectors, searches exactly as the one built."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.dense import build_dense
from index.ivf_parts import load_ivf, save_ivf
from tests.test_dense import clustered


def test_ivf_parts_rebuilt_index_returns_the_same_neighbours(tmp_path: Path) -> None:
    vectors = clustered(20_000)
    built, params = build_dense(vectors, "ivf")
    assert params.kind == "ivf"
    save_ivf(built, tmp_path)
    loaded = load_ivf(tmp_path, vectors, params.nprobe)
    queries = clustered(50, seed=7)
    assert np.array_equal(built.search(queries, 10)[1], loaded.search(queries, 10)[1])
    on_disk = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert on_disk < vectors.nbytes / 4  # cells and lists, not the vectors again


def test_ivf_parts_lists_for_other_vectors_are_refused(tmp_path: Path) -> None:
    vectors = clustered(20_000)
    built, params = build_dense(vectors, "ivf")
    save_ivf(built, tmp_path)
    with pytest.raises(ValueError, match="rows for"):
        load_ivf(tmp_path, vectors[:100], params.nprobe)
