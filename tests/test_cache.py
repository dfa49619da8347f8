"""Repeated questions: answered from the cache for the live version only, never from one no longer live."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from ingest.embed import Embedder
from tests.conftest import LiveServer


def _engine(tmp_path: Path, embedder: Embedder, size: int = 8) -> tuple[Engine, Path]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cantine.md").write_text("# Cantine\n\nLa cantine ouvre à midi. Le menu change chaque lundi.\n",
                                     encoding="utf-8")
    engine = Engine(Settings(index_dir=tmp_path / "index", sources_dir=docs, answer_cache_size=size), embedder)
    engine.ingest()
    return engine, docs


def test_cache_answers_a_repeated_question_the_same_way(tmp_path: Path, embedder: Embedder) -> None:
    engine, _ = _engine(tmp_path, embedder)
    seen: list[bool] = []
    engine.cache.on_lookup = seen.append
    first = engine.ask("À quelle heure ouvre la cantine ?")
    again = engine.ask("  à quelle heure ouvre   la cantine ? ")  # the same question, normalised
    assert seen == [False, True]
    assert again.text == first.text and again.citations == first.citations and again.found
    assert set(again.timings_ms) == {"cache"}
    again.citations.clear()  # what an edge does to its copy never reaches the cache
    assert engine.ask("À quelle heure ouvre la cantine ?").citations == first.citations
    engine.ask("À quelle heure ouvre la cantine ?", k=1)
    assert seen[-1] is False  # another k is another question


def test_cache_never_serves_an_answer_from_a_version_that_is_no_longer_live(tmp_path: Path,
                                                                           embedder: Embedder) -> None:
    engine, docs = _engine(tmp_path, embedder)
    assert "midi" in engine.ask("À quelle heure ouvre la cantine ?").text
    (docs / "cantine.md").write_text("# Cantine\n\nLa cantine ouvre à onze heures trente. Le menu change chaque "
                                     "lundi.\n", encoding="utf-8")
    other = Engine(engine.settings, engine.embedder)  # another process publishes a new version
    other.ingest()
    answer = engine.ask("À quelle heure ouvre la cantine ?")
    assert "onze heures trente" in answer.text and "cache" not in answer.timings_ms


def test_cache_of_size_zero_is_off(tmp_path: Path, embedder: Embedder) -> None:
    engine, _ = _engine(tmp_path, embedder, size=0)
    seen: list[bool] = []
    engine.cache.on_lookup = seen.append
    engine.ask("À quelle heure ouvre la cantine ?")
    assert "cache" not in engine.ask("À quelle heure ouvre la cantine ?").timings_ms and seen == []


def test_cache_hit_rate_shows_in_metrics(tmp_path: Path, embedder: Embedder) -> None:
    engine, _ = _engine(tmp_path, embedder)
    with LiveServer(create_app(engine.settings.model_copy(update={"rate_limit_per_minute": 0}), engine)) as server:
        for _ in range(3):
            assert httpx.post(server.url + "/v1/ask", json={"question": "Quand change le menu ?"}).status_code == 200
        text = httpx.get(server.url + "/metrics").text
    counts = dict(re.findall(r'sourcier_answer_cache_total\{result="(\w+)"\} (\S+)', text))
    assert float(counts["hit"]) == 2 and float(counts["miss"]) == 1
