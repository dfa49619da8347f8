"""The typed manifest: what ingest writes is what load reads, and a malformed one is a clear corruption error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.dense import DenseParams
from index.errors import IndexCorruptError
from index.manifest import FORMAT, Manifest, SourceEntry


def _manifest() -> Manifest:
    source = SourceEntry("seeds/a.txt", "Titre", "ab" * 32, 120, (0, 3), (0, 9), "2026-11-30T04:00:00+00:00",
                         language="fr")
    return Manifest("v1", "2026-11-30T04:00:00+00:00", "use-multilingual-v3", 512, {"size": 700, "overlap": 3},
                    DenseParams("flat"), {"a": source}, {"sources": 1, "chunks": 3, "units": 9}, {"units.faiss": 10},
                    sources_root="/srv/docs")


def test_manifest_round_trips_through_its_json_file(tmp_path: Path) -> None:
    manifest = _manifest()
    manifest.write(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert data["embedder"] == {"name": "use-multilingual-v3", "dim": 512} and data["format"] == FORMAT
    again = Manifest.read(tmp_path)
    assert again == manifest and again.sources["a"].chunks == 3 and again.texts == ["a"]


@pytest.mark.parametrize("damage", [lambda d: d.pop("sources"), lambda d: d["sources"]["a"].pop("rows"),
                                    lambda d: d.update(format=2), lambda d: d.update(dense="flat")])
def test_manifest_malformed_is_a_corruption_error(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    data = _manifest().to_json()
    damage(data)
    (tmp_path / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="manifest|format"):
        Manifest.read(tmp_path)


def test_manifest_reads_a_version_made_before_it_recorded_its_root(tmp_path: Path) -> None:
    data = _manifest().to_json()
    assert data["sources_root"] == "/srv/docs"
    del data["sources_root"]
    (tmp_path / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    assert Manifest.read(tmp_path).sources_root == ""
