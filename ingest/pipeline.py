"""build_index(): read, chunk, embed only what changed, write a new index version and publish it."""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from index.dense import FLAT_MAX, DenseParams
from index.errors import IngestError
from index.manifest import Manifest, SourceEntry
from index.rows import NewSegment, VectorFill
from index.segments import clean_segment_leftovers, collect_garbage, segment_name
from index.store import EmbedderMismatchError, IndexCorruptError, IndexSnapshot, load_snapshot, save_version
from index.versions import IndexNotFoundError, clean_leftovers, current_version, prune
from ingest.chunk import chunk_document
from ingest.embed import Embedder
from ingest.guards import disk_errors, ingest_lock, refuse_replacing
from ingest.language import main_language
from ingest.parts import Part, Progress, filler, kept_segments, known_rows, reusable
from ingest.plaintext import layout_of
from ingest.read import SUFFIXES, Extracted, ReadParams, SourceDoc, SourceError, read_sources, scan_sources
from ingest.structure import sections_of


@dataclass(frozen=True)
class ChunkingParams:
    """How sources are cut; a change means every source is re-chunked and re-embedded."""

    size: int  # target characters per chunk; defaults live in bot/config.py
    overlap: int  # sentences repeated between neighbouring chunks
    max_chars: int = 1200  # the hard cap: a passage longer than this is not useful to quote
    scheme: int = 3  # 2: code lines are units of their own, 3: headings too; a change re-chunks every source


@dataclass
class IngestReport:
    """What an ingest did, for the CLI, the admin API and logs."""

    sources: int = 0
    chunks: int = 0
    reused: int = 0
    embedded: int = 0
    added_sources: list[str] = field(default_factory=list)
    changed_sources: list[str] = field(default_factory=list)
    removed_sources: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    version: str = ""
    index_dir: str = ""
    changed: bool = True
    read_cached: int = 0  # files not parsed again: same bytes and reader version as in the previous version
    seconds: float = 0.0


def _previous(index_dir: Path, embedder: Embedder, params: ChunkingParams) -> IndexSnapshot | None:
    """The published snapshot when its vectors can be reused, else None (a full rebuild)."""
    try:
        snap = load_snapshot(index_dir, embedder=embedder.name)
    except (IndexNotFoundError, IndexCorruptError, EmbedderMismatchError):
        return None
    return snap if snap.manifest.chunking == asdict(params) else None


def build_index(
    source_root: Path,
    index_dir: Path,
    embedder: Embedder,
    params: ChunkingParams,
    keep_versions: int = 5,
    progress: Progress | None = None,
    index_type: str = "auto",
    workers: int = 1,
    reading: ReadParams | None = None,
    replace: bool = False,
    flat_max: int = FLAT_MAX,
) -> IngestReport:
    """Ingest every source under source_root into a new published version of index_dir; unless `replace`,
    refuse one from another folder than the index's, or one removing over half of its sources."""
    started = time.perf_counter()
    with disk_errors(index_dir), ingest_lock(index_dir):
        clean_leftovers(index_dir)
        clean_segment_leftovers(index_dir)
        published = _published(index_dir)
        known_ids = {entry.path: sid for sid, entry in published.sources.items()} if published else {}
        prev = _previous(index_dir, embedder, params)
        docs, errors = _read(source_root, reading, known_ids, _extracted(prev))
        if not replace:
            refuse_replacing(published, source_root, {d.source_id for d in docs})
        report = IngestReport(errors=[str(e) for e in errors], index_dir=str(index_dir),
                              read_cached=sum(d.cached for d in docs))
        parts = [reusable(prev, d) or Part(d, chunk_document(d, params.size, params.overlap, params.max_chars))
                 for d in docs]
        fresh = [p for p in parts if p.reuse is None]
        known = set(prev.manifest.sources) if prev else set()
        report.added_sources = sorted(p.doc.source_id for p in fresh if p.doc.source_id not in known)
        report.changed_sources = sorted(p.doc.source_id for p in fresh if p.doc.source_id in known)
        report.removed_sources = sorted(known - {d.source_id for d in docs})
        old_rows = {id(p): known_rows(p, prev) for p in fresh}
        report.embedded = sum(r < 0 for chunk_rows, _ in old_rows.values() for r in chunk_rows)
        report.reused = sum(len(p.chunks) for p in parts) - report.embedded
        report.sources, report.chunks = len(docs), sum(len(p.chunks) for p in parts)
        same_type = prev is not None and index_type in ("auto", prev.manifest.dense.kind)
        if prev is not None and not fresh and not report.removed_sources and same_type:
            report.changed, report.version = False, prev.version
        else:
            kept = kept_segments(index_dir, parts)
            written = [p for p in parts if p.entry is None or p.entry.segment not in kept]
            fill = filler(written, prev, embedder, progress, workers, old_rows)
            report.version = _save(index_dir, parts, (written, fill), embedder, params, (index_type, flat_max),
                                   prev, source_root)
            prune(index_dir, keep_versions)
            collect_garbage(index_dir)
        report.seconds = round(time.perf_counter() - started, 3)
        return report


def _published(index_dir: Path) -> Manifest | None:
    """The published version's manifest (its ids stay put, its root is the default), None when unreadable."""
    try:
        version = current_version(index_dir)
        return Manifest.read(index_dir / version) if version else None
    except IndexCorruptError:
        return None


def recorded_root(index_dir: Path) -> Path | None:
    """The folder the published version was built from, so `sourcier ingest` with no folder re-reads it."""
    manifest = _published(index_dir)
    return Path(manifest.sources_root) if manifest and manifest.sources_root else None


def _extracted(prev: IndexSnapshot | None) -> dict[str, Extracted]:
    """What the previous version holds of each file (by path), so unchanged ones are not parsed again; only a
    version of the same chunking is used (its passages are reused as they are)."""
    if prev is None:
        return {}
    texts = prev.texts
    return {e.path: Extracted(e.sha256, e.title, functools.partial(texts.__getitem__, sid))
            for sid, e in prev.manifest.sources.items()}


def _read(source_root: Path, reading: ReadParams | None, known: dict[str, str],
          extracted: dict[str, Extracted]) -> tuple[list[SourceDoc], list[SourceError]]:
    """Read the sources, failing clearly when there is nothing usable."""
    if not source_root.exists():
        raise IngestError(f"{source_root} does not exist")
    root = source_root if source_root.is_dir() else source_root.parent
    paths, skipped = scan_sources(source_root, reading)
    docs, errors = read_sources(paths, root, reading, known, extracted)
    errors = skipped + errors
    if not docs:
        detail = f" ({len(errors)} unreadable: {'; '.join(map(str, errors))})" if errors else ""
        raise IngestError(f"no sources to ingest in {source_root} (sourcier reads {', '.join(SUFFIXES)}){detail}")
    return docs, errors


def _save(index_dir: Path, parts: list[Part], segment: tuple[list[Part], VectorFill], embedder: Embedder,
          params: ChunkingParams, dense: tuple[str, int], prev: IndexSnapshot | None, source_root: Path) -> str:
    """Write the parts as a new published version, recording the folder they came from: the `segment` parts'
    rows go into one new segment, the others' stay where the previous version has them."""
    written, fill = segment
    new = {id(p) for p in written}
    sources: dict[str, SourceEntry] = {}
    chunk_at = unit_at = 0
    in_segment = [0, 0, 0]
    for part in parts:
        doc, n_chunks = part.doc, len(part.chunks)
        sections = part.entry.sections if part.entry else tuple(
            (s.start, s.end, s.path, s.anchor, s.page) for s in sections_of(doc.layout or layout_of(doc.text, doc.path)))
        if id(part) in new or part.entry is None:  # (entry None: always written)
            where, at = "", (in_segment[0], in_segment[1], in_segment[2])
            in_segment = [in_segment[0] + n_chunks, in_segment[1] + part.n_units, in_segment[2] + 1]
        else:
            where, at = part.entry.segment, part.entry.at
        sources[doc.source_id] = SourceEntry(doc.path, doc.title, doc.sha256, len(doc.text),
                                             (chunk_at, chunk_at + n_chunks), (unit_at, unit_at + part.n_units),
                                             part.ingested_at, sections,
                                             part.language or main_language(c.text for c in part.chunks),
                                             where, at)
        chunk_at, unit_at = chunk_at + n_chunks, unit_at + part.n_units
    draft = Manifest(version="", created_at="", embedder=embedder.name, dim=embedder.dim, chunking=asdict(params),
                     dense=DenseParams("flat"), sources=sources, counts={},
                     sources_root=str(source_root.resolve()))
    name = segment_name([(p.doc.source_id, p.doc.sha256, p.doc.path, p.doc.title) for p in written], embedder.name,
                        asdict(params))
    rows = NewSegment(name, [c for p in written for c in p.chunks], sum(p.n_units for p in written),
                      {p.doc.source_id: p.doc.text for p in written}, fill)
    return save_version(index_dir, [c for p in parts for c in p.chunks], rows, draft, dense[0], prev, dense[1])
