"""What proves a version directory is the one ingest wrote: a sha256 of every file, kept in the manifest and
checked in full before a rollback publishes it; and vectors that are finite numbers before one is written.

Sizes alone (checked on every load) miss a same-size corruption: a flipped byte in chunks.jsonl answered
500 to every question, NaN vectors abstained on every question without a word.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from index.errors import IndexCorruptError
from index.segments import file_path

MANIFEST = "manifest.json"  # written last and not hashed: it holds the hashes
_BLOCK = 1 << 20
_ROWS = 65_536  # rows checked at a time, so a large map never needs a same-size boolean copy


def file_checksums(version_dir: Path) -> dict[str, str]:
    """sha256 of every file of a version (lexical/ included), by its path relative to the version."""
    return {path.relative_to(version_dir).as_posix(): _sha256(path)
            for path in sorted(version_dir.rglob("*")) if path.is_file() and path.name != MANIFEST}


def _sha256(path: Path) -> str:
    """A file's sha256, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def verify_checksums(version_dir: Path, expected: dict[str, str]) -> None:
    """Raise IndexCorruptError naming the first file (its own, or a shared segment's) whose bytes are not the ones
    ingest wrote."""
    for name, digest in sorted(expected.items()):
        path = file_path(version_dir, name)
        if not path.is_file() or _sha256(path) != digest:
            raise IndexCorruptError(f"index version {version_dir.name}: {name} is damaged (its sha256 differs from "
                                    "the manifest's); pick another version in `sourcier versions` or re-run "
                                    "`sourcier ingest`")


def non_finite_rows(vectors: np.ndarray) -> int:
    """How many rows hold a NaN or an infinity; a cosine with them is NaN, so every question would abstain."""
    return sum(int((~np.isfinite(vectors[i:i + _ROWS])).any(axis=1).sum()) for i in range(0, len(vectors), _ROWS))
