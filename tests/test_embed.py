"""Embedders: the bundled USE default and sentence-transformers for any Hugging Face model."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.embed import Embedder, EmbedderError, SentenceTransformerEmbedder, load_embedder


def test_embed_use_vectors_are_normalised_and_cross_lingual(embedder: Embedder) -> None:
    docs = embedder.embed_documents(["Le chat dort sur le canapé.", "La bourse a chuté hier."])
    assert docs.shape == (2, 512) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1, atol=1e-5)
    query = embedder.embed_query("The cat is sleeping on the sofa.")
    assert query @ docs[0] > query @ docs[1]


def test_embed_sentence_transformers_loads_bundled_minilm() -> None:
    model = load_embedder("all-MiniLM-L6-v2")
    assert isinstance(model, SentenceTransformerEmbedder)
    assert model.name == "all-MiniLM-L6-v2" and model.dim == 384
    vectors = model.embed_documents(["a cat sleeps", "stocks fell", "a kitten naps"])
    assert vectors[0] @ vectors[2] > vectors[0] @ vectors[1]


def test_embed_unknown_model_offline_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EmbedderError, match="cannot load embedder"):
        load_embedder(str(tmp_path / "no-such-model"))
