"""build_index(): read, chunk, embed only what changed, write a new index version and publish it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index.dense import DenseParams
from index.errors import IngestError
from index.manifest import Manifest, SourceEntry
from index.records import Chunk, unit_keys
from index.store import EmbedderMismatchError, IndexCorruptError, IndexSnapshot, VectorFill, load_snapshot, save_version
from index.versions import IndexNotFoundError, clean_leftovers, current_version, prune
from ingest.chunk import chunk_document
from ingest.embed import Embedder, embed_stream
from ingest.guards import disk_errors, ingest_lock, refuse_replacing
from ingest.language import main_language
from ingest.plaintext import layout_of
from ingest.read import SUFFIXES, ReadParams, SourceDoc, SourceError, read_sources, scan_sources
from ingest.structure import sections_of

Progress = Callable[[int, int], None]


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
    seconds: float = 0.0


def _previous(index_dir: Path, embedder: Embedder, params: ChunkingParams) -> IndexSnapshot | None:
    """The published snapshot when its vectors can be reused, else None (a full rebuild)."""
    try:
        snap = load_snapshot(index_dir, embedder=embedder.name)
    except (IndexNotFoundError, IndexCorruptError, EmbedderMismatchError):
        return None
    return snap if snap.manifest.chunking == asdict(params) else None


@dataclass
class _Part:
    """One source's chunks, and where its vectors are in the previous version when it is unchanged."""

    doc: SourceDoc
    chunks: list[Chunk]
    reuse: tuple[tuple[int, int], tuple[int, int]] | None = None  # previous (chunk rows, unit rows)
    ingested_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    n_units: int = 0
    language: str = ""  # known from the previous version when the source is unchanged

    def __post_init__(self) -> None:
        self.n_units = len(unit_keys(self.chunks))

    def texts(self) -> Iterator[str]:
        """What gets embedded for this source: its chunks, then its distinct sentences."""
        yield from (c.context for c in self.chunks)
        yield from (self.doc.text[a:b] for _, a, b in unit_keys(self.chunks))


def _reusable(prev: IndexSnapshot | None, doc: SourceDoc) -> _Part | None:
    """The previous chunks of an unchanged source, and where its vectors are."""
    entry = prev.manifest.sources.get(doc.source_id) if prev else None
    if prev is None or entry is None or entry.sha256 != doc.sha256:
        return None
    (c0, c1), (u0, u1) = entry.rows, entry.units
    return _Part(doc, list(prev.chunks[c0:c1]), ((c0, c1), (u0, u1)), entry.ingested_at, language=entry.language)


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
) -> IngestReport:
    """Ingest every source under source_root into a new published version of index_dir; unless `replace`,
    refuse one from another folder than the index's, or one removing over half of its sources."""
    started = time.perf_counter()
    with disk_errors(index_dir), ingest_lock(index_dir):
        clean_leftovers(index_dir)
        published = _published(index_dir)
        known_ids = {entry.path: sid for sid, entry in published.sources.items()} if published else {}
        docs, errors = _read(source_root, reading, known_ids)
        if not replace:
            refuse_replacing(published, source_root, {d.source_id for d in docs})
        report = IngestReport(errors=[str(e) for e in errors], index_dir=str(index_dir))
        prev = _previous(index_dir, embedder, params)
        parts = [_reusable(prev, d) or _Part(d, chunk_document(d, params.size, params.overlap, params.max_chars))
                 for d in docs]
        fresh = [p for p in parts if p.reuse is None]
        known = set(prev.manifest.sources) if prev else set()
        report.added_sources = sorted(p.doc.source_id for p in fresh if p.doc.source_id not in known)
        report.changed_sources = sorted(p.doc.source_id for p in fresh if p.doc.source_id in known)
        report.removed_sources = sorted(known - {d.source_id for d in docs})
        known_rows = {id(p): _known_rows(p, prev) for p in fresh}
        report.embedded = sum(r < 0 for chunk_rows, _ in known_rows.values() for r in chunk_rows)
        report.reused = sum(len(p.chunks) for p in parts) - report.embedded
        report.sources, report.chunks = len(docs), sum(len(p.chunks) for p in parts)
        same_type = prev is not None and index_type in ("auto", prev.manifest.dense.kind)
        if prev is not None and not fresh and not report.removed_sources and same_type:
            report.changed, report.version = False, prev.version
        else:
            fill = _filler(parts, prev, embedder, progress, workers, known_rows)
            report.version = _save(index_dir, parts, fill, embedder, params, index_type, prev, source_root)
            prune(index_dir, keep_versions)
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


def _read(source_root: Path, reading: ReadParams | None,
          known: dict[str, str]) -> tuple[list[SourceDoc], list[SourceError]]:
    """Read the sources, failing clearly when there is nothing usable."""
    if not source_root.exists():
        raise IngestError(f"{source_root} does not exist")
    root = source_root if source_root.is_dir() else source_root.parent
    paths, skipped = scan_sources(source_root, reading)
    docs, errors = read_sources(paths, root, reading, known)
    errors = skipped + errors
    if not docs:
        detail = f" ({len(errors)} unreadable: {'; '.join(map(str, errors))})" if errors else ""
        raise IngestError(f"no sources to ingest in {source_root} (sourcier reads {', '.join(SUFFIXES)}){detail}")
    return docs, errors


class _Rows:
    """Hands out exactly n rows at a time from a stream of embedded batches."""

    def __init__(self, batches: Iterator[np.ndarray], total: int, progress: Progress | None) -> None:
        self._batches = batches
        self._buffer = np.zeros((0, 0), dtype=np.float32)
        self._done, self._total, self._progress = 0, total, progress

    def take(self, n: int) -> np.ndarray:
        while len(self._buffer) < n:
            batch = next(self._batches)
            self._buffer = np.vstack([self._buffer, batch]) if len(self._buffer) else batch
            self._done += len(batch)
            if self._progress:
                self._progress(self._done, self._total)
        rows, self._buffer = self._buffer[:n], self._buffer[n:]
        return rows


def _known_rows(part: _Part, prev: IndexSnapshot | None) -> tuple[list[int], list[int]]:
    """For a changed source, the previous version's rows holding the same chunk and sentence texts (-1: new),
    so an edited paragraph re-embeds that paragraph, not the whole file."""
    entry = prev.manifest.sources.get(part.doc.source_id) if prev else None
    if prev is None or entry is None:
        return [-1] * len(part.chunks), [-1] * part.n_units
    (c0, c1), (u0, _) = entry.rows, entry.units
    old_chunks = list(prev.chunks[c0:c1])
    old_text = prev.texts[part.doc.source_id]
    chunk_rows = {c.context: c0 + i for i, c in enumerate(old_chunks)}
    unit_rows = {old_text[a:b]: u0 + i for i, (_, a, b) in enumerate(unit_keys(old_chunks))}
    return ([chunk_rows.get(c.context, -1) for c in part.chunks],
            [unit_rows.get(part.doc.text[a:b], -1) for _, a, b in unit_keys(part.chunks)])


def _filler(parts: list[_Part], prev: IndexSnapshot | None, embedder: Embedder, progress: Progress | None,
            workers: int, known: dict[int, tuple[list[int], list[int]]]) -> VectorFill:
    """Writes every source's vectors in order: copied from the previous version (whole unchanged sources, and
    the unchanged passages and sentences of changed ones: `known`, by part id), or embedded now."""

    def new_texts() -> Iterator[str]:
        for part in parts:
            if part.reuse is None:
                chunk_rows, unit_rows = known[id(part)]
                texts = list(part.texts())
                yield from (t for t, row in zip(texts, chunk_rows + unit_rows, strict=True) if row < 0)

    def fill(chunk_out: np.ndarray, unit_out: np.ndarray) -> None:
        total = sum(r < 0 for rows in known.values() for r in rows[0] + rows[1])
        stream = embed_stream(embedder, new_texts(), workers, parallel=total >= 5120)
        rows = _Rows(stream, total, progress)
        c = u = 0
        for part in parts:
            nc, nu = len(part.chunks), part.n_units
            if part.reuse is not None and prev is not None:
                (c0, c1), (u0, u1) = part.reuse
                chunk_out[c : c + nc], unit_out[u : u + nu] = prev.chunk_vectors[c0:c1], prev.unit_vectors[u0:u1]
            else:
                chunk_rows, unit_rows = known[id(part)]
                _place(chunk_out, c, chunk_rows, prev.chunk_vectors if prev else None, rows)
                _place(unit_out, u, unit_rows, prev.unit_vectors if prev else None, rows)
            c, u = c + nc, u + nu

    return fill


def _place(out: np.ndarray, at: int, known: list[int], old: np.ndarray | None, rows: _Rows) -> None:
    """Rows at..at+len(known): copied where the previous version has the same text, else the next embedded."""
    fresh = [at + i for i, r in enumerate(known) if r < 0]
    if fresh:
        out[fresh] = rows.take(len(fresh))
    reused = [(i, r) for i, r in enumerate(known) if r >= 0]
    if reused and old is not None:
        out[[at + i for i, _ in reused]] = old[[r for _, r in reused]]


def _save(index_dir: Path, parts: list[_Part], fill: VectorFill, embedder: Embedder, params: ChunkingParams,
          index_type: str, prev: IndexSnapshot | None, source_root: Path) -> str:
    """Write the parts as a new published version, recording the folder they came from."""
    sources: dict[str, SourceEntry] = {}
    chunk_at = unit_at = 0
    for part in parts:
        doc, n_chunks = part.doc, len(part.chunks)
        sections = tuple((s.start, s.end, s.path, s.anchor, s.page)
                         for s in sections_of(doc.layout or layout_of(doc.text, doc.path)))
        sources[doc.source_id] = SourceEntry(doc.path, doc.title, doc.sha256, len(doc.text),
                                             (chunk_at, chunk_at + n_chunks), (unit_at, unit_at + part.n_units),
                                             part.ingested_at, sections,
                                             part.language or main_language(c.text for c in part.chunks))
        chunk_at, unit_at = chunk_at + n_chunks, unit_at + part.n_units
    draft = Manifest(version="", created_at="", embedder=embedder.name, dim=embedder.dim, chunking=asdict(params),
                     dense=DenseParams("flat"), sources=sources, counts={},
                     sources_root=str(source_root.resolve()))
    return save_version(index_dir, [c for p in parts for c in p.chunks], fill,
                        {p.doc.source_id: p.doc.text for p in parts}, draft, index_type, prev)
