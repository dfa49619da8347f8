"""Regression guard: the dev-set quality floor of the default configuration."""

from __future__ import annotations

from bot.engine import Engine
from bot.evaluate import evaluate, load_gold
from tests.conftest import DEV_SET


def test_quality_dev_set_floor(engine: Engine) -> None:
    report = evaluate(load_gold(DEV_SET), lambda q: engine.search(q, k=5),
                      engine.compose)
    assert report.answerable >= 30 and report.unanswerable == 4
    assert report.hit_at_1 >= 0.80, report.missed
    assert report.hit_at_3 >= 0.95, report.missed
    assert report.abstained == report.unanswerable, report.missed
    assert report.false_abstentions <= 1, report.missed
    assert report.max_passage_chars <= 1200
