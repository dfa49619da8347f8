"""Quality floors of the one shipped configuration (retrieval + reader) on the four development corpora."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings
from bot.engine import Engine
from bot.evaluate import EvalReport, evaluate, load_gold
from bot.suite import load_suite, run_corpus
from ingest.embed import Embedder
from tests.conftest import DEV_SET, EVAL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> dict[str, tuple[EvalReport, Engine]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("quality"))
    return {c.name: run_corpus(c, settings, embedder, k=5) for c in load_suite(EVAL / "suite.json")}


def test_quality_seed_dev_set_floor(engine: Engine) -> None:
    report = evaluate(load_gold(DEV_SET), lambda q: engine.search(q, k=5), engine.compose)
    assert report.answerable == 32 and report.unanswerable == 4
    assert report.hit_at_1 >= 0.78 and report.hit_at_3 >= 0.95, report.missed
    assert report.abstained == report.unanswerable, report.missed
    assert report.false_abstentions <= 11, report.missed
    assert report.answer_contains_evidence >= 0.62, report.missed  # 0.594 before the second sentence at a fifth
    assert report.max_passage_chars <= 1200


@pytest.mark.parametrize(("name", "hit", "at", "abstained", "false", "quoted"), [
    ("spf", 0.88, 1, 0.80, 0.05, 0.88),
    ("handbook", 0.90, 3, 0.85, 0.10, 0.78),
    ("piaf", 0.82, 3, 0.85, 0.30, 0.52),  # quoted: the answer holds the exact gold span (0.545)
])
def test_quality_many_document_corpora_floor(reports: dict[str, tuple[EvalReport, Engine]], name: str, hit: float,
                                            at: int, abstained: float, false: float, quoted: float) -> None:
    report, _ = reports[name]
    assert getattr(report, f"hit_at_{at}") >= hit, report.missed
    assert report.abstained >= abstained * report.unanswerable, report.missed
    assert report.false_abstentions <= false * report.answerable, report.missed
    assert report.answer_contains_evidence >= quoted, report.missed
    off_topic = [o for o in report.outcomes if o.kind == "off"]
    assert not any(o.found for o in off_topic), [o.q for o in off_topic if o.found]
    assert len(off_topic) == (0 if name == "piaf" else 20)


def test_quality_team_folder_of_man_pages_floor(reports: dict[str, tuple[EvalReport, Engine]]) -> None:
    report, _ = reports["team"]  # written before any tuning; never fitted on
    assert report.answerable == 13 and report.unanswerable == 8
    assert report.hit_at_5 >= 0.6 and report.abstained == report.unanswerable, report.missed
    assert report.false_abstentions <= 2 and report.answer_contains_evidence >= 0.5, report.missed


@pytest.mark.parametrize(("name", "count", "hit_at_5", "refused", "quoted", "wrong"), [
    ("seed-en", 20, 0.75, 12, 0.35, 2),  # 16, 0.2 before bot/crosslingual; 1 answered without the evidence
    ("handbook-en", 8, 0.5, 4, 0.125, 4),  # 7, 0.0 before; 4 answered without it (passage gold is strict)
    ("spf-en", 30, 0.8, 12, 0.5, 3),  # written before session 36: 12 refused then; 2 answered from another fiche
])
def test_quality_english_questions_over_french_text_floor(reports: dict[str, tuple[EvalReport, Engine]], name: str,
                                                          count: int, hit_at_5: float, refused: int,
                                                          quoted: float, wrong: int) -> None:
    report, _ = reports[name]  # never fitted on: the floor of the weakest case, to be raised, never lowered
    assert report.answerable == count and report.hit_at_5 >= hit_at_5, report.missed
    assert report.false_abstentions <= refused and report.answer_contains_evidence >= quoted, report.missed
    assert report.answered_wrong <= wrong, report.missed  # a wrong answer costs more trust than a refusal
    assert report.abstained >= 0.9 * report.unanswerable, report.missed  # spf-en: 10 near-domain questions


def test_quality_no_answer_quotes_a_heading(reports: dict[str, tuple[EvalReport, Engine]]) -> None:
    _, engine = reports["handbook"]
    headings = {h for c in engine.snapshot.chunks for h in c.section.split(" › ") if h}
    assert len(headings) > 300
    for gold in load_gold(Path(EVAL / "handbook.jsonl")):
        answer = engine.ask(gold.q)
        pieces = re.findall(r"(.+?) \[\d+\](?: |$)", answer.text) if answer.found else []
        assert not any(p in headings or p.startswith("#") for p in pieces), (gold.q, answer.text)
