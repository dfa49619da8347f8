"""What access costs: one question with the whole index against the same question inside a caller's scope.

Run by hand:  .venv/bin/python bench/access.py [--rounds 3]
Ingests the Debian handbook (tests/data/eval/handbook, 126 files) into a temporary index, gives every other
file to an `rh` audience, and times, interleaved question by question (the handbook gold set), `Engine.ask`
for the operator (no scope), for a `public` caller (half the sources; its scope built once, then cached)
and the first build of that scope. The answer cache is off, so every ask is computed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HANDBOOK = ROOT / "tests" / "data" / "eval" / "handbook"


def main() -> None:
    from bot.config import Settings
    from bot.engine import Engine

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = [json.loads(line)["q"] for line in (HANDBOOK.parent / "handbook.jsonl").read_text().splitlines() if line]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        settings = Settings(index_dir=base / "index", sources_dir=HANDBOOK, answer_cache_size=0)
        engine = Engine(settings)
        engine.ingest()
        ids = sorted(engine.snapshot.texts)
        rules = "\n".join(f'"{sid}" = ["rh"]' for sid in ids[::2])
        (base / "access.toml").write_text(f"[sources]\n{rules}\n", encoding="utf-8")
        engine = Engine(settings.model_copy(update={"access_file": base / "access.toml"}), engine.embedder)
        snapshot = engine.snapshot
        started = time.perf_counter()
        engine.scope({"public"}, snapshot)
        build_ms = (time.perf_counter() - started) * 1000
        whole: list[float] = []
        scoped: list[float] = []
        for _ in range(args.rounds):
            for q in questions:
                for audiences, times in ((None, whole), ({"public"}, scoped)):
                    t = time.perf_counter()
                    engine.ask(q, audiences=audiences)
                    times.append((time.perf_counter() - t) * 1000)
        chunks = len(snapshot.chunks)
        allowed = len(engine.readable({"public"}, snapshot) or ())
    print(json.dumps({"sources": len(ids), "chunks": chunks, "public_sources": allowed,
                      "scope_build_ms": round(build_ms, 1), "questions": len(whole),
                      "ask_whole_index_median_ms": round(statistics.median(whole), 2),
                      "ask_in_scope_median_ms": round(statistics.median(scoped), 2),
                      "ask_whole_index_p90_ms": round(statistics.quantiles(whole, n=10)[-1], 2),
                      "ask_in_scope_p90_ms": round(statistics.quantiles(scoped, n=10)[-1], 2)}, indent=1))


if __name__ == "__main__":
    main()
