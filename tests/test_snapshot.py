"""The Snapshot interface on the on-disk backend: top-k candidates with their scores, features, scopes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.engine import Engine
from bot.scope import Scope
from index.lexical import LexicalIndex
from index.snapshot import Snapshot, top_rows
from index.store import IndexSnapshot
from ingest.embed import Embedder


@pytest.fixture()
def snapshot(corpus: Path, embedder: Embedder, tmp_path: Path) -> IndexSnapshot:
    (corpus / "chats2.md").write_text("# Chats encore\n\nUn chat noir dort. Le chat boit du lait.\n", encoding="utf-8")
    engine = Engine(Settings(index_dir=tmp_path / "index", sources_dir=corpus), embedder)
    engine.ingest()
    return engine.snapshot


def test_snapshot_top_rows_keeps_positive_scores_and_breaks_ties_by_row() -> None:
    rows, scores = top_rows(np.array([7, 3, 5, 9]), np.array([1.0, 2.0, 2.0, 0.0], dtype=np.float32), 2)
    assert rows.tolist() == [3, 5] and scores.tolist() == [2.0, 2.0]
    assert top_rows(np.array([1]), np.array([0.0]), 5)[0].tolist() == []


def test_snapshot_candidates_are_top_k_lexical_with_their_bm25(snapshot: IndexSnapshot, embedder: Embedder) -> None:
    view: Snapshot = snapshot
    query = embedder.embed_query("le chat dort")
    found = view.candidates(query, "le chat dort", 1)
    every = snapshot.lexical.scores("le chat dort")
    assert list(found.rows) == sorted(found.rows) and np.array_equal(found.lexical, every[found.rows])
    dense_only = view.candidates(query, None, 1)
    assert not dense_only.lexical.any() and set(dense_only.rows) <= set(found.rows)
    assert int(np.argmax(every)) in found.rows  # the best BM25 chunk is a candidate with n = 1
    assert len(set(found.rows) - set(dense_only.rows)) <= 1  # n lexical candidates, not every chunk


def test_snapshot_candidates_within_sources_never_leave_them(snapshot: IndexSnapshot, embedder: Embedder) -> None:
    found = snapshot.candidates(embedder.embed_query("fromage du Jura"), "chat fromage", 5, {"fromages"})
    assert {snapshot.chunks[int(r)].source_id for r in found.rows} == {"fromages"}


def test_snapshot_features_give_chunks_and_sentence_cosines(snapshot: IndexSnapshot, embedder: Embedder) -> None:
    query = embedder.embed_query("Le TGV relie Paris à Lyon")
    rows = np.arange(len(snapshot.chunks), dtype=np.int64)
    feats = snapshot.features(query, rows)
    assert [c.chunk_id for c in feats.chunks] == [c.chunk_id for c in snapshot.chunks]
    for i, chunk in enumerate(feats.chunks):
        cosines = feats.sentence_cos[feats.offsets[i]:feats.offsets[i + 1]]
        assert len(cosines) == len(chunk.sentences) and feats.best_sentence_cos[i] == cosines.max()
    assert feats.chunks[int(np.argmax(feats.chunk_cos))].source_id == "trains"


def test_snapshot_scope_ranks_by_its_own_bm25(snapshot: IndexSnapshot, embedder: Embedder) -> None:
    allowed = frozenset({"chats", "chats2"})
    scoped = Scope.of(snapshot, allowed).over(snapshot)
    found = scoped.candidates(embedder.embed_query("chat"), "chat lait", 5)
    own = LexicalIndex.build([c.context for c in snapshot.chunks if c.source_id in allowed])
    assert {snapshot.chunks[int(r)].source_id for r in found.rows} <= allowed
    assert sorted(found.lexical.tolist()) == sorted(own.scores("chat lait").tolist())
    assert scoped.terms.weights("chat") == own.weights("chat") != snapshot.terms.weights("chat")
    narrowed = scoped.candidates(embedder.embed_query("chat"), "chat lait", 5, {"chats2"})
    assert {snapshot.chunks[int(r)].source_id for r in narrowed.rows} == {"chats2"}
