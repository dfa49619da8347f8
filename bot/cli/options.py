"""CLI options that override a setting; each one's help says what it does, its default, range and variable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from annotated_types import Ge, Le

from bot.config import Settings


def setting(name: str, *flags: str) -> Any:
    """A typer option for Settings.<name>, its help written from the field itself."""
    field = Settings.model_fields[name]
    low = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in field.metadata if isinstance(m, Le)), None)
    bounds = f"; {low}–{high}" if low is not None and high is not None else f"; ≥ {low}" if low is not None else ""
    default = field.default if not isinstance(field.default, Path) else str(field.default)
    return typer.Option(*flags, help=f"{field.description} (default {default}{bounds}; "
                                     f"env SOURCIER_{name.upper()})")


IndexDir = Annotated[Path | None, setting("index_dir", "--index-dir")]
EmbedderOpt = Annotated[str | None, setting("embedder", "--embedder")]
KOpt = Annotated[int | None, setting("k", "--k", "-k")]
ChunkSize = Annotated[int | None, setting("chunk_size", "--chunk-size")]
ChunkOverlap = Annotated[int | None, setting("chunk_overlap", "--chunk-overlap")]
KeepVersions = Annotated[int | None, setting("keep_versions", "--keep-versions")]
IndexType = Annotated[str | None, setting("index_type", "--index-type")]
IngestWorkers = Annotated[int | None, setting("ingest_workers", "--ingest-workers")]
JsonOpt = Annotated[bool, typer.Option("--json", metavar="", help="print JSON instead of text")]
SourceOpt = Annotated[list[str] | None, typer.Option("--source", metavar="ID",
                                                     help="only search this source id or folder prefix such as man/ "
                                                          "(repeatable; see `sourcier sources`)")]
