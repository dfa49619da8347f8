"""Real sentence vectors and real questions for bench/hnsw.py, built once and cached.

Sentences are embedded by sourcier's own ingest (`sourcier ingest`, USE multilingual): the evaluation corpora
(105 Service-Public.fr fiches, the Debian handbook, 69 French Wikipedia articles from piaf, the seed article),
topped up with bench/corpus.py documents (the seed's sentences recombined) until there are enough sentences.
Questions are every question of the dev sets (the gold sets of tests/data/eval/suite.json): the people who wrote them never saw
these vectors, so recall is measured on the kind of query the index serves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT / "tests" / "data" / "eval"
REAL = {"spf": EVAL / "spf" / "corpus", "handbook": EVAL / "handbook", "piaf": EVAL / "piaf" / "indexed",
        "piaf-left-out": EVAL / "piaf" / "left-out", "seed": ROOT / "seeds"}
SOURCIER = str(Path(sys.executable).parent / "sourcier")


def gold_files() -> list[Path]:
    """The suite's gold sets of the corpora indexed here (not the team folder's man pages, added later), in path
    order; other JSONL files under tests/data/eval (piaf's raw questions.jsonl) are sources, not gold sets."""
    from bot.suite import load_suite

    listed = {p.resolve() for c in load_suite(EVAL / "suite.json") if c.name != "team" for p in c.gold}
    return [p for p in sorted(EVAL.rglob("*.jsonl")) if p.resolve() in listed]


def questions() -> list[str]:
    """Every distinct question of those evaluation sets."""
    found: dict[str, None] = {}
    for path in gold_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else {}
            if text := row.get("q") or row.get("question"):
                found[text] = None
    return list(found)


def _corpus(root: Path, synthetic_docs: int) -> None:
    """The real corpora side by side, plus synthetic documents to reach the size wanted."""
    from bench.corpus import write_corpus

    for name, folder in REAL.items():
        shutil.copytree(folder, root / name, ignore=shutil.ignore_patterns("README.md", "*.jsonl"))
    write_corpus(root / "notes", synthetic_docs)


def sentence_vectors(cache: Path, n: int) -> tuple[np.ndarray, dict[str, int]]:
    """n sentence vectors (real corpora first) and how many come from each corpus; ingested once, then cached."""
    vectors_file, counts_file = cache / f"units-{n}.npy", cache / f"units-{n}.json"
    if vectors_file.exists() and counts_file.exists():
        return np.load(vectors_file, mmap_mode="r"), json.loads(counts_file.read_text())
    from index.store import load_snapshot

    docs, index_dir = cache / "corpus", cache / "index"
    shutil.rmtree(docs, ignore_errors=True)
    shutil.rmtree(index_dir, ignore_errors=True)
    _corpus(docs, synthetic_docs=max(0, n // 6))  # about 6 sentences a note, besides the real ones
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SOURCIER_INDEX_TYPE": "flat", "SOURCIER_INGEST_WORKERS": "2",
           "SOURCIER_LOG_LEVEL": "WARNING"}
    subprocess.run([SOURCIER, "ingest", str(docs), "--index-dir", str(index_dir), "--replace"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    snap = load_snapshot(index_dir)
    counts: dict[str, int] = {}
    chosen: list[np.ndarray] = []
    for entry in sorted(snap.manifest.sources.values(), key=lambda e: (e.path.startswith("notes/"), e.units[0])):
        take = min(n - sum(counts.values()), entry.units[1] - entry.units[0])  # real corpora first
        if take <= 0:
            break
        corpus = entry.path.split("/")[0]
        counts[corpus] = counts.get(corpus, 0) + take
        chosen.append(np.arange(entry.units[0], entry.units[0] + take))
    rows = np.sort(np.concatenate(chosen))
    if len(rows) < n:
        raise SystemExit(f"only {len(rows)} sentences in the corpus, {n} wanted")
    vectors = np.ascontiguousarray(snap.unit_vectors[rows], dtype=np.float32)
    np.save(vectors_file, vectors)
    counts_file.write_text(json.dumps(counts))
    return vectors, counts


def question_vectors(cache: Path) -> np.ndarray:
    """The questions embedded as sourcier embeds a question (cached)."""
    path, listed = cache / "questions.npy", cache / "questions.json"
    asked = questions()
    if path.exists() and listed.exists() and json.loads(listed.read_text(encoding="utf-8")) == asked:
        return np.load(path)
    from ingest.embed import UseEmbedder

    vectors = UseEmbedder(threads=1).embed_documents(asked)
    np.save(path, vectors)
    listed.write_text(json.dumps(asked, ensure_ascii=False), encoding="utf-8")
    return vectors
