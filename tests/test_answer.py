"""Answers quote cited passages verbatim, abstain honestly, and refuse bad questions."""

from __future__ import annotations

import re

import pytest

from bot.answer import language
from bot.engine import Engine
from bot.retrieve import QuestionError, UnknownSourceError

QUESTIONS = [
    "Qui dirige OpenAI par intérim ?",
    "Quelle entreprise Emmett Shear a-t-il fondée ?",
    "Who resigned in protest after being demoted?",
    "Combien de GPU Microsoft achètera-t-il ?",
]


@pytest.mark.parametrize("question", QUESTIONS)
def test_answer_every_marker_quotes_its_citation(engine: Engine, question: str) -> None:
    answer = engine.ask(question)
    assert answer.found
    by_n = {c.n: c for c in answer.citations}
    pieces = re.findall(r"(.+?) \[(\d+)\](?: |$)", answer.text)
    assert 1 <= len(pieces) <= 3
    assert " ".join(f"{text} [{n}]" for text, n in pieces) == answer.text
    for text, n in pieces:
        citation = by_n[int(n)]
        assert text in citation.text
        source = engine.snapshot.texts[citation.source_id]
        assert source[citation.start : citation.end] == citation.text


def test_answer_names_the_interim_ceo(engine: Engine) -> None:
    answer = engine.ask("Qui dirige OpenAI par intérim ?")
    assert "Mira Murati" in answer.text.split("[1]")[0]
    first = answer.citations[0]
    assert "Mira Murati" in first.text[first.sentence_start - first.start : first.sentence_end - first.start]


@pytest.mark.parametrize(
    ("question", "lang"),
    [("Quelle est la hauteur de la tour Eiffel ?", "fr"), ("Who wrote the novel Les Misérables?", "en")],
)
def test_answer_abstains_in_the_question_language(engine: Engine, question: str, lang: str) -> None:
    answer = engine.ask(question)
    assert not answer.found and answer.language == lang
    assert answer.text == {"fr": "Je ne sais pas : je n'ai pas trouvé la réponse dans les sources.",
                           "en": "I don't know: I did not find the answer in the sources."}[lang]
    assert "[" not in answer.text


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_answer_refuses_empty_question(engine: Engine, question: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        engine.ask(question)


def test_answer_refuses_overlong_question_and_unknown_source(engine: Engine) -> None:
    with pytest.raises(QuestionError, match="limit is 1000"):
        engine.ask("pourquoi " * 200)
    with pytest.raises(UnknownSourceError, match="nope"):
        engine.ask("Qui dirige OpenAI ?", sources=["nope"])


def test_answer_respects_k_and_dedupes_overlapping_passages(engine: Engine) -> None:
    result = engine.search("Microsoft OpenAI Altman", k=4)
    assert len(result.hits) == 4
    spans = sorted((h.chunk.start, h.chunk.end) for h in result.hits)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))


def test_language_detects_english_and_defaults_to_french() -> None:
    assert language("What happened to Microsoft's stock?") == "en"
    assert language("Qu'est-il arrivé à l'action Microsoft ?") == "fr"
    assert language("OpenAI ?") == "fr"
