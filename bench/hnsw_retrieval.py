"""What HNSW changes in sourcier's answers, not only in its neighbours: the dev sets' questions through the whole
retrieval (dense + BM25 + fusion + reader) on the bench/hnsw.py index, exact search against HNSW settings.

Run by hand after bench/hnsw.py (it reuses its cached index):  .venv/bin/python bench/hnsw_retrieval.py
Reports hit@1 / hit@5 on the gold questions, the share of questions whose first passage and whose top-5 are
identical to exact search's, and the p50 of the dense step.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hnsw_data import gold_files, question_vectors, questions
from bot.crosslingual import WordVectors
from bot.evaluate import GoldQuestion, load_gold
from bot.reader import shipped_model
from bot.retrieve import RetrievalParams, clean_question, retrieve
from index.dense import DenseParams
from index.store import IndexSnapshot, load_snapshot
from ingest.embed import load_embedder

CONFIGS = ((32, 80, (64, 128, 256)), (32, 160, (128, 256)))


class Cached:
    """The questions' vectors, computed once by bench/hnsw_data.py (the model is not what is measured here)."""

    name, dim = "use-multilingual-v3", 512

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self._vectors = {clean_question(q, 10_000): v for q, v in vectors.items()}

    def knows(self, text: str) -> bool:
        return clean_question(text, 10_000) in self._vectors

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._vectors[clean_question(t, 10_000)] for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vectors[clean_question(text, 10_000)]


def gold_questions(snapshot: IndexSnapshot) -> list[GoldQuestion]:
    """Answerable gold questions; a document gold is mapped to its id in the bench corpus (spf/F1234)."""
    found = []
    for path in gold_files():
        for gold in load_gold(path):
            if gold.unanswerable:
                continue
            if gold.source is not None and gold.source not in snapshot.texts:
                gold = dataclasses.replace(gold, source=f"spf/{gold.source}")
            found.append(gold)
    return found


def right(gold: GoldQuestion, source_id: str, text: str) -> bool:
    return source_id == gold.source if gold.source is not None else any(e in text for e in gold.evidence)


def run(snapshot: IndexSnapshot, embedder: Cached, golds: list[GoldQuestion], everyone: list[str],
        params: RetrievalParams) -> dict[str, object]:
    """Rankings of every question, hit@1/@5 of the gold ones, the dense step's p50."""
    tops, dense_ms = {}, []
    for q in everyone:
        result = retrieve(q, snapshot, embedder, 5, params)  # type: ignore[arg-type]
        tops[q] = [h.row for h in result.hits]
        dense_ms.append(result.timings_ms.get("dense", result.timings_ms.get("candidates", 0.0)))  # (dense + BM25
        # since the Snapshot interface: one call)
    ranks = []
    for gold in golds:
        result = retrieve(gold.q, snapshot, embedder, 5, params)  # type: ignore[arg-type]
        ranks.append(next((i for i, h in enumerate(result.hits) if right(gold, h.chunk.source_id, h.chunk.text)), None))
    return {"tops": tops, "hit@1": round(sum(r == 0 for r in ranks) / len(ranks), 4),
            "hit@5": round(sum(r is not None for r in ranks) / len(ranks), 4),
            "dense_p50_ms": round(statistics.median(dense_ms), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench" / "hnsw")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "hnsw_retrieval.json")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    snapshot = load_snapshot(args.cache / "index")
    everyone = questions()
    embedder = Cached(dict(zip(everyone, question_vectors(args.cache), strict=True)))
    golds = [g for g in gold_questions(snapshot) if embedder.knows(g.q)]
    params = RetrievalParams(min_confidence=0.5, max_question_chars=1000, reader=shipped_model(),
                             words=WordVectors(load_embedder()))  # words across languages: the real model
    vectors = np.ascontiguousarray(snapshot.unit_vectors, dtype=np.float32)
    exact = run(snapshot, embedder, golds, everyone, params)
    rows = [{"index": "exact", **{k: v for k, v in exact.items() if k != "tops"}, "same_first": 1.0, "same_top5": 1.0}]
    for m, construction, efs in CONFIGS:
        index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = construction
        index.add(vectors)
        for ef in efs:
            index.hnsw.efSearch = ef
            dense = DenseParams("hnsw", hnsw_m=m, ef_search=ef)
            approx = dataclasses.replace(snapshot, unit_index=index,
                                         manifest=dataclasses.replace(snapshot.manifest, dense=dense))
            got = run(approx, embedder, golds, everyone, params)
            tops_a, tops_e = got.pop("tops"), exact["tops"]
            assert isinstance(tops_a, dict) and isinstance(tops_e, dict)
            same_first = sum(tops_a[q][:1] == tops_e[q][:1] for q in everyone) / len(everyone)
            same_top5 = sum(set(tops_a[q]) == set(tops_e[q]) for q in everyone) / len(everyone)
            rows.append({"index": f"hnsw M {m}, efConstruction {construction}, efSearch {ef}", **got,
                         "same_first": round(same_first, 4), "same_top5": round(same_top5, 4)})
            print(rows[-1], file=sys.stderr, flush=True)
    result = {"sentences": len(vectors), "passages": len(snapshot.chunks), "questions": len(everyone),
              "gold_questions": len(golds), "busy": "measured while another worker used the same 2 cores",
              "rows": rows}
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"{len(vectors):,} sentences, {len(snapshot.chunks):,} passages; {len(everyone)} questions, "
          f"{len(golds)} with gold\n")
    print("| dense index | hit@1 | hit@5 | same first passage as exact | same top 5 | dense p50 ms |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['index']} | {r['hit@1']} | {r['hit@5']} | {r['same_first']} | {r['same_top5']} | "
              f"{r['dense_p50_ms']} |")


if __name__ == "__main__":
    main()
