"""The manifest of an index version: typed and frozen, so no module reads it by string keys.

It is written last into a version directory (manifest.json); a version without a readable one does not exist.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from index.dense import DenseParams
from index.errors import IndexCorruptError

FORMAT = 6  # 3: chunks carry their section path; 4: chunks carry anchor and page, sources their sections;
# 5: sources carry their main language; 6: sources' rows live in shared segments (index/segments.py)
SectionSpan = tuple[int, int, str, str, int]  # start, end, "Titre › Section", anchor, PDF page (0: none)


@dataclass(frozen=True)
class SourceEntry:
    """One source of the version: where it came from, and its rows in the chunk and sentence tables."""

    path: str
    title: str
    sha256: str
    chars: int
    rows: tuple[int, int]  # [first, last) chunk rows
    units: tuple[int, int]  # [first, last) sentence rows
    ingested_at: str = ""
    sections: tuple[SectionSpan, ...] = ()
    language: str = ""  # "fr" or "en": what most of the source's text is in ("" when too short to tell)
    segment: str = ""  # the segment holding the source's rows (index/segments.py)
    at: tuple[int, int, int] = (0, 0, 0)  # its first chunk row, first sentence row and text row in that segment

    @property
    def chunks(self) -> int:
        """How many passages the source has."""
        return self.rows[1] - self.rows[0]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceEntry:
        """Inverse of asdict, tolerant of JSON's lists."""
        return cls(**{**data, "rows": tuple(data["rows"]), "units": tuple(data["units"]),
                      "at": tuple(data.get("at", (0, 0, 0))),
                      "sections": tuple(tuple(s) for s in data.get("sections", ()))})


@dataclass(frozen=True)
class Manifest:
    """What a version holds and how it was built."""

    version: str
    created_at: str
    embedder: str
    dim: int
    chunking: dict[str, int]
    dense: DenseParams
    sources: dict[str, SourceEntry]
    counts: dict[str, int]  # sources, chunks, units
    files: dict[str, int] = field(default_factory=dict)  # name -> size, to refuse truncated files (segments/...
    # names are the shared segments' files, beside the versions: index/segments.py file_path)
    checksums: dict[str, str] = field(default_factory=dict)  # name -> sha256 (none before 2026-12-03)
    format: int = FORMAT
    sources_root: str = ""  # the folder (or file) it was built from, absolute; "" for versions made before it

    @property
    def texts(self) -> list[str]:
        """Source ids in the order of the text table."""
        return list(self.sources)

    def to_json(self) -> dict[str, Any]:
        """The manifest.json document."""
        data = asdict(self)
        data["embedder"] = {"name": data.pop("embedder"), "dim": data.pop("dim")}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """Parse manifest.json, raising KeyError or TypeError when a field is missing or malformed."""
        return cls(version=data["version"], created_at=data["created_at"], embedder=data["embedder"]["name"],
                   dim=int(data["embedder"]["dim"]), chunking=dict(data["chunking"]),
                   dense=DenseParams(**data["dense"]),
                   sources={k: SourceEntry.from_json(v) for k, v in data["sources"].items()},
                   counts=dict(data["counts"]), files=dict(data.get("files", {})),
                   checksums=dict(data.get("checksums", {})), format=int(data["format"]),
                   sources_root=str(data.get("sources_root", "")))

    def write(self, version_dir: Path) -> None:
        """Write manifest.json (the last file of a version)."""
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=2)
        (version_dir / "manifest.json").write_text(text, encoding="utf-8")

    @classmethod
    def read(cls, version_dir: Path) -> Manifest:
        """The manifest of a version, or IndexCorruptError when it is missing, unreadable or of another format."""
        try:
            data = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"index version {version_dir.name} has no readable manifest: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else None
            raise IndexCorruptError(f"index version {version_dir.name} has format {found}, this sourcier reads "
                                    f"{FORMAT}: re-run `sourcier ingest`")
        try:
            return cls.from_json(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IndexCorruptError(f"index version {version_dir.name}: malformed manifest ({exc})") from exc
