"""An English question's words carried into a French passage's words by the real encoder's word vectors."""

from __future__ import annotations

import numpy as np
import pytest

from bot.config import Settings
from bot.crosslingual import WordVectors, translate
from bot.engine import Engine
from bot.question import neutral_words
from ingest.embed import Embedder


def test_crosslingual_translate_takes_the_passage_s_word_only_when_it_is_close(embedder: Embedder) -> None:
    vectors = WordVectors(embedder)
    vocabulary = ["chercheurs", "conseil", "désignée", "jours", "paquets"]
    words = ["researchers", "appointed", "days", "penicillin"]
    assert translate(words, vocabulary, vectors) == ["chercheurs", "désignée", "jours", "penicillin"]
    assert translate([], vocabulary, vectors) == [] and translate(words, [], vectors) == words


def test_crosslingual_word_vectors_stay_within_their_bound_and_match_the_encoder(embedder: Embedder) -> None:
    vectors = WordVectors(embedder, size=3)
    words = ["paquet", "noyau", "serveur", "fichier", "paquet"]
    rows = vectors(words)
    assert rows.shape == (5, embedder.dim) and len(vectors._kept) == 3
    assert np.allclose(rows, embedder.embed_documents(words), atol=2e-3)  # kept as float16
    assert list(vectors._kept) == ["serveur", "fichier", "paquet"]  # the least recently read went first


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    sources = tmp_path_factory.mktemp("mixed")
    (sources / "conges.md").write_text("# Congés\n\nChaque salarié dispose de 25 jours de congés payés par an. "
                                       "Les congés se posent dans l'outil RH.\n", encoding="utf-8")
    (sources / "deploy.md").write_text("# Deployments\n\nDeployments happen on Tuesdays and Thursdays, between "
                                       "2 and 4 pm. No deployment is made on the eve of a holiday.\n",
                                       encoding="utf-8")
    engine = Engine(Settings(index_dir=sources.parent / "mixed-index", sources_dir=sources), embedder)
    engine.ingest()
    return engine


def test_crosslingual_english_question_s_overlap_with_a_french_passage_is_measured(mixed: Engine) -> None:
    result = mixed.search("How many days of paid leave does each employee get?", k=1)
    assert result.reading is not None and result.hits[0].chunk.source_id == "conges"
    assert result.reading.inputs["cov_passage"] > 0.3  # « days » is found as « jours »


def test_crosslingual_french_question_s_overlap_with_an_english_passage_stays_unmeasured(mixed: Engine) -> None:
    result = mixed.search("Quels jours ont lieu les déploiements ?", k=1, sources=["deploy"])
    assert result.reading is not None and result.hits[0].chunk.source_id == "deploy"
    assert "cov_passage" not in result.reading.inputs


def test_crosslingual_english_capitalised_common_words_are_not_names() -> None:
    assert neutral_words("Can I have two French passports on Monday?") == ""
    assert neutral_words("Did Sam Altman join Microsoft in 2023?") == "Sam Altman Microsoft 2023"
