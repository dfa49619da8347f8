"""Plot bench/backends.py runs at several corpus sizes: p50 at c=1 and answers a second at c=8, per backend.

Run by hand:  .venv/bin/python bench/plot_backends.py docs/backends.json docs/backends_500k.json [docs/backends.png]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = (("disk-flat", "on disk, flat", "o-"), ("disk-hnsw", "on disk, HNSW", "^-"),
            ("postgres-hnsw", "PostgreSQL + pgvector HNSW", "s-"))


def main() -> None:
    runs = [json.loads(Path(a).read_text()) for a in sys.argv[1:] if a.endswith(".json")]
    target = next((Path(a) for a in sys.argv[1:] if a.endswith(".png")), ROOT / "docs" / "backends.png")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=120)
    for key, label, style in BACKENDS:
        points = sorted((r[key]["sentences"], r[key]["c1"]["p50"], r[key]["c8"]["rps"]) for r in runs if key in r)
        sizes, p50, rps = zip(*points, strict=True)
        left.plot(sizes, p50, style, label=label)
        right.plot(sizes, rps, style, label=label)
    for ax, title in ((left, "/v1/ask p50 at concurrency 1 (ms)"), (right, "answers per second at concurrency 8")):
        ax.set_xscale("log")
        ax.set_xlabel("sentences in the index")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    left.set_yscale("log")
    right.legend(fontsize=8)
    fig.suptitle("sourcier serve --workers 2, 2 cores (bench/backends.py)", fontsize=10)
    fig.tight_layout()
    fig.savefig(target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
