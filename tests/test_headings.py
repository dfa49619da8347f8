"""Headings and titles are context, never the answer: on Markdown and on plain text alike."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.engine import Engine
from ingest.embed import Embedder

FESTIVAL = """# La fête du hareng fumé de Brumeville

## Origines

La fête a été fondée en 1957 par Jeanne Caudron, une poissonnière du port. Elle voulait sauver les fumoirs de la ville.

## Fréquentation

Environ 12 000 visiteurs viennent chaque année. Ils repartent avec des harengs fumés au bois de hêtre.

## Programme

Le samedi, un défilé de barques traverse le port. Le dimanche, un concours récompense le meilleur fumeur.
"""


@pytest.fixture(scope="module")
def festival(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    root = tmp_path_factory.mktemp("festival")
    (root / "docs").mkdir()
    (root / "docs" / "fete.md").write_text(FESTIVAL, encoding="utf-8")
    (root / "docs" / "notes.txt").write_text("Notes\n\nLa réunion est reportée. Le café est offert.\n", encoding="utf-8")
    engine = Engine(Settings(index_dir=root / "index", data_dir=root / "var", sources_dir=root / "docs"), embedder)
    engine.ingest()
    return engine


@pytest.mark.parametrize(("question", "expected", "section"), [
    ("Quand a été fondée la fête ?", "1957", "Origines"),
    ("Qui a fondé la fête du hareng ?", "Jeanne Caudron", "Origines"),
    ("Combien de visiteurs viennent à la fête ?", "12 000", "Fréquentation"),
])
def test_headings_answer_quotes_the_body_sentence_under_the_heading(festival: Engine, question: str, expected: str,
                                                                   section: str) -> None:
    answer = festival.ask(question)
    assert answer.found, answer.confidence
    assert expected in answer.text and "#" not in answer.text
    assert "La fête du hareng fumé de Brumeville" not in answer.text
    cited = [c for c in answer.citations if c.cited]
    assert cited[0].section == f"La fête du hareng fumé de Brumeville › {section}"


def test_headings_plain_text_title_is_not_quoted(festival: Engine) -> None:
    answer = festival.ask("La réunion est-elle reportée ?")
    assert answer.found and answer.text.startswith("La réunion est reportée.") and "Notes" not in answer.text
    assert not festival.ask("Who wrote Les Misérables?").found


def test_headings_are_searchable_context(festival: Engine) -> None:
    result = festival.search("programme de la fête")
    assert result.hits[0].chunk.section.endswith("Programme")
