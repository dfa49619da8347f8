"""Answers quote cited passages verbatim, abstain honestly, and refuse bad questions."""

from __future__ import annotations

import re
import unicodedata
from itertools import pairwise
from pathlib import Path

import pytest

from bot.answer import HELP, IN_FRENCH, NOT_FOUND, Citation, compose, language
from bot.config import Settings
from bot.engine import Engine
from bot.retrieve import Hit, QuestionError, Retrieval, UnknownSourceError
from index.records import Chunk
from ingest.embed import Embedder
from ingest.text import quotable

QUESTIONS = [
    "Qui dirige OpenAI par intérim ?",
    "Quelle entreprise Emmett Shear a-t-il fondée ?",
    "Microsoft a-t-il accès à DALL-E 3 ?",
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
                           "en": "I don't know: I did not find the answer in the sources. The sources are in "
                                 "French: the same question asked in French is answered far more often."}[lang]
    assert "[" not in answer.text


@pytest.mark.parametrize(("question", "passage", "hint"), [
    ("Who runs the site?", "Le site de Montpellier est dirigé par la direction régionale depuis deux ans.", True),
    ("Who runs the site?", "The Montpellier site has been run by the regional office for two years.", False),
    ("Qui dirige le site ?", "Le site de Montpellier est dirigé par la direction régionale depuis deux ans.", False),
])
def test_answer_refusal_suggests_french_only_to_an_english_question_over_french_text(question: str, passage: str,
                                                                                     hint: bool) -> None:
    hit = Hit(Chunk("c", "s", "t", passage, 0, len(passage), 0, ((0, len(passage)),)), 0, 1.0, 0.3, 0.3, 1.0, (0.3,))
    answer = compose(Retrieval(question, [hit], False, 0.1))
    assert answer.text == NOT_FOUND[language(question)] + (IN_FRENCH if hint else "")


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
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(spans))


def test_language_detects_english_and_defaults_to_french() -> None:
    assert language("What happened to Microsoft's stock?") == "en"
    assert language("Qu'est-il arrivé à l'action Microsoft ?") == "fr"
    assert language("OpenAI ?") == "fr"
    assert language("Can a minor have a bank account?") == "en"  # « a » counts for neither language
    assert language("Qui a remplacé Emmett Shear ?") == "fr"


@pytest.mark.parametrize("question", ["😀", "\x00", "et alors ?", "qui ?", "?!"])
def test_answer_without_content_words_gets_help_not_a_citation(engine: Engine, question: str) -> None:
    answer = engine.ask(question)
    assert not answer.found and answer.citations == [] and answer.text == HELP["fr"]


@pytest.mark.parametrize("question", [
    "lol", "zzzzzz", "asdfghjkl", "Quelle heure est-il ?", "capital of Peru", "Who wrote Les Misérables?",
    "Quel est le salaire de Sam Altman ?", "c ki le ceo de openai mtn", "Qui a peint la Joconde ?",
    "Quelle est la recette de la blanquette de veau ?",
])
def test_answer_abstains_on_what_the_article_does_not_say(engine: Engine, question: str) -> None:
    answer = engine.ask(question)
    assert not answer.found, (answer.confidence, answer.text)
    assert not any(c.cited for c in answer.citations)


def test_answer_never_quotes_the_title_and_marks_what_it_cites(engine: Engine) -> None:
    title = "Consolidation de l'IA générative : les inquiétudes pour l'avenir d'OpenAI"
    answer = engine.ask("Quelles sont les inquiétudes pour l'avenir d'OpenAI dans la consolidation de l'IA ?")
    assert title not in answer.text
    assert answer.found and answer.citations[0].section.startswith(title)
    quoted = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert quoted == {c.n for c in answer.citations if c.cited}


def test_answer_quotes_body_sentences_not_questions_labels_or_contents_lines() -> None:
    assert quotable("Il a été nommé en 1957.") and quotable("Une phrase sans point mais assez longue pour compter")
    assert not quotable("Qui est concerné ?") and not quotable("Pièces à fournir :") and not quotable("Coût")
    assert not any(quotable(line) for line in ("Convertir un fichier texte avec iconv 11.1.2.",  # contents lines
                                               "5.11. Gestion des paquets et des dépendances du système",
                                               "Sauvegarde et restauration des données ........ 42"))
    assert quotable("La version 2.1.3 corrige le problème.") and quotable("En 2019, 3.5 millions de visiteurs.")


def test_language_ignores_proper_nouns_in_titles() -> None:
    assert language("Who wrote Les Misérables?") == "en"
    assert language("Qui a écrit The Old Man and the Sea ?") == "fr"


def test_answer_treats_a_decomposed_question_like_a_composed_one(engine: Engine) -> None:
    composed = "Quelle entreprise Emmett Shear a-t-il fondée ?"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    a, b = engine.search(composed), engine.search(decomposed)
    assert b.question == composed and b.confidence == a.confidence


def test_answer_source_filter_applies_before_candidates_are_taken(tmp_path: Path, embedder: Embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(120):  # near-identical sentences that fill every global top-50
        (docs / f"note-{i:03d}.txt").write_text(f"Où est caché le trésor ? Le trésor est caché, dit la note {i}.\n",
                                                encoding="utf-8")
    (docs / "cible.txt").write_text("Le coffre se trouve dans la vieille cave du moulin, derrière les tonneaux.\n",
                                    encoding="utf-8")
    engine = Engine(Settings(index_dir=tmp_path / "index", data_dir=tmp_path / "var", sources_dir=docs), embedder)
    engine.ingest()
    result = engine.search("Où est caché le trésor ?", k=5, sources=["cible"])
    assert [h.chunk.source_id for h in result.hits] == ["cible"]
    assert "vieille cave du moulin" in result.hits[0].chunk.text


def test_answer_source_url_percent_encodes_the_anchor() -> None:
    cited = Citation(1, "s", "T", "x", 0, 1, 1.0, 0, 1, anchor='été "2024"> #1|<@U1> 100%')
    url = cited.original("https://intranet.example.org/docs", "notes/a b.md")
    assert url == "https://intranet.example.org/docs/notes/a%20b.md#%C3%A9t%C3%A9%20%222024%22%3E%20%231%7C%3C%40U1%3E%20100%25"
    assert Citation(1, "s", "T", "x", 0, 1, 1.0, 0, 1, anchor="page=2").original("https://i", "g.pdf") == \
        "https://i/g.pdf#page=2"  # a PDF page stays readable
