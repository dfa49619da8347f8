"""Sentence splitting and chunking are linear in document size: time them on 1, 10 and 50 MB documents.

Run by hand:  .venv/bin/python bench/split.py [MB ...]
Two shapes per size: the seed article repeated (long paragraphs, abbreviations, glued sentences) and
short lines (a log-like file, the shape that was quadratic). Prints a Markdown table for
docs/performance.md; MB/s that stay flat as the size grows is the proof of linear time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.chunk import chunk_document
from ingest.read import SourceDoc
from ingest.text import normalise, sentences

SEED = normalise((ROOT / "seeds" / "openai-altman-microsoft.txt").read_text(encoding="utf-8"))
LINES = "".join(f"ligne {i} : M. Dupont note 3.5 etc. ok\n" for i in range(1000))


def document(shape: str, megabytes: float) -> str:
    """A text of about `megabytes` MB (UTF-8) of one shape."""
    unit = SEED if shape == "article" else LINES
    reps = max(1, int(megabytes * 2**20 / len(unit.encode())))
    return (unit + "\n\n") * reps


def main(sizes: list[float]) -> None:
    print("| shape | MB | sentences | split s | split MB/s | chunk s | chunk MB/s |")
    print("|---|---|---|---|---|---|---|")
    for shape in ("article", "short lines"):
        for mb in sizes:
            text = document(shape, mb)
            size = len(text.encode()) / 2**20
            started = time.perf_counter()
            n = len(sentences(text))
            split_s = time.perf_counter() - started
            started = time.perf_counter()
            chunk_document(SourceDoc("b", "b.txt", "t", text, "0"), 700, 3)
            chunk_s = time.perf_counter() - started
            print(f"| {shape} | {size:.1f} | {n:,} | {split_s:.2f} | {size / split_s:.1f} | {chunk_s:.2f} | "
                  f"{size / chunk_s:.1f} |", flush=True)


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]] or [1, 10, 50])
