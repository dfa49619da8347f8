"""HNSW for mid-size corpora: chosen automatically, saved as its graph, reloaded identical, filters never drop a
small source."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest

from bot.config import Settings
from bot.engine import Engine
from index.dense import FLAT_MAX, HNSW_MAX, build_dense, choose_kind, exact_top10, search_units, tuning_queries
from index.errors import IndexCorruptError
from index.hnsw_parts import GRAPH, load_hnsw, save_hnsw
from index.store import load_snapshot
from ingest.embed import Embedder
from tests.conftest import EVAL, version_file
from tests.test_dense import clustered

SPF = EVAL / "spf" / "corpus"
QUESTIONS = [json.loads(line)["question"] for line in (EVAL / "spf.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]


def test_hnsw_auto_between_flat_and_ivf_thresholds() -> None:
    assert choose_kind(FLAT_MAX) == "flat" and choose_kind(FLAT_MAX + 1) == "hnsw"
    assert choose_kind(HNSW_MAX) == "hnsw" and choose_kind(HNSW_MAX + 1) == "ivf"
    assert choose_kind(5000, flat_max=4999) == "hnsw" and choose_kind(5000, flat_max=5000) == "flat"
    assert choose_kind(10**6, "flat") == "flat"  # the operator's choice wins


def test_hnsw_parts_rebuilt_index_returns_the_same_neighbours(tmp_path: Path) -> None:
    vectors = clustered(5000, seed=3)
    index, params = build_dense(vectors, "hnsw")
    save_hnsw(index, tmp_path)
    whole = tmp_path / "whole.faiss"
    faiss.write_index(index, str(whole))
    loaded = load_hnsw(tmp_path, vectors, params.hnsw_m, params.ef_search)
    queries = clustered(200, seed=9)
    assert np.array_equal(index.search(queries, 10)[1], loaded.search(queries, 10)[1])
    assert (tmp_path / GRAPH).stat().st_size < whole.stat().st_size - vectors.nbytes * 0.9  # no vectors inside


def test_hnsw_parts_graph_for_other_vectors_is_refused(tmp_path: Path) -> None:
    vectors = clustered(3000, seed=1)
    index, params = build_dense(vectors, "hnsw")
    save_hnsw(index, tmp_path)
    with pytest.raises(ValueError, match="nodes for"):
        load_hnsw(tmp_path, vectors[:2000], params.hnsw_m, params.ef_search)


def test_hnsw_filter_never_drops_a_small_source() -> None:
    vectors = clustered(6000, seed=5)
    index, _ = build_dense(vectors, "hnsw")
    within = [(0, 3000), (3000, 3010), (3010, 5990), (5990, 6000)]  # two big sources, two of 10 sentences
    allowed = np.concatenate([np.arange(a, b) for a, b in within])
    queries = np.vstack([clustered(40, seed=11), vectors[[3001, 3005, 5991, 5999]]])
    for query in queries:
        found = search_units(index, vectors, query, 50, within, exact_max=100)  # the big ones go through the graph
        sims = vectors[allowed] @ query
        truth = allowed[np.argsort(-sims, kind="stable")[:50]]
        small = {int(r) for r in truth if 3000 <= r < 3010 or r >= 5990}
        assert small <= set(found.tolist())  # every small-source row of the exact top 50 is there
        assert set(found.tolist()) <= set(allowed.tolist()) and len(found) == 50
    assert 3001 in search_units(index, vectors, vectors[3001], 10, within, exact_max=100)


def test_hnsw_selective_filter_is_exact() -> None:
    vectors = clustered(6000, seed=6)
    index, _ = build_dense(vectors, "hnsw")
    within = [(100, 400), (2000, 2300)]
    allowed = np.concatenate([np.arange(a, b) for a, b in within])
    for query in clustered(30, seed=12):
        found = search_units(index, vectors, query, 50, within, exact_max=FLAT_MAX)
        truth = allowed[np.argsort(-(vectors[allowed] @ query), kind="stable")[:50]]
        assert np.array_equal(found, truth)


def test_hnsw_wide_filter_recall_through_the_graph() -> None:
    vectors = clustered(8000, seed=8)
    index, _ = build_dense(vectors, "hnsw")
    within = [(0, 2000), (4000, 8000)]  # 75 % of the rows, past the exact budget
    allowed = np.concatenate([np.arange(a, b) for a, b in within])
    queries = tuning_queries(vectors, 100, seed=13)  # near stored sentences, as questions are near their answer
    truth_rows, _ = exact_top10(vectors[allowed], queries)
    hits = [len(set(search_units(index, vectors, q, 10, within, exact_max=100).tolist())
                & set(allowed[t].tolist())) for q, t in zip(queries, truth_rows, strict=True)]
    assert np.mean(hits) / 10 >= 0.9


@pytest.fixture(scope="module")
def spf_engines(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[Engine, Engine]]:
    """The Service-Public corpus indexed twice: exact, and HNSW (a threshold below its size)."""
    base = tmp_path_factory.mktemp("hnsw")
    shutil.copytree(SPF, base / "docs")
    engines = []
    for name, flat_max in (("flat", 10**6), ("hnsw", 1000)):
        settings = Settings(index_dir=base / name, sources_dir=base / "docs", flat_max_vectors=flat_max,
                            answer_cache_size=0, rate_limit_per_minute=0)
        engine = Engine(settings, embedder=embedder)
        engine.ingest()
        engines.append(engine)
    yield engines[0], engines[1]


@pytest.mark.slow  # two ingests of the 105 Service-Public fiches
def test_hnsw_mid_size_corpus_gets_an_on_disk_graph(spf_engines: tuple[Engine, Engine]) -> None:
    flat, hnsw = spf_engines
    assert flat.snapshot.manifest.dense.kind == "flat"
    manifest = hnsw.snapshot.manifest
    assert manifest.dense.kind == "hnsw" and manifest.dense.recall_at_10 >= 0.95 and manifest.dense.flat_max == 1000
    assert manifest.counts["units"] > 1000
    vdir = hnsw.index_dir / hnsw.snapshot.version
    assert (vdir / GRAPH).is_file() and not (vdir / "units.faiss").exists()
    reloaded = load_snapshot(hnsw.index_dir, verify=True)  # a fresh process's view: the same graph
    query = hnsw.embedder.embed_query(QUESTIONS[0])
    assert np.array_equal(reloaded.dense_candidates(query, 50), hnsw.snapshot.dense_candidates(query, 50))


@pytest.mark.slow  # two ingests of the 105 Service-Public fiches
def test_hnsw_rankings_match_exact_search_within_recall(spf_engines: tuple[Engine, Engine]) -> None:
    flat, hnsw = spf_engines
    same_first = same_answer = 0
    for question in QUESTIONS:
        exact, approx = flat.search(question), hnsw.search(question)
        same_first += exact.hits[0].chunk.start == approx.hits[0].chunk.start and \
            exact.hits[0].chunk.source_id == approx.hits[0].chunk.source_id
        same_answer += flat.ask(question).text == hnsw.ask(question).text
    assert same_first / len(QUESTIONS) >= 0.95 and same_answer / len(QUESTIONS) >= 0.9


@pytest.mark.slow  # two ingests of the 105 Service-Public fiches
def test_hnsw_source_filter_finds_the_source_asked_for(spf_engines: tuple[Engine, Engine]) -> None:
    flat, hnsw = spf_engines
    sources = sorted(hnsw.snapshot.manifest.sources)
    for sid in sources[:10]:
        ranked = hnsw.search(QUESTIONS[0], sources=[sid])
        assert ranked.hits and {h.chunk.source_id for h in ranked.hits} == {sid}
        assert [h.row for h in ranked.hits] == [h.row for h in flat.search(QUESTIONS[0], sources=[sid]).hits]


@pytest.mark.slow  # two ingests of the 105 Service-Public fiches
def test_hnsw_truncated_graph_is_refused(spf_engines: tuple[Engine, Engine], tmp_path: Path) -> None:
    _, hnsw = spf_engines
    copy = tmp_path / "index"
    shutil.copytree(hnsw.index_dir, copy)
    graph = version_file(copy, hnsw.snapshot.version, GRAPH)
    graph.write_bytes(graph.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match=GRAPH):
        load_snapshot(copy)
