"""Version integrity: checksums in the manifest, checked before a rollback; finite vectors; damaged rows are 503s."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli.cli import app
from bot.config import Settings
from bot.engine import Engine
from bot.http.api import create_app
from index.errors import IngestError
from index.manifest import Manifest
from index.versions import current_version
from ingest.embed import Embedder
from ingest.pipeline import build_index
from tests.conftest import CHUNKING, LiveServer, version_file
from tests.processes import sourcier_serve


def _two_versions(corpus: Path, index_dir: Path, embedder: Embedder) -> tuple[str, str]:
    old = build_index(corpus, index_dir, embedder, CHUNKING).version
    (corpus / "trains.txt").write_text("Le TER relie Lyon à Grenoble en une heure.\n", encoding="utf-8")
    return old, build_index(corpus, index_dir, embedder, CHUNKING).version


def _same_size_damage(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert len(old) == len(new) and old in data
    path.write_bytes(data.replace(old, new, 1))


def _nan_row(path: Path) -> None:
    vectors = np.load(path, mmap_mode="r+")
    vectors[0, :] = np.nan
    vectors.flush()


@pytest.mark.parametrize(("name", "damage"), [
    ("chunks.jsonl", lambda p: _same_size_damage(p, b"fromage", b"fromagf")),
    ("unit_vectors.npy", _nan_row)])
def test_integrity_rollback_refuses_a_same_size_damaged_version(corpus: Path, tmp_path: Path, embedder: Embedder,
                                                               name: str, damage) -> None:  # type: ignore[no-untyped-def]
    index_dir = tmp_path / "idx"
    old, new = _two_versions(corpus, index_dir, embedder)
    damage(version_file(index_dir, old, name))
    result = CliRunner().invoke(app, ["rollback", old, "--index-dir", str(index_dir)])
    assert result.exit_code == 1 and f"{name} is damaged" in " ".join(result.output.split())
    assert current_version(index_dir) == new


def test_integrity_manifest_without_checksums_still_loads_and_rolls_back(corpus: Path, tmp_path: Path,
                                                                        embedder: Embedder) -> None:
    index_dir = tmp_path / "idx"
    old, _ = _two_versions(corpus, index_dir, embedder)
    manifest = Manifest.read(index_dir / old)
    assert {k.rsplit("/", 1)[-1] for k in manifest.checksums} >= {"chunks.jsonl", "unit_vectors.npy", "chunk_units.npy"}
    data = manifest.to_json()
    del data["checksums"]  # a version written before checksums existed
    Manifest.from_json(data).write(index_dir / old)
    assert CliRunner().invoke(app, ["rollback", old, "--index-dir", str(index_dir)]).exit_code == 0


class PoisonedEmbedder:
    """The real model, with one vector of every batch made NaN: what a broken model file or runtime gives."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        vectors = np.array(self.inner.embed_documents(texts))
        vectors[0] = np.nan
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


def test_integrity_ingest_refuses_nan_vectors_and_the_old_version_serves(corpus: Path, tmp_path: Path,
                                                                         embedder: Embedder) -> None:
    index_dir = tmp_path / "idx"
    first = build_index(corpus, index_dir, embedder, CHUNKING).version
    (corpus / "neuf.txt").write_text("Le port de Marseille accueille les ferries.\n", encoding="utf-8")
    with pytest.raises(IngestError, match="NaN or infinite"):
        build_index(corpus, index_dir, PoisonedEmbedder(embedder), CHUNKING)
    assert current_version(index_dir) == first


def test_integrity_damaged_row_is_a_clear_503_not_a_500(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(index_dir=tmp_path / "idx", sources_dir=corpus, data_dir=tmp_path / "var",
                        rate_limit_per_minute=0)
    version = build_index(corpus, settings.index_dir, embedder, CHUNKING).version
    chunks = version_file(settings.index_dir, version, "chunks.jsonl")
    first_line = chunks.read_bytes().split(b"\n", 1)[0]
    _same_size_damage(chunks, first_line, b"#" * len(first_line))  # not JSON any more, same size
    with LiveServer(create_app(settings, Engine(settings, embedder=embedder))) as server:
        replies = [httpx.post(server.url + "/v1/ask", json={"question": q}, timeout=30)
                   for q in ("Que fait le chat sur le canapé ?", "Où vieillit le comté ?")]
    assert [r.status_code for r in replies] == [503, 503]
    assert all("chunks.jsonl: row 0 is damaged" in r.json()["detail"] for r in replies)


@contextmanager
def _serving(index_dir: Path, data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`sourcier serve --port 0` as its own process, so a SIGBUS kills the server and never pytest."""
    env = {**os.environ, "SOURCIER_INDEX_DIR": str(index_dir), "SOURCIER_DATA_DIR": str(data_dir),
           "SOURCIER_RATE_LIMIT_PER_MINUTE": "0", "HF_HUB_OFFLINE": "1"}
    with sourcier_serve(env) as served:
        yield served


@pytest.mark.parametrize("name", ["unit_vectors.npy", "chunk_vectors.npy", "chunks.jsonl", "texts.jsonl",
                                  "lexical/data.csc.index.npy", "chunks.jsonl.offsets.npy"])
def test_integrity_truncated_live_file_is_a_503_not_a_dead_server(corpus: Path, tmp_path: Path, embedder: Embedder,
                                                                   name: str) -> None:
    index_dir = tmp_path / "idx"
    version = build_index(corpus, index_dir, embedder, CHUNKING).version
    with _serving(index_dir, tmp_path / "var") as (url, proc), httpx.Client(base_url=url, timeout=30) as client:
        assert client.post("/v1/ask", json={"question": "Que fait le chat ?"}).status_code == 200
        path = version_file(index_dir, version, name)
        original = path.read_bytes()
        os.truncate(path, 0)  # the file the server has mapped, shrunk under it
        try:
            replies = [client.post("/v1/ask", json={"question": "Où vieillit le comté ?"}),
                       client.get("/v1/sources/fromages")]
        except httpx.TransportError:
            pytest.fail(f"the server died: exit {proc.wait(timeout=20)} (-7 is SIGBUS)")
        assert client.get("/healthz").status_code == 200
        assert [r.status_code for r in replies] == [503, 503]
        assert all(f"{name} is missing or truncated" in r.json()["detail"] for r in replies)
        path.write_bytes(original)  # restored in place: the version serves again, no restart
        assert client.post("/v1/ask", json={"question": "Où vieillit le comté ?"}).status_code == 200
