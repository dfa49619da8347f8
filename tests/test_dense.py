"""The dense index adapts to corpus size and reaches its recall target; tables read rows lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from index.dense import (
    FLAT_MAX,
    HNSW_MAX,
    IndexTypeError,
    build_dense,
    choose_kind,
    exact_top10,
    load_dense,
    recall_at_10,
    tuning_queries,
)
from index.table import Table, write_table
from ingest.embed import Embedder, embed_stream
from tests.conftest import ROOT


def clustered(n: int, dim: int = 64, clusters: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_dense_kind_follows_size_unless_forced() -> None:
    assert choose_kind(FLAT_MAX) == "flat" and choose_kind(FLAT_MAX + 1) == "hnsw"
    assert choose_kind(HNSW_MAX + 1) == "ivf"
    assert choose_kind(10, "hnsw") == "hnsw"
    with pytest.raises(IndexTypeError, match="unknown index type"):
        choose_kind(10, "annoy")


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_dense_approximate_index_meets_recall_and_reloads(kind: str, tmp_path: Path) -> None:
    vectors = clustered(20_000)
    index, params = build_dense(vectors, kind)
    assert params.kind == kind and params.recall_at_10 >= 0.95
    path = str(tmp_path / "units.faiss")
    faiss.write_index(index, path)
    loaded = load_dense(path, params.to_json())
    queries = tuning_queries(vectors, 100, seed=7)  # fresh queries, not the tuning ones
    assert recall_at_10(loaded, queries, exact_top10(vectors, queries)) >= 0.9


def test_dense_small_corpus_stays_exact() -> None:
    index, params = build_dense(clustered(500), "ivf")
    assert params.kind == "flat" and index.ntotal == 500


def test_table_reads_rows_lazily_and_refuses_truncation(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    assert write_table(path, ({"i": i, "t": "é" * i} for i in range(100))) == 100
    table = Table(path, lambda row: row["i"])
    assert len(table) == 100 and table[42] == 42 and table[-1] == 99 and table[3:6] == [3, 4, 5]
    assert list(table)[:3] == [0, 1, 2]
    with pytest.raises(IndexError):
        table[100]
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="offsets"):
        Table(path, lambda row: row)


def test_embed_stream_in_parallel_matches_sequential(embedder: Embedder) -> None:
    texts = [f"Phrase numéro {i} sur le sujet {i % 7}." for i in range(200)]
    batches = list(embed_stream(embedder, iter(texts), workers=2, batch=8, parallel=True))
    sequential = np.vstack(list(embed_stream(embedder, texts, workers=1, batch=64)))
    assert [len(b) for b in batches] == [8] * 25  # in order, batch by batch
    assert np.allclose(np.vstack(batches), sequential, atol=1e-5) and sequential.shape == (200, 512)


def test_dense_ivf_reuses_previous_cells_for_a_similar_corpus() -> None:
    first, params = build_dense(clustered(20_000), "ivf")
    grown = clustered(21_000, seed=3)
    again, params2 = build_dense(grown, "ivf", previous=first)
    old_cells = faiss.extract_index_ivf(first).quantizer.reconstruct_n(0, params.nlist)
    new_cells = faiss.extract_index_ivf(again).quantizer.reconstruct_n(0, params2.nlist)
    assert params2.nlist == params.nlist and np.array_equal(old_cells, new_cells)
    assert again.ntotal == 21_000 and params2.recall_at_10 >= 0.95
    _, retrained = build_dense(clustered(60_000, seed=4), "ivf", previous=first)  # 3x: cells are retrained
    assert retrained.nlist != params.nlist


def test_dense_auto_takes_a_graph_when_ivf_would_scan_most_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    from index import dense

    monkeypatch.setattr(dense, "HNSW_MAX", 3000)  # so that auto picks IVF for 6,000 vectors past flat_max
    rng = np.random.default_rng(5)
    base = rng.standard_normal((2, 64)).astype(np.float32)
    near_duplicates = base[rng.integers(0, 2, 6000)] + 0.001 * rng.standard_normal((6000, 64)).astype(np.float32)
    near_duplicates /= np.linalg.norm(near_duplicates, axis=1, keepdims=True)
    index, params = dense.build_dense(near_duplicates, flat_max=2000)
    assert params.kind == "hnsw" and index.ntotal == 6000
    _, forced = dense.build_dense(near_duplicates, "ivf")  # an operator's explicit choice is kept
    assert forced.kind == "ivf"


_TRUNCATE_AND_READ = """
import os, sys
from pathlib import Path
from index.errors import IndexCorruptError
from index.table import Table, write_table
path = Path(sys.argv[1])
write_table(path, ({"i": i, "t": "é" * 2000} for i in range(50)))
table = Table(path, lambda row: row["i"])
assert table[0] == 0
os.truncate(path, 0)  # shrunk under the open table, as a hand or a bad restore would do
try:
    table[40]
except IndexCorruptError as exc:
    print(exc)
"""


def test_table_row_of_a_file_truncated_while_open_is_a_damaged_row_not_a_sigbus(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _TRUNCATE_AND_READ, str(tmp_path / "rows.jsonl")], check=False,
                          cwd=ROOT, capture_output=True, text=True, timeout=60)  # its own process: a SIGBUS would kill pytest
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-500:]}"
    assert "rows.jsonl: row 40 is damaged" in done.stdout
