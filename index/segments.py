"""Segments: sources' rows (vectors, passages, texts) written once and shared by every version that uses them.

A version used to be a full copy (99 MB per version for 6.3 MB of sources). Now an ingest writes one segment
holding only the sources it changed; its manifest says, per source, which segment holds its rows and where.
A segment is named by its content (the sources, their hashes, the embedder and chunking), is never modified,
and is deleted only when no version left lists it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.versions import TMP_PREFIX, fsync_dir, fsync_files, list_versions

SEGMENTS = "segments"
INFO = "segment.json"  # written last: a segment directory without it is not complete
FILES = ("chunk_vectors.npy", "unit_vectors.npy", "chunks.jsonl", "chunks.jsonl.offsets.npy", "texts.jsonl",
         "texts.jsonl.offsets.npy")


@dataclass(frozen=True)
class SegmentInfo:
    """What a segment holds: row counts, and its files' sizes and sha256 (copied into each version's manifest)."""

    name: str
    chunks: int
    units: int
    sources: int
    files: dict[str, int]
    checksums: dict[str, str]

    @classmethod
    def read(cls, index_dir: Path, name: str) -> SegmentInfo | None:
        """The info of a complete segment, None when it is absent or incomplete."""
        try:
            data = json.loads((index_dir / SEGMENTS / name / INFO).read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None

    def write(self, directory: Path) -> None:
        """segment.json, the last file of a segment."""
        (directory / INFO).write_text(json.dumps(self.__dict__, ensure_ascii=False), encoding="utf-8")


def segment_name(parts: Iterable[tuple[str, str, str, str]], embedder: str, chunking: dict[str, int]) -> str:
    """A name for the rows of these sources (id, sha256, path, title) under this embedder and chunking."""
    key = json.dumps([embedder, sorted(chunking.items()), list(parts)], ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def file_key(segment: str, name: str) -> str:
    """How a version's manifest names a segment file: relative to the index directory, under segments/."""
    return f"{SEGMENTS}/{segment}/{name}"


def file_path(version_dir: Path, key: str) -> Path:
    """Where a manifest's file key lives: segment files beside the versions, the rest inside the version."""
    return version_dir.parent / key if key.startswith(f"{SEGMENTS}/") else version_dir / key


@contextmanager
def writing_segment(index_dir: Path, name: str) -> Iterator[Path]:
    """A scratch directory that becomes segments/name only if the block finishes (then fsync'ed)."""
    root = index_dir / SEGMENTS
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f"{TMP_PREFIX}{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        fsync_files(tmp)
        shutil.rmtree(root / name, ignore_errors=True)  # an incomplete one a crash left (no segment.json)
        os.replace(tmp, root / name)
        fsync_dir(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def segments_of(manifest_data: dict[str, Any]) -> set[str]:
    """The segments a manifest document lists (read loosely: pruning must work on any format)."""
    sources = manifest_data.get("sources", {})
    return {str(e.get("segment", "")) for e in sources.values() if isinstance(e, dict)} - {""}


def collect_garbage(index_dir: Path) -> list[str]:
    """Delete the segments no version lists; keep them all when a version's manifest cannot be read."""
    root = index_dir / SEGMENTS
    if not root.is_dir():
        return []
    used: set[str] = set()
    for version in list_versions(index_dir):
        try:
            used |= segments_of(json.loads((index_dir / version / "manifest.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, AttributeError):
            return []  # a version we cannot read might use any of them
    doomed = [p for p in root.iterdir() if p.name not in used]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return sorted(p.name for p in doomed)


def clean_segment_leftovers(index_dir: Path) -> list[str]:
    """Remove scratch segments an interrupted ingest left; call while holding the ingest lock."""
    root = index_dir / SEGMENTS
    removed = [p for p in root.iterdir() if p.name.startswith(TMP_PREFIX)] if root.is_dir() else []
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return [p.name for p in removed]
