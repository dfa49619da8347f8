"""IndexSnapshot: FAISS vectors + chunk table + BM25 + manifest, saved as one immutable version directory."""

from __future__ import annotations

import errno
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from index.dense import FLAT_MAX, DenseParams, build_dense, load_dense, search_units
from index.errors import EmbedderMismatchError, IndexCorruptError
from index.hnsw_parts import GRAPH, load_hnsw, save_hnsw
from index.integrity import file_checksums, verify_checksums
from index.ivf_parts import load_ivf, save_ivf
from index.lexical import LexicalIndex
from index.manifest import Manifest, SourceEntry
from index.mapped import MappedFiles
from index.records import Chunk, unit_keys
from index.rows import NewSegment, VectorFill, open_rows, write_segment
from index.segments import SegmentInfo, file_key, file_path
from index.snapshot import Candidates, Features, Passages, Picked, concat_ranges, holding, source_rows, with_lexical
from index.versions import new_version_name, publish, require_current, staging

__all__ = ["EmbedderMismatchError", "IndexCorruptError", "IndexSnapshot", "MappedFiles", "NewSegment", "VectorFill", "load_snapshot",
           "save_version"]


@dataclass
class IndexSnapshot:
    """One loaded, read-only index version; swapping snapshots is how the service re-indexes.

    Dense search runs over sentences ("units") and ranks the chunks that contain them, so a
    question that matches one sentence finds it with its context around it.
    """

    chunks: Sequence[Chunk]
    chunk_vectors: np.ndarray
    unit_vectors: np.ndarray
    chunk_units: np.ndarray  # (n_chunks, 2): the [first, last) unit rows of each chunk
    unit_index: faiss.Index
    lexical: LexicalIndex
    texts: Mapping[str, str]
    manifest: Manifest
    mapped: MappedFiles | None = None  # None: nothing mapped (a snapshot built in memory)

    @property
    def version(self) -> str:
        """The version directory name this snapshot was loaded from."""
        return self.manifest.version

    @property
    def embedder(self) -> str:
        """The embedder whose vectors these are."""
        return self.manifest.embedder

    def dense_candidates(self, query: np.ndarray, n: int, sources: Collection[str] | None = None) -> np.ndarray:
        """Rows of the chunks holding the n sentences closest to the query, among `sources` when given.

        A source filter searches only those sources' sentences (exactly up to the flat threshold, smallest
        sources first; past it, the HNSW graph restricted to their rows), so a small source is never crowded
        out of the candidates by similar sentences elsewhere.
        """
        within = None if sources is None else [self.manifest.sources[s].units for s in sources]
        units = search_units(self.unit_index, self.unit_vectors, query, n, within, self.manifest.dense.flat_max)
        return holding(self.chunk_units, units)

    def unit_rows(self, sources: Collection[str]) -> np.ndarray:
        """The sentence rows of these sources (each source's rows are one contiguous range)."""
        entries = [self.manifest.sources[s] for s in sources]
        return concat_ranges(np.array([e.units[0] for e in entries], dtype=np.int64),
                             np.array([e.units[1] for e in entries], dtype=np.int64))

    def chunk_rows(self, sources: Collection[str]) -> np.ndarray:
        """The chunk rows of these sources."""
        return source_rows(self.manifest, sources)

    @property
    def terms(self) -> LexicalIndex:
        """BM25 over every chunk of the version: its IDF weighs the reader's terms."""
        return self.lexical

    def candidates(self, query: np.ndarray, text: str | None, n: int,
                   sources: Collection[str] | None = None) -> Candidates:
        """Dense candidates and the n best BM25 chunks (among `sources`), before the top-n cut, with their BM25."""
        dense = self.dense_candidates(query, n, sources)
        return with_lexical(dense, self.lexical, text, n, self.chunk_rows(sources) if sources is not None else None)

    def features(self, query: np.ndarray, rows: np.ndarray) -> Features:
        """Whole-chunk cosines, and the cosine of every sentence of each chunk, in one matmul each."""
        q = query.astype(np.float32)
        ranges = self.chunk_units[rows]
        sims = np.asarray(self.unit_vectors[concat_ranges(ranges[:, 0], ranges[:, 1])] @ q, dtype=np.float32)
        offsets = np.concatenate([[0], np.cumsum(ranges[:, 1] - ranges[:, 0])])
        best = np.maximum.reduceat(sims, offsets[:-1]) if len(rows) else np.zeros(0, dtype=np.float32)
        return Features(Picked(self.chunks, rows), np.asarray(self.chunk_vectors[rows] @ q, dtype=np.float32), best,
                        sims, offsets)

    def passages(self, sources: Collection[str]) -> Passages:
        """These sources' chunk rows, ascending, with the text BM25 reads of each and its source."""
        rows = np.sort(self.chunk_rows(sorted(sources))) if sources else np.zeros(0, dtype=np.int64)
        chunks = [self.chunks[int(r)] for r in rows]
        return Passages(rows.astype(np.int64), [c.context for c in chunks], [c.source_id for c in chunks])


def chunk_unit_ranges(chunks: list[Chunk]) -> np.ndarray:
    """Each chunk's [first, last) rows in the unit table that unit_keys() orders."""
    rows = {key: i for i, key in enumerate(unit_keys(chunks))}
    ranges = np.zeros((len(chunks), 2), dtype=np.int64)
    for i, chunk in enumerate(chunks):
        first = rows[(chunk.source_id, *chunk.sentences[0])]
        ranges[i] = (first, first + len(chunk.sentences))
    return ranges


def _write_faiss(dense: faiss.Index, path: Path) -> None:
    """FAISS reports a full disk as RuntimeError("... write error"); make it the OSError the ingest reports."""
    try:
        faiss.write_index(dense, str(path))
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1][:200]
        raise OSError(errno.EIO, f"FAISS could not write {path.name}: {reason} (is the disk full?)") from exc


def save_version(
    index_dir: Path,
    chunks: list[Chunk],
    segment: NewSegment,
    draft: Manifest,
    index_type: str = "auto",
    previous: IndexSnapshot | None = None,
    flat_max: int = FLAT_MAX,
) -> str:
    """Write the changed sources' segment, then a new version (manifest last), publish it, return its name.

    `draft` holds what the caller knows (embedder, chunking, sources in order: those of `segment` with
    segment ""); `chunks` are all the version's passages, for its BM25 and sentence ranges. The new segment's
    vectors stream to disk through `segment.fill`; a flat dense index is not saved (it is the sentence vectors
    again, 40 % of a version) but built from them at load, an IVF is saved as its cells and lists (ivf_parts.py),
    an HNSW as its graph (hnsw_parts.py).
    """
    ranges = chunk_unit_ranges(chunks)
    n_units = int(ranges[-1, 1]) if len(ranges) else 0
    version = new_version_name()
    info = write_segment(index_dir, segment, draft.dim) if segment.texts else None
    sources = {sid: e if e.segment else replace(e, segment=segment.name) for sid, e in draft.sources.items()}
    draft = replace(draft, sources=sources)
    rows = open_rows(index_dir, draft)
    with staging(index_dir, version) as tmp:
        np.save(tmp / "chunk_units.npy", ranges)
        dense, dense_params = build_dense(rows.unit_vectors, index_type, previous.unit_index if previous else None,
                                          flat_max)
        if dense_params.kind == "ivf":
            save_ivf(dense, tmp)
        elif dense_params.kind == "hnsw":
            save_hnsw(dense, tmp)  # its graph only (hnsw_parts.py)
        elif dense_params.kind != "flat":
            _write_faiss(dense, tmp / "units.faiss")
        LexicalIndex.build([c.context for c in chunks]).save(tmp / "lexical")
        files, checksums = _segment_files(index_dir, draft.sources.values(), info)
        files.update({p.relative_to(tmp).as_posix(): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()})
        replace(draft, version=version, created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                dense=dense_params, counts={"sources": len(sources), "chunks": len(chunks), "units": n_units},
                files=files, checksums={**checksums, **file_checksums(tmp)}).write(tmp)
    publish(index_dir, version)
    return version


def _segment_files(index_dir: Path, entries: Collection[SourceEntry],
                   new: SegmentInfo | None) -> tuple[dict[str, int], dict[str, str]]:
    """Sizes and sha256 of the segment files a version uses, by manifest key."""
    infos = {e.segment: SegmentInfo.read(index_dir, e.segment) for e in entries}
    if new is not None:
        infos[new.name] = new
    files: dict[str, int] = {}
    checksums: dict[str, str] = {}
    for name, info in infos.items():
        if info is None:
            raise IndexCorruptError(f"segment {name} is missing; re-run `sourcier ingest`")
        files.update({file_key(name, f): size for f, size in info.files.items()})
        checksums.update({file_key(name, f): digest for f, digest in info.checksums.items()})
    return files, checksums


def read_manifest(version_dir: Path) -> Manifest:
    """The manifest of a version directory (IndexCorruptError when it is missing or unreadable)."""
    return Manifest.read(version_dir)


def truncated_error(version: str, name: str) -> IndexCorruptError:
    """The one message for a version file whose size is wrong, at load or while it is served."""
    return IndexCorruptError(f"index version {version}: {name} is missing or truncated; "
                             "roll back with `sourcier rollback` or re-run `sourcier ingest`")


def _check_files(version_dir: Path, manifest: Manifest) -> None:
    """Refuse truncated or missing files before parsing anything."""
    for name, size in manifest.files.items():
        path = file_path(version_dir, name)
        if not path.is_file() or path.stat().st_size != size:
            raise truncated_error(version_dir.name, name)


def load_snapshot(index_dir: Path, version: str | None = None, embedder: str | None = None,
                  verify: bool = False) -> IndexSnapshot:
    """Load a version (default: CURRENT), refusing corrupt files or vectors from another embedder; `verify`
    also reads every file against its checksum (rollback: seconds on a large index, so not on each swap)."""
    version = version or require_current(index_dir)
    vdir = index_dir / version
    manifest = Manifest.read(vdir)
    built_with = manifest.embedder
    if embedder is not None and embedder != built_with:
        raise EmbedderMismatchError(
            f"the index {version} was built with embedder {built_with!r}, not {embedder!r}: "
            f"set SOURCIER_EMBEDDER={built_with} or re-ingest with the new embedder"
        )
    _check_files(vdir, manifest)
    if verify:
        verify_checksums(vdir, manifest.checksums)
    try:
        rows = open_rows(index_dir, manifest)
        chunk_units = np.load(vdir / "chunk_units.npy")
        index = _dense(vdir, manifest.dense, rows.unit_vectors)
        lexical = LexicalIndex.load(vdir / "lexical")
    except (OSError, EOFError, ValueError, KeyError, TypeError, RuntimeError) as exc:  # EOFError: an empty .npy
        raise IndexCorruptError(f"index version {version} cannot be read: {exc}") from exc
    counts = manifest.counts
    if not (len(rows.chunks) == len(rows.chunk_vectors) == len(chunk_units) == counts["chunks"]
            and len(rows.unit_vectors) == index.ntotal == counts["units"]):
        raise IndexCorruptError(f"index version {version}: chunk, vector and manifest counts disagree")
    version_files = [n for n in manifest.files if n not in {*rows.mapped} and not n.startswith("segments/")]
    return IndexSnapshot(rows.chunks, rows.chunk_vectors, rows.unit_vectors, chunk_units, index, lexical, rows.texts,
                         manifest, MappedFiles.of(vdir, [*version_files, *rows.mapped]))


def _dense(version_dir: Path, params: DenseParams, unit_vectors: np.ndarray) -> faiss.Index:
    """The dense index over the shared sentence vectors: exact, IVF rebuilt from its saved lists, or HNSW from its
    saved graph (a version written before hnsw_parts.py holds its HNSW whole, in units.faiss)."""
    if params.kind == "flat":
        flat = faiss.IndexFlatIP(unit_vectors.shape[1])
        flat.add(np.ascontiguousarray(unit_vectors, dtype=np.float32))
        return flat
    if params.kind == "ivf":
        return load_ivf(version_dir, unit_vectors, params.nprobe)
    if params.kind == "hnsw" and (version_dir / GRAPH).exists():
        return load_hnsw(version_dir, unit_vectors, params.hnsw_m, params.ef_search)
    return load_dense(str(version_dir / "units.faiss"), params.to_json())
