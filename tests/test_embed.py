"""Embedders: the bundled USE default and sentence-transformers for any Hugging Face model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


TEXTS = ["Qui dirige OpenAI par intérim ?", "Le conseil d'administration a renvoyé Sam Altman.", "Twitch"]


def test_embed_shared_weights_give_the_same_vectors_and_one_copy_for_every_process(embedder: Embedder,
                                                                                 tmp_path: Path) -> None:
    shared = load_embedder(shared=tmp_path)
    assert np.array_equal(shared.embed_documents(TEXTS), embedder.embed_documents(TEXTS))
    files = sorted(str(f) for f in tmp_path.rglob("*.npy"))
    assert len(files) == 15  # the table, eight matrices, six convolution weights
    probe = ("import sys, pathlib; from ingest.embed import load_embedder; m = load_embedder(shared=pathlib.Path("
             "sys.argv[1])); m.embed_query('x'); print(pathlib.Path('/proc/self/maps').read_text())")
    maps = [subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True,
                           cwd=Path(__file__).resolve().parent.parent).stdout for _ in range(2)]
    assert all(all(f in m for f in files) for m in maps)  # each process maps the same files, none copies them


def test_embed_shared_weights_in_an_unwritable_folder_stay_private_and_still_embed(embedder: Embedder,
                                                                                   tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    shared = load_embedder(shared=blocked / "models")  # its parent is a file: nothing can be written there
    assert np.array_equal(shared.embed_documents(TEXTS), embedder.embed_documents(TEXTS))
