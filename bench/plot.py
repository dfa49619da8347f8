"""Plot query latency against corpus size per index type, from bench/scale.py's JSON, as a PNG.

Run by hand:  .venv/bin/python bench/plot.py [docs/scale.json] [docs/scale.png]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "scale.json"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "scale.png"
    rows = json.loads(source.read_text())
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for kind, style in (("flat", "o-"), ("ivf", "s-"), ("hnsw", "^-"), ("bm25", "d--")):
        points = sorted((r["n"], r["p50_ms"], r["p99_ms"]) for r in rows if r["kind"] == kind)
        if not points:
            continue
        sizes, p50, p99 = zip(*points, strict=True)
        line = ax.plot(sizes, p50, style, label=f"{kind} p50")[0]
        ax.plot(sizes, p99, style, alpha=0.35, color=line.get_color(), label=f"{kind} p99")
    ax.axhline(10, color="grey", linestyle=":", linewidth=1, label="10 ms target at 1M")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("vectors (sentences) or passages for BM25")
    ax.set_ylabel("query latency, ms (k=10, one thread)")
    ax.set_title("sourcier search latency vs corpus size (2 cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(target)
    print(target)


if __name__ == "__main__":
    main()
