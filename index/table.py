"""Row tables on disk: JSON lines plus a byte-offset array, read row by row (os.pread) and parsed on demand.

A million chunks as Python objects would cost each worker about a gigabyte; read from the page cache, the
pages are shared between workers and only the rows a request touches are ever parsed. Not mmap: a row read
from a mapped file that was truncated under the server is a SIGBUS that kills it; pread just returns
fewer bytes, which is a damaged row (a 503).
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import numpy as np

from index.errors import IndexCorruptError

T = TypeVar("T")


def write_table(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as JSON lines and their start offsets beside them (path + '.offsets.npy')."""
    offsets = [0]
    with open(path, "wb") as handle:
        for row in rows:
            line = (json.dumps(row, ensure_ascii=False) + "\n").encode()
            handle.write(line)
            offsets.append(offsets[-1] + len(line))
    np.save(offsets_path(path), np.asarray(offsets, dtype=np.int64))
    return len(offsets) - 1


def offsets_path(path: Path) -> Path:
    """Where a table's offsets live."""
    return path.with_name(path.name + ".offsets.npy")


class Table(Sequence[T], Generic[T]):
    """A read-only sequence over a JSONL table; rows are decoded lazily and the hottest are cached."""

    def __init__(self, path: Path, decode: Callable[[dict[str, Any]], T], cache: int = 4096) -> None:
        self._offsets = np.load(offsets_path(path), mmap_mode="r")
        size = path.stat().st_size
        if int(self._offsets[-1]) != size:
            raise ValueError(f"{path.name} has {size} bytes but its offsets end at {int(self._offsets[-1])}")
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)  # held for the table's life, closed when it is collected
        self._decode = decode
        self._name = f"{path.parent.name}/{path.name}"
        self._row = lru_cache(maxsize=cache)(self._read)

    def _read(self, i: int) -> T:
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        try:
            return self._decode(json.loads(os.pread(self._fd, end - start, start)))
        except (ValueError, KeyError, TypeError) as exc:  # a damaged row: a clear 503, not a 500 on every question
            raise IndexCorruptError(f"{self._name}: row {i} is damaged ({type(exc).__name__}); roll back with "
                                    "`sourcier rollback` or re-run `sourcier ingest`") from exc

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self._row(j) for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return self._row(int(i) % len(self))

    def __iter__(self) -> Iterator[T]:
        for i in range(len(self)):
            yield self._row(i)
