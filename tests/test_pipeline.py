"""Versioned ingest: incremental re-embedding, atomic publish, refusal of corrupt or foreign indexes."""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from bot.config import Settings
from bot.engine import Engine
from bot.http.child import ingest_env
from index import store
from index.dense import DenseParams, build_dense
from index.errors import ReplaceRefusedError
from index.manifest import Manifest
from index.store import EmbedderMismatchError, IndexCorruptError, load_snapshot
from index.versions import current_version, list_versions
from ingest.budget import Budget
from ingest.embed import Embedder
from ingest.guards import ingest_lock
from ingest.pipeline import IngestError, build_index, recorded_root
from ingest.read import ReadParams, source_id_for
from tests.conftest import CHUNKING, ROOT, SEEDS


def test_pipeline_reingest_unchanged_embeds_nothing(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    first = build_index(corpus, tmp_path / "idx", embedder, CHUNKING)
    assert first.embedded == first.chunks > 0 and first.sources == 3
    again = build_index(corpus, tmp_path / "idx", embedder, CHUNKING)
    assert again.embedded == 0 and again.reused == first.chunks
    assert not again.changed and again.version == first.version


def test_pipeline_reembeds_only_the_edited_file(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    first = build_index(corpus, tmp_path / "idx", embedder, CHUNKING)
    (corpus / "fromages.txt").write_text("Le roquefort est un fromage de brebis. Il est bleu.\n", encoding="utf-8")
    second = build_index(corpus, tmp_path / "idx", embedder, CHUNKING)
    fromages = [c for c in load_snapshot(tmp_path / "idx").chunks if c.source_id == "fromages"]
    assert second.embedded == len(fromages)
    assert second.reused == first.chunks - len([c for c in load_snapshot(tmp_path / "idx", first.version).chunks
                                                if c.source_id == "fromages"])
    assert second.version != first.version and current_version(tmp_path / "idx") == second.version
    assert "roquefort" in fromages[0].text


def test_pipeline_drops_deleted_sources(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    build_index(corpus, tmp_path / "idx", embedder, CHUNKING)
    (corpus / "trains.txt").unlink()
    report = build_index(corpus, tmp_path / "idx", embedder, CHUNKING)
    assert report.removed_sources == ["trains"] and report.embedded == 0
    assert set(load_snapshot(tmp_path / "idx").texts) == {"chats", "fromages"}


def test_pipeline_skips_bad_files_and_refuses_empty_corpus(tmp_path: Path, embedder: Embedder) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IngestError, match="no sources to ingest"):
        build_index(empty, tmp_path / "idx", embedder, CHUNKING)
    (empty / "bad.txt").write_bytes(b"\xff\xfe\x00bad")
    (empty / "ok.txt").write_text("Un texte correct.", encoding="utf-8")
    report = build_index(empty, tmp_path / "idx", embedder, CHUNKING)
    assert report.sources == 1 and "bad.txt" in report.errors[0]


def test_pipeline_file_over_its_read_budget_is_skipped_and_the_others_are_published(
        corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    shutil.copy(ROOT / "tests" / "data" / "formats" / "guide.pdf", corpus / "guide.pdf")
    (corpus / "lent.md").write_text("![" * 500_000)  # 14 s to read here, stopped after 1 s
    report = build_index(corpus, tmp_path / "idx", embedder, CHUNKING,
                         reading=ReadParams(2**30, budget=Budget(1.0, 2048, 2)))
    assert report.errors == [f"{corpus}/lent.md: took more than 1 s to read (SOURCIER_READ_TIMEOUT_SECONDS); skipped"]
    assert sorted(load_snapshot(tmp_path / "idx").manifest.sources) == ["chats", "fromages", "guide", "trains"]


def test_pipeline_read_budget_comes_from_the_settings_and_reaches_the_reindex_child(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "idx", read_timeout_seconds=5, read_memory_mb=512, ingest_workers=3)
    assert Engine.reading(settings).budget == Budget(5, 512, 3)
    assert Engine.reading(Settings()).budget == Budget(60, 2048, 2)
    env = ingest_env(settings)
    assert (env["SOURCIER_READ_TIMEOUT_SECONDS"], env["SOURCIER_READ_MEMORY_MB"]) == ("5.0", "512")


def test_pipeline_ingests_beside_a_file_name_that_is_not_utf8(corpus: Path, tmp_path: Path,
                                                              embedder: Embedder) -> None:
    with open(os.path.join(os.fsencode(corpus), "résumé.txt".encode("latin-1")), "wb") as handle:
        handle.write("Mon résumé.".encode())  # a name from a Latin-1 system: it decodes to lone surrogates
    report = build_index(corpus, tmp_path / "idx", embedder, CHUNKING)
    assert report.sources == 3 and set(load_snapshot(tmp_path / "idx").texts) == {"chats", "fromages", "trains"}
    assert ["r\\xe9sum\\xe9.txt: name is not valid UTF-8" in e for e in report.errors] == [True]
    json.dumps(asdict(report), ensure_ascii=False).encode("utf-8")  # the job file and `--json` write this


def test_pipeline_refuses_truncated_version_and_keeps_previous(corpus: Path, tmp_path: Path,
                                                               embedder: Embedder) -> None:
    index_dir = tmp_path / "idx"
    old = build_index(corpus, index_dir, embedder, CHUNKING).version
    (corpus / "chats.md").write_text("# Les chats\n\nLe chat ronronne.", encoding="utf-8")
    new = build_index(corpus, index_dir, embedder, CHUNKING).version
    vectors = index_dir / "segments" / Manifest.read(index_dir / new).sources["chats"].segment / "unit_vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match="truncated"):
        load_snapshot(index_dir)
    assert load_snapshot(index_dir, old).version == old
    repaired = build_index(corpus, index_dir, embedder, CHUNKING)  # a corrupt CURRENT means a full rebuild, not a crash
    assert repaired.embedded == repaired.chunks and load_snapshot(index_dir).version == repaired.version


def test_pipeline_refuses_garbled_manifest(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    version = build_index(corpus, tmp_path / "idx", embedder, CHUNKING).version
    (tmp_path / "idx" / version / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="manifest"):
        load_snapshot(tmp_path / "idx")


def test_pipeline_manifest_records_embedder_and_mismatch_is_refused(corpus: Path, tmp_path: Path,
                                                                    embedder: Embedder) -> None:
    version = build_index(corpus, tmp_path / "idx", embedder, CHUNKING).version
    manifest = json.loads((tmp_path / "idx" / version / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedder"] == {"name": "use-multilingual-v3", "dim": 512}
    with pytest.raises(EmbedderMismatchError, match="use-multilingual-v3"):
        load_snapshot(tmp_path / "idx", embedder="all-MiniLM-L6-v2")


def test_pipeline_second_ingest_fails_fast_while_locked(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    with ingest_lock(tmp_path / "idx"), pytest.raises(IngestError, match="another ingest"):
        build_index(corpus, tmp_path / "idx", embedder, CHUNKING)


def test_pipeline_prunes_old_versions(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    for i in range(4):
        (corpus / "chats.md").write_text(f"# Chats\n\nVersion {i} du texte.", encoding="utf-8")
        build_index(corpus, tmp_path / "idx", embedder, CHUNKING, keep_versions=2)
    versions = list_versions(tmp_path / "idx")
    assert len(versions) == 2 and current_version(tmp_path / "idx") == versions[-1]


def test_pipeline_source_ids_never_change_for_a_file_that_keeps_its_path(tmp_path: Path, embedder: Embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "b-c.txt").write_text("Le comté vieillit en cave.", encoding="utf-8")
    index = tmp_path / "index"
    build_index(docs, index, embedder, CHUNKING)
    first = {e.path: sid for sid, e in load_snapshot(index).manifest.sources.items()}
    assert first["b-c.txt"] == "b-c"
    assert source_id_for(docs / "...txt", docs) == "dots" and source_id_for(docs / "a" / "..md", docs) == "a/dots"
    (docs / "b c.txt").write_text("Une autre source.", encoding="utf-8")  # sorts first, slugs to the same id
    (docs / "a b.txt").write_text("Encore une autre.", encoding="utf-8")
    build_index(docs, index, embedder, CHUNKING)
    second = {e.path: sid for sid, e in load_snapshot(index).manifest.sources.items()}
    assert second["b-c.txt"] == "b-c" and len(set(second.values())) == 3


def test_pipeline_dense_index_write_error_is_the_clear_disk_error(tmp_path: Path, embedder: Embedder,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Le comté vieillit en cave.", encoding="utf-8")
    old = build_index(docs, tmp_path / "index", embedder, CHUNKING).version
    (docs / "b.txt").write_text("Le beaufort vient de Savoie.", encoding="utf-8")

    def full(index: object, directory: object) -> None:  # what writing the HNSW graph raises on a full disk
        raise OSError(errno.ENOSPC, "No space left on device")

    def saved_kind(vectors: object, *args: object) -> tuple[object, DenseParams]:  # a flat index is not saved
        index, params = build_dense(vectors, *args)  # type: ignore[arg-type]
        return index, replace(params, kind="hnsw")  # a saved kind (HNSW/IVF need >= 1,000 sentences)

    monkeypatch.setattr(store, "build_dense", saved_kind)
    monkeypatch.setattr(store, "save_hnsw", full)
    with pytest.raises(IngestError, match=r"cannot write a new index version .*No space left on device.*"
                                          r"MB free\); the current version keeps serving"):
        build_index(docs, tmp_path / "index", embedder, CHUNKING)
    assert current_version(tmp_path / "index") == old


def test_pipeline_manifest_records_the_sources_root(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    build_index(corpus, tmp_path / "idx", embedder, CHUNKING)
    assert load_snapshot(tmp_path / "idx").manifest.sources_root == str(corpus.resolve())
    assert recorded_root(tmp_path / "idx") == corpus.resolve()
    assert recorded_root(tmp_path / "none") is None


def test_pipeline_ingest_from_another_root_is_refused_unless_replace(corpus: Path, tmp_path: Path,
                                                                    embedder: Embedder) -> None:
    team = build_index(corpus, tmp_path / "idx", embedder, CHUNKING).version
    with pytest.raises(ReplaceRefusedError, match=r"built from .*docs and it would remove 3 of 3 indexed sources "
                                                  r"\(chats, fromages, trains\).*--replace"):
        build_index(SEEDS, tmp_path / "idx", embedder, CHUNKING)
    assert current_version(tmp_path / "idx") == team
    replaced = build_index(SEEDS, tmp_path / "idx", embedder, CHUNKING, replace=True)
    assert replaced.removed_sources == ["chats", "fromages", "trains"]
    assert recorded_root(tmp_path / "idx") == SEEDS.resolve()


def test_pipeline_removing_more_than_half_of_the_sources_is_refused_unless_replace(
        corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    build_index(corpus, tmp_path / "idx", embedder, CHUNKING)
    (corpus / "trains.txt").unlink()
    assert build_index(corpus, tmp_path / "idx", embedder, CHUNKING).removed_sources == ["trains"]  # 1 of 3: fine
    (corpus / "extra.txt").write_text("Le beaufort vient de Savoie.", encoding="utf-8")
    (corpus / "chats.md").unlink()
    (corpus / "fromages.txt").unlink()
    with pytest.raises(ReplaceRefusedError, match=r"remove 2 of 2 indexed sources \(chats, fromages\), more than half"):
        build_index(corpus, tmp_path / "idx", embedder, CHUNKING)
    assert set(load_snapshot(tmp_path / "idx").texts) == {"chats", "fromages"}
    assert build_index(corpus, tmp_path / "idx", embedder, CHUNKING, replace=True).sources == 1


def test_pipeline_index_made_before_roots_were_recorded_is_still_protected(corpus: Path, tmp_path: Path,
                                                                          embedder: Embedder) -> None:
    version = build_index(corpus, tmp_path / "idx", embedder, CHUNKING).version
    manifest = tmp_path / "idx" / version / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    del data["sources_root"]
    manifest.write_text(json.dumps(data), encoding="utf-8")
    assert recorded_root(tmp_path / "idx") is None  # `make run` falls back to seeds/ ...
    with pytest.raises(ReplaceRefusedError, match=r"does not record the folder .* `sourcier ingest DIR`"):
        build_index(SEEDS, tmp_path / "idx", embedder, CHUNKING)  # ... and is stopped before it wipes the index
    (corpus / "ours.txt").write_text("Le reblochon vient de Haute-Savoie.", encoding="utf-8")
    assert build_index(corpus, tmp_path / "idx", embedder, CHUNKING).added_sources == ["ours"]
    assert recorded_root(tmp_path / "idx") == corpus.resolve()


def test_pipeline_an_edited_paragraph_reembeds_that_paragraph_not_the_file(tmp_path: Path, embedder: Embedder) -> None:
    import numpy as np

    docs = tmp_path / "docs"
    docs.mkdir()
    sections = [f"## Partie {i}\n\nLe service {i} ouvre à {8 + i % 3} heures. Il ferme le soir à {17 + i % 2} heures."
                f" Son responsable répond aux questions du lundi au vendredi." for i in range(12)]
    page = docs / "guide.md"
    page.write_text("# Guide\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    first = build_index(docs, tmp_path / "idx", embedder, CHUNKING)
    sections[5] = sections[5].replace("du lundi au vendredi", "le samedi matin seulement")
    page.write_text("# Guide\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    second = build_index(docs, tmp_path / "idx", embedder, CHUNKING)
    assert second.changed_sources == ["guide"] and first.embedded == second.chunks
    assert second.embedded == 1 and second.reused == second.chunks - 1  # the one chunk whose text changed
    edited = load_snapshot(tmp_path / "idx")
    scratch = build_index(docs, tmp_path / "scratch", embedder, CHUNKING)
    assert scratch.embedded == scratch.chunks
    fresh = load_snapshot(tmp_path / "scratch")
    assert [c.text for c in edited.chunks] == [c.text for c in fresh.chunks]
    assert np.allclose(edited.chunk_vectors, fresh.chunk_vectors, atol=1e-6)  # reused rows are the right rows
    assert np.allclose(edited.unit_vectors, fresh.unit_vectors, atol=1e-6)
