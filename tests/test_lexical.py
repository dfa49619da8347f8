"""The French analyser and BM25 index."""

from __future__ import annotations

from pathlib import Path

from index.lexical import FrenchAnalyzer, LexicalIndex


def test_analyzer_drops_elisions_stopwords_and_folds_accents() -> None:
    terms = FrenchAnalyzer().terms("L'organisation qu'elle dirige jusqu'à l'Événement")
    assert terms[0] == "organis"
    assert "l" not in terms and "qu" not in terms and "elle" not in terms
    assert "even" in terms


def test_analyzer_matches_inflections() -> None:
    analyzer = FrenchAnalyzer()
    assert analyzer.terms("licenciés") == analyzer.terms("licencié")
    assert analyzer.terms("démissionné") == analyzer.terms("demissionne")


def test_lexical_ranks_and_survives_save_load(tmp_path: Path) -> None:
    index = LexicalIndex.build(["Le chat dort.", "La souris danse avec le chat.", "Rien ici."])
    scores = index.scores("souris")
    assert scores.argmax() == 1 and scores[0] == 0
    index.save(tmp_path / "lex")
    assert (LexicalIndex.load(tmp_path / "lex").scores("souris") == scores).all()
    assert not index.scores("inconnu").any()


def test_lexical_coverage_weights_rare_terms() -> None:
    index = LexicalIndex.build(["chat chien", "chat souris", "chat oiseau"])
    assert index.coverage("chat souris", "souris") > index.coverage("chat souris", "chat")
    assert index.coverage("", "chat") == 0.0
