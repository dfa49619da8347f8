"""A version's rows (passages, vectors, texts) written into one segment and assembled from several at load.

Each source's rows are contiguous in one segment, and a version lists its sources in order, so its tables are
a few runs of segment rows: one run (a version built from scratch) is the segment's memory map itself; more
runs (after edits) are concatenated once at load.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, overload

import numpy as np

from index.errors import IngestError
from index.integrity import file_checksums, non_finite_rows
from index.manifest import Manifest
from index.records import Chunk
from index.segments import FILES, SEGMENTS, SegmentInfo, writing_segment
from index.table import Table, write_table

T = TypeVar("T")
VectorFill = Callable[[np.ndarray, np.ndarray], None]
Run = tuple[str, int, int]  # segment, [first, last) rows


class Runs(Sequence[T]):
    """One read-only sequence over runs of rows of several tables, in order."""

    def __init__(self, runs: list[tuple[Sequence[T], int, int]]) -> None:
        self._runs = runs
        self._starts = np.cumsum([0] + [b - a for _, a, b in runs]).tolist()

    def __len__(self) -> int:
        return int(self._starts[-1])

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i = int(i) % len(self)
        k = bisect_right(self._starts, i) - 1
        table, first, _ = self._runs[k]
        return table[first + i - self._starts[k]]

    def __iter__(self) -> Iterator[T]:
        for table, first, last in self._runs:
            yield from (table[j] for j in range(first, last))


class SourceTexts(Mapping[str, str]):
    """Source texts by id, read from their segment's text table only when asked for."""

    def __init__(self, rows: dict[str, tuple[Table[str], int]]) -> None:
        self._rows = rows

    def __getitem__(self, source_id: str) -> str:
        table, row = self._rows[source_id]
        return table[row]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


@dataclass(frozen=True)
class VersionRows:
    """A version's tables, assembled from its segments."""

    chunks: Sequence[Chunk]
    chunk_vectors: np.ndarray
    unit_vectors: np.ndarray
    texts: Mapping[str, str]
    mapped: list[str]  # manifest file keys still read from disk while served (checked for truncation)


def _coalesce(runs: list[Run]) -> list[Run]:
    """Merge runs that continue each other in the same segment."""
    merged: list[Run] = []
    for seg, a, b in runs:
        if merged and merged[-1][0] == seg and merged[-1][2] == a:
            merged[-1] = (seg, merged[-1][1], b)
        elif b > a:
            merged.append((seg, a, b))
    return merged


def _vectors(arrays: dict[str, np.ndarray], runs: list[Run], dim: int) -> tuple[np.ndarray, bool]:
    """The runs' rows as one array: the map itself when one run covers a whole segment, else one copy."""
    if len(runs) == 1 and runs[0][1] == 0 and runs[0][2] == len(arrays[runs[0][0]]):
        return arrays[runs[0][0]], True
    if not runs:
        return np.zeros((0, dim), dtype=np.float32), False
    return np.concatenate([arrays[s][a:b] for s, a, b in runs]), False


def open_rows(index_dir: Path, manifest: Manifest) -> VersionRows:
    """Open the segments a version lists and assemble its tables (OSError/ValueError on damaged files)."""
    entries = list(manifest.sources.values())
    names = sorted({e.segment for e in entries})
    base = {n: index_dir / SEGMENTS / n for n in names}
    tables = {n: Table(base[n] / "chunks.jsonl", Chunk.from_json) for n in names}
    text_tables = {n: Table(base[n] / "texts.jsonl", lambda row: str(row["text"]), cache=64) for n in names}
    # Plain ndarray views of the maps: same shared pages, without np.memmap's per-index overhead.
    chunk_maps = {n: np.asarray(np.load(base[n] / "chunk_vectors.npy", mmap_mode="r")) for n in names}
    unit_maps = {n: np.asarray(np.load(base[n] / "unit_vectors.npy", mmap_mode="r")) for n in names}
    chunk_runs = _coalesce([(e.segment, e.at[0], e.at[0] + e.chunks) for e in entries])
    unit_runs = _coalesce([(e.segment, e.at[1], e.at[1] + e.units[1] - e.units[0]) for e in entries])
    chunk_vectors, chunks_mapped = _vectors(chunk_maps, chunk_runs, manifest.dim)
    unit_vectors, units_mapped = _vectors(unit_maps, unit_runs, manifest.dim)
    mapped = [f"{SEGMENTS}/{n}/{f}" for n in names for f in FILES
              if not f.endswith("vectors.npy") or (chunks_mapped and f.startswith("chunk"))
              or (units_mapped and f.startswith("unit"))]
    return VersionRows(Runs([(tables[s], a, b) for s, a, b in chunk_runs]), chunk_vectors, unit_vectors,
                       SourceTexts({sid: (text_tables[e.segment], e.at[2]) for sid, e in manifest.sources.items()}),
                       mapped)


def _mapped(path: Path, rows: int, dim: int) -> np.memmap:
    """A float32 .npy file mapped for writing, its blocks reserved first: a full disk must fail here
    with ENOSPC, not later with SIGBUS when a page of the map cannot be backed."""
    array = np.lib.format.open_memmap(path, "w+", np.float32, (rows, dim))
    with open(path, "r+b") as handle:
        os.posix_fallocate(handle.fileno(), 0, path.stat().st_size)
    return array


@dataclass(frozen=True)
class NewSegment:
    """What an ingest writes: the rows of the sources it changed, in order, and how to fill their vectors."""

    name: str
    chunks: list[Chunk]
    n_units: int
    texts: dict[str, str]
    fill: VectorFill


def write_segment(index_dir: Path, segment: NewSegment, dim: int) -> SegmentInfo:
    """Write a segment (segment.json last) and return its info; an identical complete one is reused as it is."""
    if (known := SegmentInfo.read(index_dir, segment.name)) is not None:
        return known
    with writing_segment(index_dir, segment.name) as tmp:
        chunk_vectors = _mapped(tmp / "chunk_vectors.npy", len(segment.chunks), dim)
        unit_vectors = _mapped(tmp / "unit_vectors.npy", segment.n_units, dim)
        segment.fill(chunk_vectors, unit_vectors)
        chunk_vectors.flush()
        unit_vectors.flush()
        if bad := non_finite_rows(chunk_vectors) + non_finite_rows(unit_vectors):
            raise IngestError(f"the embedder gave {bad} vectors with NaN or infinite values; nothing was published")
        del chunk_vectors, unit_vectors
        write_table(tmp / "chunks.jsonl", (c.to_json() for c in segment.chunks))
        write_table(tmp / "texts.jsonl", ({"source_id": k, "text": v} for k, v in segment.texts.items()))
        info = SegmentInfo(segment.name, len(segment.chunks), segment.n_units, len(segment.texts),
                           {name: (tmp / name).stat().st_size for name in FILES}, file_checksums(tmp))
        info.write(tmp)
    return info

