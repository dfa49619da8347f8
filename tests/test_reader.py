"""The reader: the sentence that answers, a command when the answer is one, the short answer highlighted,
and an abstention when the sources do not say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.answer_types import answer_span, asks, command_like, evidence, question_words
from bot.config import Settings
from bot.engine import Engine
from bot.reader import MODEL_PATH, ReaderModel, shipped_model
from bot.reader_features import FEATURES, _layout, candidates
from ingest.embed import Embedder

WIKI = Path(__file__).parent / "data/reader"


@pytest.fixture(scope="module")
def wiki(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    settings = Settings(index_dir=tmp_path_factory.mktemp("wiki") / "index", sources_dir=WIKI)
    engine = Engine(settings, embedder)
    engine.ingest()
    return engine


@pytest.mark.parametrize(("question", "kind"), [
    ("Quels jours ont lieu les mises en production ?", "days"),
    ("En quelle année OpenAI a-t-elle été fondée ?", "date"),
    ("Combien de GPU Microsoft achètera-t-il ?", "number"),
    ("Qui dirige OpenAI par intérim ?", "person"),
    ("Où sont stockées les crontabs ?", "place"),
    ("Comment modifier ma crontab ?", "how"),
    ("Pourquoi Microsoft a-t-il recruté Altman ?", "why"),
    ("Qu'est-ce que la médiation familiale ?", "define"),
    ("La marine indienne emploie-t-elle des femmes ?", "yesno"),
    ("Quelles questions l'auteur pose-t-il ?", "other"),  # inverted, but asks for content
    ("How many employees threatened to leave?", "number"),
])
def test_reader_knows_what_kind_of_answer_a_question_wants(question: str, kind: str) -> None:
    assert asks(question) == kind


def test_reader_finds_the_short_answer_but_not_the_question_s_own_words() -> None:
    sentence = "À la place, il a nommé Emmett Shear, fondateur et PDG de longue date de Twitch.tv, au poste de PDG."
    span = answer_span(sentence, "person", "Qui est le nouveau PDG d'OpenAI ?")
    assert span is not None and sentence[span[0]:span[1]] == "Emmett Shear"
    assert answer_span(sentence, "person", "Qui est Emmett Shear ?") is None  # asks what he is, not a name
    assert answer_span("Le traité de Berlin de 1878 fut dénoncé.", "date", "Quand le traité de Berlin ?") == (23, 27)


def test_reader_evidence_does_not_count_a_match_made_of_the_question_s_own_words() -> None:
    sentence = "Le traité fut signé à Berlin en 1878 par Bismarck."
    assert evidence(sentence, question_words("Où ?")).place == 1.0
    assert evidence(sentence, question_words("Que fit-on à Berlin ?")).place == 0.0
    assert evidence(sentence, question_words("Qui signa en 1878 ?")).date == 0.0
    assert evidence(sentence, question_words("Qui signa à Berlin ?")).person == 1 / 3  # Bismarck; Berlin is asked


def test_reader_takes_command_lines_not_their_output() -> None:
    assert command_like("deployctl rollback --to previous") and command_like("$ sudo apt install borgbackup")
    assert not any(command_like(line) for line in ("Ready!", "#Format", "25 19 * * * $HOME/bin/get.pl",
                                                   "warning: commands will be executed using /bin/sh"))


def test_reader_answers_with_the_sentence_that_answers_and_highlights_the_days(wiki: Engine) -> None:
    answer = wiki.ask("Quels jours ont lieu les mises en production ?")
    assert answer.found
    assert answer.text.startswith("Les mises en production ont lieu le mardi et le jeudi")  # not « Aucune … férié »
    assert answer.short == "mardi et le jeudi"
    cited = next(c for c in answer.citations if c.cited)
    source = wiki.snapshot.texts[cited.source_id]
    assert source[cited.answer_start:cited.answer_end] == "mardi et le jeudi"


def test_reader_quotes_the_command_when_the_command_is_the_answer(wiki: Engine) -> None:
    answer = wiki.ask("Comment revenir à la version précédente ?")
    assert answer.found and answer.text == "`deployctl rollback --to previous` [1]"
    assert answer.citations[0].code and answer.citations[0].cited


def test_reader_never_quotes_a_heading(wiki: Engine) -> None:
    answer = wiki.ask("Retour arrière")
    headings = {"Mises en production", "Calendrier", "Retour arrière", "Congés"}
    assert not any(h + " [" in answer.text for h in headings)


def test_reader_abstains_when_the_sources_do_not_say(wiki: Engine) -> None:
    for question in ("Combien coûte la cantine ?", "Qui est le directeur financier ?"):
        answer = wiki.ask(question)
        assert not answer.found and answer.short == "" and not any(c.cited for c in answer.citations)


def test_reader_search_shows_what_decided(wiki: Engine) -> None:
    result = wiki.search("Combien de jours de congés a-t-on par an ?")
    assert result.reading is not None and result.reading.kind == "number"
    assert set(result.reading.inputs) >= {"select", "cov_passage", "kind_evidence"}
    assert result.reading.contributions and result.found == (result.confidence >= 0.5)


def test_reader_model_refuses_a_file_fitted_on_other_inputs() -> None:
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert ReaderModel.from_json(data).cut == shipped_model().cut  # the shipped file loads
    data["features"] = list(FEATURES[:-1])
    with pytest.raises(ValueError, match="train_reader"):
        ReaderModel.from_json(data)


def test_reader_does_not_read_an_english_question_s_words_as_absent_from_french_text(wiki: Engine) -> None:
    result = wiki.search("How many days of paid leave does each employee get?")
    assert result.reading is not None and result.reading.kind == "number"
    assert result.reading.inputs["cov_passage"] > 0.3  # measured in the passage's words (bot/crosslingual)
    answer = wiki.ask("How many days of paid leave does each employee get?")
    assert answer.found and answer.text.startswith("Chaque salarié dispose de 25 jours de congés payés par an")
    assert answer.short == "25 jours"


def test_reader_inputs_are_the_same_whether_a_passage_was_read_before_or_not(wiki: Engine) -> None:
    question = "Comment revenir à la version précédente ?"  # a how-to question: code lines are candidates too
    hits = wiki.search(question, k=5).hits
    lexical = wiki.snapshot.lexical
    _layout.cache_clear()
    vectors = wiki.params.words
    assert vectors is not None
    keys, fresh, *_ = candidates(question, hits, lexical, vectors, 5)
    candidates("Quels jours ont lieu les mises en production ?", hits, lexical, vectors, 5)  # another kind
    again_keys, again, *_ = candidates(question, hits, lexical, vectors, 5)
    assert _layout.cache_info().hits >= len(hits) * 2 and keys == again_keys
    assert any(hits[n - 1].chunk.code for n, _ in keys) and np.array_equal(fresh, again, equal_nan=True)
