"""On-disk flat, on-disk HNSW and PostgreSQL + pgvector side by side, in one run, on one corpus of real sentences.

    .venv/bin/python bench/backends.py [--sentences 50000] [--duration 10] [--out docs/backends.json]

The corpus is the evaluation corpora (Service-Public.fr, the Debian handbook, piaf, the seed, the team folder)
topped up with bench/corpus.py documents. It is ingested once on disk (flat, then HNSW: the vectors are reused)
and published into an embedded PostgreSQL. For each backend: /v1/ask through `sourcier serve --workers 2` under
wrk at concurrency 1 and 8 (p50, p95, answers a second), the CPU a question costs in sourcier's processes and in
PostgreSQL's, the same top-10 passages as exact search (overlap@10, same first passage), hit@1 of the dev
questions with passage gold, and the disk a version and an edited paragraph take. Not a test: numbers depend on
the machine; docs/performance.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency import ENV, LUA, SOURCIER, free_port, run_wrk, wait_ready
from bot.config import Settings
from bot.engine import Engine
from bot.evaluate import evaluate, load_gold
from index.pg.server import EmbeddedServer
from ingest.embed import load_embedder

EVAL = ROOT / "tests" / "data" / "eval"
REAL = {"spf": EVAL / "spf" / "corpus", "handbook": EVAL / "handbook", "piaf": EVAL / "piaf" / "indexed",
        "seed": ROOT / "seeds", "team": EVAL / "team" / "corpus"}
GOLD = [EVAL / "seed.jsonl", EVAL / "handbook.jsonl", EVAL / "piaf" / "piaf.jsonl"]


def build_corpus(root: Path, sentences: int) -> None:
    """The real corpora side by side, plus recombined seed documents (about 6 sentences each) to the size wanted."""
    from bench.corpus import write_corpus

    for name, folder in REAL.items():
        shutil.copytree(folder, root / name, ignore=shutil.ignore_patterns("README.md", "*.jsonl"))
    write_corpus(root / "notes", max(0, (sentences - 30_000) // 6))


def disk_mb(path: Path) -> float:
    """Bytes under a folder, in MB."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def tree_cpu(procs: list[psutil.Process]) -> float:
    """CPU seconds (user + system) of these processes and their children, as of now."""
    total = 0.0
    for proc in procs:
        for p in [proc, *proc.children(recursive=True)]:
            try:
                times = p.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
    return total


def postmaster(pgdata: Path) -> list[psutil.Process]:
    """This run's PostgreSQL server process, whose children are the backends that answer sourcier."""
    return [p for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] == "postgres" and str(pgdata) in " ".join(p.info["cmdline"] or [])][:1]


def load(env: dict[str, str], questions: list[str], duration: float, pg: list[psutil.Process]) -> dict[str, Any]:
    """`sourcier serve --workers 2` with this environment under wrk at c=1 and c=8, and the CPU per answer."""
    port = free_port()
    proc = subprocess.Popen([SOURCIER, "serve", "--port", str(port), "--workers", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    try:
        wait_ready(proc, url, questions[0])
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % ", ".join(json.dumps(json.dumps({"question": q})) for q in questions))
        run_wrk(url, 8, 3, Path(script.name))  # warm-up
        server = [psutil.Process(proc.pid)]
        for c in (1, 8):
            before = (tree_cpu(server), tree_cpu(pg))
            r = run_wrk(url, c, duration, Path(script.name))
            after = (tree_cpu(server), tree_cpu(pg))
            out[f"c{c}"] = {**{k: round(v, 2) for k, v in r.items()},
                            "cpu_ms_sourcier": round(1000 * (after[0] - before[0]) / max(r["requests"], 1), 2),
                            "cpu_ms_postgres": round(1000 * (after[1] - before[1]) / max(r["requests"], 1), 2)}
        os.unlink(script.name)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def rankings(engine: Engine, exact: dict[str, list[str]], questions: list[str]) -> dict[str, float]:
    """How close this backend's top 10 is to exact search's: the same first passage, and overlap@10."""
    same, overlap = 0, 0.0
    for q in questions:
        ids = [h.chunk.chunk_id for h in engine.search(q, k=10).hits]
        same += bool(ids) and bool(exact[q]) and ids[0] == exact[q][0]
        overlap += len(set(ids) & set(exact[q])) / max(len(exact[q]), 1)
    return {"same_first": round(same / len(questions), 3), "overlap_at_10": round(overlap / len(questions), 3)}


def hit_at_1(engine: Engine) -> float:
    """hit@1 over the dev questions with passage gold found in this corpus."""
    golds = [g for path in GOLD for g in load_gold(path) if not g.unanswerable]
    report = evaluate(golds, lambda q: engine.search(q, k=5), engine.compose)
    return round(report.hit_at_1, 3)


def edit_one_paragraph(corpus: Path) -> None:
    """Append a sentence to one handbook page: what a maintainer's small edit costs a version."""
    page = min((corpus / "handbook").rglob("*.md"))
    with page.open("a", encoding="utf-8") as f:
        f.write("\n\nUne phrase ajoutée pour mesurer ce que coûte une modification d'un paragraphe.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=50_000)
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "backends.json")
    parser.add_argument("--from-cache", type=Path, default=None,
                        help="a folder with corpus/ and index/ already ingested (bench/hnsw.py's var/bench/hnsw): "
                             "its vectors are reused, so the run skips the embedding")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sourcier-backends-"))
    corpus = work / "corpus"
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} cores", "sentences_wanted": args.sentences}
    if args.from_cache is not None:
        shutil.copytree(args.from_cache / "corpus", corpus)
        shutil.copytree(args.from_cache / "index", work / "flat")
    else:
        build_corpus(corpus, args.sentences)
    embedder = load_embedder("use-multilingual-v3", threads=2)
    questions = [g.q for path in GOLD for g in load_gold(path)][:400]
    pg = EmbeddedServer(work / "pg")
    url = pg.start(free_port())
    subprocess.run([SOURCIER, "db", "migrate"], env={**os.environ, "SOURCIER_DATABASE_URL": url}, check=True)
    try:
        backends: dict[str, Settings] = {
            "disk-flat": Settings(index_dir=work / "flat", data_dir=work / "var-flat", index_type="flat"),
            "disk-hnsw": Settings(index_dir=work / "hnsw", data_dir=work / "var-hnsw", index_type="hnsw"),
            "postgres-hnsw": Settings(index_dir=work / "pgbuild", data_dir=work / "var-pg", index_type="flat",
                                      database_url=SecretStr(url)),
        }
        exact: dict[str, list[str]] = {}
        for name, settings in backends.items():
            settings = settings.model_copy(update={"sources_dir": corpus})
            if name != "disk-flat":  # the same sources: vectors and passages are reused, only the index is new
                shutil.copytree(backends["disk-flat"].index_dir, settings.index_dir)
            engine = Engine(settings, embedder=embedder)
            started = time.perf_counter()
            report = engine.ingest(replace=args.from_cache is not None)  # a copied index: another folder
            step = {"disk-flat": "ingest_s" if args.from_cache is None else "ingest_reusing_vectors_s",
                    "disk-hnsw": "hnsw_build_s", "postgres-hnsw": "publish_s"}[name]
            row: dict[str, Any] = {step: round(time.perf_counter() - started, 1), "version": report.version,
                                   "passages": int(engine.snapshot.manifest.counts["chunks"]),
                                   "sentences": int(engine.snapshot.manifest.counts["units"])}
            if not exact:
                exact = {q: [h.chunk.chunk_id for h in engine.search(q, k=10).hits] for q in questions}
            row.update(rankings(engine, exact, questions), hit_at_1=hit_at_1(engine))
            row["disk_mb"] = round(disk_mb(settings.index_dir), 1)
            if settings.database_url is not None:
                row["database_mb"] = round(database_mb(url), 1)
            env = {**os.environ, **ENV, "SOURCIER_INDEX_DIR": str(settings.index_dir),
                   "SOURCIER_DATA_DIR": str(settings.data_dir), "SOURCIER_ANSWER_CACHE_SIZE": "0"}
            if settings.database_url is not None:
                env["SOURCIER_DATABASE_URL"] = url
            row.update(load(env, questions, args.duration, postmaster(pg.pgdata)))
            results[name] = row
            print(name, json.dumps(row), flush=True)
        results["edit"] = edit_cost(corpus, backends, embedder, url)
        print("edit", json.dumps(results["edit"]), flush=True)
    finally:
        pg.stop("fast")
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)


def database_mb(url: str) -> float:
    """The database's size on disk, in MB."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("select pg_database_size(current_database())").fetchone()
    return float(row[0]) / 1e6 if row else 0.0


def edit_cost(corpus: Path, backends: dict[str, Settings], embedder: Any, url: str) -> dict[str, Any]:
    """One paragraph edited: the ingest time and the disk (or database) a new version adds, per backend."""
    edit_one_paragraph(corpus)
    out: dict[str, Any] = {}
    for name, settings in backends.items():
        settings = settings.model_copy(update={"sources_dir": corpus})
        before = database_mb(url) if settings.database_url is not None else disk_mb(settings.index_dir)
        engine = Engine(settings, embedder=embedder)
        started = time.perf_counter()
        engine.ingest(replace=True)  # a cached index records the folder it was first built from
        after = database_mb(url) if settings.database_url is not None else disk_mb(settings.index_dir)
        out[name] = {"ingest_s": round(time.perf_counter() - started, 2), "added_mb": round(after - before, 2)}
    return out


if __name__ == "__main__":
    main()
