"""IndexSnapshot: FAISS vectors + chunk table + BM25 + manifest, saved as one immutable version directory."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from index.dense import build_dense, load_dense
from index.errors import EmbedderMismatchError, IndexCorruptError, IngestError
from index.integrity import file_checksums, non_finite_rows, verify_checksums
from index.lexical import LexicalIndex
from index.manifest import Manifest
from index.records import Chunk, unit_keys
from index.table import Table, write_table
from index.versions import new_version_name, publish, require_current, staging

_FILES = ("chunk_vectors.npy", "unit_vectors.npy", "chunk_units.npy", "units.faiss", "chunks.jsonl",
          "chunks.jsonl.offsets.npy", "texts.jsonl", "texts.jsonl.offsets.npy")


@dataclass(frozen=True)
class DenseFeatures:
    """Dense scores of candidate chunks: chunk cosine, best sentence, and all sentence cosines (flat)."""

    chunk_cos: np.ndarray
    best_sentence_cos: np.ndarray
    sentence_cos: np.ndarray
    offsets: np.ndarray  # sentence cosines of candidate i are sentence_cos[offsets[i]:offsets[i + 1]]


@dataclass(frozen=True)
class MappedFiles:
    """The files a snapshot reads through memory maps, with their sizes at load.

    Reading a page of a map whose file has shrunk is a SIGBUS that kills the process, not an exception,
    so the engine asks `shrunk()` before each use and stops using the maps first. One stat() per file
    (13) on every snapshot check: 22 µs in all, measured (48 µs with Path.stat).
    """

    directory: Path
    sizes: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, directory: Path, names: Collection[str]) -> MappedFiles:
        """Sizes now of these files and of the lexical index's (bm25s maps its arrays too)."""
        return cls(directory, {name: _size(directory / name) for name in [*names, *lexical_files(directory)]})

    def shrunk(self) -> str | None:
        """The first file whose size is not the one it had at load (truncated, removed, replaced), else None."""
        base = str(self.directory)
        return next((name for name, size in self.sizes.items() if _size(os.path.join(base, name)) != size), None)


def lexical_files(version_dir: Path) -> list[str]:
    """The saved BM25 index's files, by their path relative to the version."""
    return sorted(p.relative_to(version_dir).as_posix() for p in (version_dir / "lexical").glob("*") if p.is_file())


def _size(path: Path | str) -> int:
    """A file's size, or -1 when it cannot be stat'ed (removed); os.stat on a str: half Path.stat's cost."""
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenated arange(start, end) for each pair, without a Python loop."""
    lengths = np.asarray(ends - starts, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return np.repeat(np.asarray(starts, dtype=np.int64) - offsets[:-1], lengths) + np.arange(offsets[-1])


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

        A source filter searches only those sources' sentences (exactly, by one matrix product), so a
        small source is never crowded out of the candidates by similar sentences elsewhere.
        """
        if sources is not None:
            allowed = self.unit_rows(sources)
            sims = self.unit_vectors[allowed] @ query.astype(np.float32)
            units = allowed[np.argsort(-sims, kind="stable")[:n]]
        else:
            n = min(n, self.unit_index.ntotal)
            if n <= 0:
                return np.zeros(0, dtype=np.int64)
            _, found = self.unit_index.search(query.reshape(1, -1).astype(np.float32), n)
            units = found[0][found[0] >= 0]
        first = np.searchsorted(self.chunk_units[:, 1], units, side="right")
        last = np.searchsorted(self.chunk_units[:, 0], units, side="right")
        return np.unique(_ranges(first, last))

    def unit_rows(self, sources: Collection[str]) -> np.ndarray:
        """The sentence rows of these sources (each source's rows are one contiguous range)."""
        entries = [self.manifest.sources[s] for s in sources]
        return _ranges(np.array([e.units[0] for e in entries], dtype=np.int64),
                       np.array([e.units[1] for e in entries], dtype=np.int64))

    def chunk_rows(self, sources: Collection[str]) -> np.ndarray:
        """The chunk rows of these sources."""
        entries = [self.manifest.sources[s] for s in sources]
        return _ranges(np.array([e.rows[0] for e in entries], dtype=np.int64),
                       np.array([e.rows[1] for e in entries], dtype=np.int64))

    def dense_features(self, query: np.ndarray, rows: np.ndarray) -> DenseFeatures:
        """Whole-chunk cosines, and the cosine of every sentence of each chunk, in one matmul each."""
        q = query.astype(np.float32)
        ranges = self.chunk_units[rows]
        sims = np.asarray(self.unit_vectors[_ranges(ranges[:, 0], ranges[:, 1])] @ q, dtype=np.float32)
        offsets = np.concatenate([[0], np.cumsum(ranges[:, 1] - ranges[:, 0])])
        best = np.maximum.reduceat(sims, offsets[:-1]) if len(rows) else np.zeros(0, dtype=np.float32)
        return DenseFeatures(np.asarray(self.chunk_vectors[rows] @ q, dtype=np.float32), best, sims, offsets)

    def lexical_scores(self, query: str) -> np.ndarray:
        """BM25 of every chunk."""
        return self.lexical.scores(query)


def chunk_unit_ranges(chunks: list[Chunk]) -> np.ndarray:
    """Each chunk's [first, last) rows in the unit table that unit_keys() orders."""
    rows = {key: i for i, key in enumerate(unit_keys(chunks))}
    ranges = np.zeros((len(chunks), 2), dtype=np.int64)
    for i, chunk in enumerate(chunks):
        first = rows[(chunk.source_id, *chunk.sentences[0])]
        ranges[i] = (first, first + len(chunk.sentences))
    return ranges


class SourceTexts(Mapping[str, str]):
    """Source texts by id, read from the version's text table only when asked for."""

    def __init__(self, table: Table[str], ids: list[str]) -> None:
        self._table = table
        self._rows = {sid: i for i, sid in enumerate(ids)}

    def __getitem__(self, source_id: str) -> str:
        return self._table[self._rows[source_id]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


VectorFill = Callable[[np.ndarray, np.ndarray], None]


def _mapped(path: Path, rows: int, dim: int) -> np.memmap:
    """A float32 .npy file mapped for writing, its blocks reserved first: a full disk must fail here
    with ENOSPC, not later with SIGBUS when a page of the map cannot be backed."""
    array = np.lib.format.open_memmap(path, "w+", np.float32, (rows, dim))
    with open(path, "r+b") as handle:
        os.posix_fallocate(handle.fileno(), 0, path.stat().st_size)
    return array


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
    fill: VectorFill,
    texts: dict[str, str],
    draft: Manifest,
    index_type: str = "auto",
    previous: IndexSnapshot | None = None,
) -> str:
    """Write a new version (manifest last), publish it, and return its name.

    `draft` holds what the caller knows (embedder, chunking, sources); the version name, dense index,
    counts and file sizes are filled in here. `fill(chunk_vectors, unit_vectors)` writes the rows into
    arrays mapped onto the version's own files, so vectors stream to disk instead of piling up in memory.
    """
    ranges = chunk_unit_ranges(chunks)
    n_units = int(ranges[-1, 1]) if len(ranges) else 0
    version = new_version_name()
    with staging(index_dir, version) as tmp:
        chunk_vectors = _mapped(tmp / "chunk_vectors.npy", len(chunks), draft.dim)
        unit_vectors = _mapped(tmp / "unit_vectors.npy", n_units, draft.dim)
        fill(chunk_vectors, unit_vectors)
        chunk_vectors.flush()
        unit_vectors.flush()
        if bad := non_finite_rows(chunk_vectors) + non_finite_rows(unit_vectors):
            raise IngestError(f"the embedder gave {bad} vectors with NaN or infinite values; nothing was published")
        np.save(tmp / "chunk_units.npy", ranges)
        dense, dense_params = build_dense(unit_vectors, index_type, previous.unit_index if previous else None)
        _write_faiss(dense, tmp / "units.faiss")
        write_table(tmp / "chunks.jsonl", (c.to_json() for c in chunks))
        write_table(tmp / "texts.jsonl", ({"source_id": k, "text": v} for k, v in texts.items()))
        LexicalIndex.build([c.context for c in chunks]).save(tmp / "lexical")
        replace(draft, version=version, created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                dense=dense_params, counts={"sources": len(texts), "chunks": len(chunks), "units": n_units},
                files={name: (tmp / name).stat().st_size for name in [*_FILES, *lexical_files(tmp)]}, checksums=file_checksums(tmp)).write(tmp)
    publish(index_dir, version)
    return version


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
        path = version_dir / name
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
        chunks = Table(vdir / "chunks.jsonl", Chunk.from_json)
        texts = SourceTexts(Table(vdir / "texts.jsonl", lambda row: str(row["text"]), cache=64), manifest.texts)
        # Plain ndarray views of the maps: same shared pages, without np.memmap's per-index overhead.
        chunk_vectors = np.asarray(np.load(vdir / "chunk_vectors.npy", mmap_mode="r"))
        unit_vectors = np.asarray(np.load(vdir / "unit_vectors.npy", mmap_mode="r"))
        chunk_units = np.load(vdir / "chunk_units.npy")
        index = load_dense(str(vdir / "units.faiss"), manifest.dense.to_json())
        lexical = LexicalIndex.load(vdir / "lexical")
    except (OSError, EOFError, ValueError, KeyError, TypeError, RuntimeError) as exc:  # EOFError: an empty .npy
        raise IndexCorruptError(f"index version {version} cannot be read: {exc}") from exc
    counts = manifest.counts
    if not (len(chunks) == len(chunk_vectors) == len(chunk_units) == counts["chunks"]
            and len(unit_vectors) == index.ntotal == counts["units"]):
        raise IndexCorruptError(f"index version {version}: chunk, vector and manifest counts disagree")
    return IndexSnapshot(chunks, chunk_vectors, unit_vectors, chunk_units, index, lexical, texts, manifest,
                         MappedFiles.of(vdir, list(manifest.files) or _FILES))
