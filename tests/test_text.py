"""Sentence splitting on the French cases the seed article contains."""

from __future__ import annotations

import pytest

from ingest.text import normalise, sentences
from tests.conftest import SEED_FILE


def split(text: str) -> list[str]:
    return [text[s.start : s.end] for s in sentences(text)]


def test_sentences_split_glued_sentences() -> None:
    text = "suscitant des interrogations.Greg Brockman, président, a démissionné."
    assert split(text) == ["suscitant des interrogations.", "Greg Brockman, président, a démissionné."]


@pytest.mark.parametrize(
    "text",
    [
        "Des startups telles qu'Inflection, Anthropic et Character.AI sont citées.",
        "Emmett Shear, fondateur de Twitch.tv, au poste de PDG.",
        "Les groupes de travail GPT-4 et GPT-5 ont perdu des leaders.",
        "Microsoft achètera plus de 400 000 GPU l'année prochaine.",
        "M. Dupont et Mme Durand sont arrivés.",
        "La croissance atteint 3.5 points cette année.",
        "Il a perdu « confiance dans sa capacité à [la] diriger » selon le texte.",
    ],
)
def test_sentences_keep_abbreviations_and_names_whole(text: str) -> None:
    assert split(text) == [text]


def test_sentences_split_after_closing_quote_and_question_glued() -> None:
    text = "Elle a perdu « confiance ». L'organisation parle.Quel impact ?Pensez-vous que oui ?"
    assert split(text) == ["Elle a perdu « confiance ».", "L'organisation parle.", "Quel impact ?",
                           "Pensez-vous que oui ?"]


def test_sentences_treat_lines_as_boundaries() -> None:
    text = "Un titre sans point\n\nLe corps du texte. La suite."
    assert split(text) == ["Un titre sans point", "Le corps du texte.", "La suite."]


def test_sentences_offsets_are_exact_on_the_seed() -> None:
    text = normalise(SEED_FILE.read_text(encoding="utf-8"))
    spans = sentences(text)
    assert len(spans) > 50
    for span in spans:
        piece = text[span.start : span.end]
        assert piece == piece.strip() and piece
    assert "interrogations." in split(text)[4]
    assert any(s.startswith("Greg Brockman") for s in split(text))


def test_normalise_unifies_spaces_and_composes_accents() -> None:
    assert normalise("e\u0301te\u0301\u00a0!\r\n") == "été !\n"
