"""Versions share unchanged sources' rows (index/segments.py): an edit costs what it changes, rollback and pruning
keep what kept versions use, a failed publish leaves nothing partial."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from bench.corpus import write_corpus
from bot.config import Settings
from bot.engine import Engine
from index import store
from index.errors import IngestError
from index.segments import SEGMENTS, segments_of
from index.store import load_snapshot
from index.versions import current_version, list_versions
from ingest.embed import Embedder
from ingest.pipeline import build_index
from tests.conftest import CHUNKING


def disk_bytes(root: Path) -> int:
    """Bytes allocated under root, each inode once (what du counts)."""
    seen: dict[tuple[int, int], int] = {}
    for path in root.rglob("*"):
        info = os.lstat(path)
        seen[(info.st_dev, info.st_ino)] = info.st_blocks * 512
    return sum(seen.values())


def listed_segments(index_dir: Path) -> set[str]:
    """The segments the versions on disk list."""
    return set().union(*(segments_of(json.loads((index_dir / v / "manifest.json").read_text(encoding="utf-8")))
                         for v in list_versions(index_dir)))


def on_disk_segments(index_dir: Path) -> set[str]:
    """The segment directories present."""
    return {p.name for p in (index_dir / SEGMENTS).iterdir()}


def edit(path: Path, words: str) -> str:
    """Append a sentence to one document (one paragraph edited) and return the old text."""
    old = path.read_text(encoding="utf-8")
    path.write_text(old + f"\nUne phrase ajoutée : {words}.\n", encoding="utf-8")
    return old


@pytest.fixture()
def notes(tmp_path: Path) -> list[Path]:
    """Forty synthetic French notes, so vectors are most of a version's bytes."""
    return write_corpus(tmp_path / "notes", 40, length=6)


def test_segments_edit_adds_about_the_edited_source_only(notes: list[Path], tmp_path: Path,
                                                         embedder: Embedder) -> None:
    index_dir = tmp_path / "idx"
    build_index(notes[0].parent.parent, index_dir, embedder, CHUNKING)
    full = disk_bytes(index_dir)
    edit(notes[7], "le fromage de Beaufort vieillit huit mois")
    report = build_index(notes[0].parent.parent, index_dir, embedder, CHUNKING)
    added = disk_bytes(index_dir) - full
    manifest = load_snapshot(index_dir).manifest
    sid = next(s for s, e in manifest.sources.items() if e.path.endswith(notes[7].name))
    new_segment = manifest.sources[sid].segment
    assert [s for s, e in manifest.sources.items() if e.segment == new_segment] == [sid]
    print(f"first version {full} bytes, the edit added {added} bytes ({added / full:.1%})")
    assert report.changed_sources == [sid] and added < full / 4


def test_segments_rollback_serves_the_old_text_and_vectors(notes: list[Path], tmp_path: Path,
                                                           embedder: Embedder) -> None:
    index_dir = tmp_path / "idx"
    root = notes[0].parent.parent
    old = build_index(root, index_dir, embedder, CHUNKING).version
    before = load_snapshot(index_dir, old)
    old_text = edit(notes[3], "la raclette se mange en hiver")
    new = build_index(root, index_dir, embedder, CHUNKING).version
    sid = next(s for s, e in before.manifest.sources.items() if e.path.endswith(notes[3].name))
    assert "raclette" in load_snapshot(index_dir, new).texts[sid]
    again = load_snapshot(index_dir, old, verify=True)  # what `sourcier rollback` loads: every checksum read
    assert again.texts[sid] == old_text and [c.text for c in again.chunks] == [c.text for c in before.chunks]
    assert np.array_equal(again.unit_vectors, before.unit_vectors)


def test_segments_pruning_keeps_what_kept_versions_use_and_the_count(notes: list[Path], tmp_path: Path,
                                                                      embedder: Embedder) -> None:
    index_dir = tmp_path / "idx"
    root = notes[0].parent.parent
    server = Engine(Settings(index_dir=index_dir, sources_dir=root, keep_versions=3), embedder=embedder)
    held = server.ingest().version  # a running server leases the version it serves
    for i in range(5):
        edit(notes[i], f"révision numéro {i}")
        build_index(root, index_dir, embedder, CHUNKING, keep_versions=3)
        versions = list_versions(index_dir)
        assert len(versions) == min(3, i + 2) and held in versions  # the held version counts among the 3
        assert on_disk_segments(index_dir) == listed_segments(index_dir)  # nothing orphaned, nothing missing
        for version in versions:
            load_snapshot(index_dir, version, verify=True)
    first = load_snapshot(index_dir, held).manifest  # the first build's segment, still shared by the held version
    assert len(first.sources) == 40 and {e.segment for e in first.sources.values()} <= on_disk_segments(index_dir)


def test_segments_failed_publish_leaves_nothing_partial(notes: list[Path], tmp_path: Path, embedder: Embedder,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    index_dir = tmp_path / "idx"
    root = notes[0].parent.parent
    old = build_index(root, index_dir, embedder, CHUNKING).version
    edit(notes[5], "le TGV part de Lyon")

    def full(*args: object, **kwargs: object) -> None:  # the disk fills after the segment, before the version
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(store.LexicalIndex, "build", full)
        with pytest.raises(IngestError, match="the current version keeps serving"):
            build_index(root, index_dir, embedder, CHUNKING)
    assert current_version(index_dir) == old and list_versions(index_dir) == [old]
    assert not [p for p in [*index_dir.iterdir(), *(index_dir / SEGMENTS).iterdir()] if p.name.startswith(".tmp-")]
    load_snapshot(index_dir, verify=True)
    report = build_index(root, index_dir, embedder, CHUNKING)  # the same rows: the complete segment is reused
    assert report.version == current_version(index_dir) and len(on_disk_segments(index_dir)) == 2
    assert on_disk_segments(index_dir) == listed_segments(index_dir)


def test_segments_many_edits_stay_within_max_segments(notes: list[Path], tmp_path: Path, embedder: Embedder) -> None:
    index_dir = tmp_path / "idx"
    root = notes[0].parent.parent
    build_index(root, index_dir, embedder, CHUNKING)
    for i in range(6):
        edit(notes[10 + i], f"modification {i}")
        build_index(root, index_dir, embedder, CHUNKING, keep_versions=1)
    snap = load_snapshot(index_dir, verify=True)
    used = {e.segment for e in snap.manifest.sources.values()}
    fresh = build_index(root, tmp_path / "fresh", embedder, CHUNKING)
    scratch = load_snapshot(tmp_path / "fresh", fresh.version)
    assert len(used) <= 4 and [c.text for c in snap.chunks] == [c.text for c in scratch.chunks]
    assert np.allclose(snap.unit_vectors, scratch.unit_vectors, atol=1e-6)
