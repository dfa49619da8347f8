"""End to end on real French text: ingest 10,000 documents, re-ingest after one edit, then serve and query.

Run by hand:  .venv/bin/python bench/ingest_e2e.py [--documents 10000] [--workdir /tmp/e2e]
Prints JSON lines; docs/performance.md records the results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SOURCIER = str(Path(sys.executable).parent / "sourcier")


def ingest(corpus: Path, index_dir: Path) -> dict[str, object]:
    """Run `sourcier ingest --json` and time it from outside (process start and model load included)."""
    started = time.perf_counter()
    out = subprocess.run([SOURCIER, "ingest", str(corpus), "--index-dir", str(index_dir), "--json"], check=True,
                         capture_output=True, text=True).stdout
    report = json.loads(out)
    report["wall_s"] = round(time.perf_counter() - started, 2)
    return report


def main() -> None:
    from bench.corpus import write_corpus

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--serve-seconds", type=int, default=10)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp())
    corpus, index_dir = work / "corpus", work / "index"
    paths = write_corpus(corpus, args.documents)
    full = ingest(corpus, index_dir)
    units = json.loads((index_dir / full["version"] / "manifest.json").read_text())["counts"]["units"]
    print(json.dumps({"step": "full ingest", "documents": full["sources"], "passages": full["chunks"],
                      "sentences": units, "seconds": full["wall_s"], "inside_s": full["seconds"],
                      "passages_per_s": round(full["chunks"] / full["seconds"], 1),
                      "texts_per_s": round((full["chunks"] + units) / full["seconds"], 1)}), flush=True)
    same = ingest(corpus, index_dir)
    print(json.dumps({"step": "re-ingest, nothing changed", "embedded": same["embedded"], "seconds": same["wall_s"],
                      "inside_s": same["seconds"]}), flush=True)
    paths[1234 % len(paths)].write_text("Note modifiée\n\nLe conseil a nommé Zéphyrin Valadier directeur "
                                        "financier. Il prendra ses fonctions lundi.\n", encoding="utf-8")
    one = ingest(corpus, index_dir)
    print(json.dumps({"step": "re-ingest, one document edited", "embedded": one["embedded"], "reused": one["reused"],
                      "seconds": one["wall_s"], "inside_s": one["seconds"]}), flush=True)
    latency = subprocess.run([sys.executable, str(ROOT / "bench" / "latency.py"), "--index-dir", str(index_dir),
                              "--duration", str(args.serve_seconds)], capture_output=True, text=True, check=True)
    print(latency.stdout)


if __name__ == "__main__":
    main()
