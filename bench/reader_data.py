"""The reader's training data: every candidate sentence of every dev question, its inputs, and whether it answers.

    .venv/bin/python bench/reader_data.py     # writes var/reader-data.pkl (about a minute on 2 cores)

Each corpus of tests/data/eval/suite.json is ingested under var/eval/ and its questions retrieved with the
shipped retrieval; the reader's candidates (quotable sentences of the first passages) get their feature
rows from bot/reader.py itself, so training and serving read the same numbers, with one exception: an
English question's overlap with French passages is left unmeasured here (no word vectors), as the reader
was fitted before bot/crosslingual measured it at answer time. Fitted on measured, the reader moved every
French corpus (docs/quality.md); fitted on French questions, it reads a translated English question as it
reads a French one. A candidate answers when it overlaps an evidence string of the question (and, for
piaf, holds the exact answer span).
"""

from __future__ import annotations

import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings
from bot.engine import Engine
from bot.evaluate import GoldQuestion, load_gold
from bot.reader_features import candidates
from bot.retrieve import Hit, RetrievalParams
from bot.suite import load_suite
from ingest.embed import load_embedder

READ_PASSAGES = RetrievalParams.read_passages


@dataclass
class Question:
    """One question's candidates and truth."""

    corpus: str
    group: str  # piaf: the article; elsewhere the question itself
    q: str
    unanswerable: bool
    document_gold: bool  # spf: only the right document is known
    x: np.ndarray
    y: np.ndarray  # 1 where the candidate answers (document gold: where it is in the right document)
    retrieved: bool  # some passage among those read is right
    reach: tuple[float, float]  # the decision's question-level inputs, from bot.reader_features.candidates


def _overlaps(text: str, base: int, span: tuple[int, int], evidence: str) -> bool:
    """Whether the evidence string, found in the passage, covers half of the sentence or the sentence half of it."""
    at = text.find(evidence)
    if at < 0:
        return False
    a, b = base + at, base + at + len(evidence)
    inter = min(b, span[1]) - max(a, span[0])
    return inter > 0 and inter >= 0.5 * min(b - a, span[1] - span[0])


def label(gold: GoldQuestion, hits: list[Hit], keys: list[tuple[int, tuple[int, int]]]) -> np.ndarray:
    """1 for the candidates that answer the gold question."""
    y = np.zeros(len(keys), dtype=np.int8)
    if gold.unanswerable:
        return y
    for i, (n, span) in enumerate(keys):
        chunk = hits[n - 1].chunk
        if gold.source is not None:
            y[i] = chunk.source_id == gold.source
            continue
        sentence = chunk.text[span[0] - chunk.start : span[1] - chunk.start]
        if gold.answer and gold.answer not in sentence:
            continue
        y[i] = any(_overlaps(chunk.text, chunk.start, span, e) for e in gold.evidence)
    return y


def collect() -> list[Question]:
    """Every corpus's questions, retrieved with the reader switched off."""
    settings = Settings(data_dir=ROOT / "var")
    embedder = load_embedder(settings.embedder, threads=2)
    out: list[Question] = []
    for corpus in load_suite(ROOT / "tests/data/eval/suite.json"):
        engine = Engine(settings.model_copy(update={"index_dir": settings.data_dir / "eval" / corpus.index,
                                                    "sources_dir": corpus.sources}), embedder, reader=False)
        engine.ingest()
        lexical = engine.snapshot.lexical
        for path in corpus.gold:
            for gold in load_gold(path):
                hits = engine.search(gold.q, k=5).hits
                keys, x, _, reach = candidates(gold.q, hits, lexical, None, READ_PASSAGES)
                y = label(gold, hits, keys)
                out.append(Question(corpus.name, gold.group or gold.q, gold.q, gold.unanswerable,
                                    gold.source is not None, x, y, bool(y.any()), reach))
        print(corpus.name, sum(q.corpus == corpus.name for q in out), "questions", flush=True)
    return out


if __name__ == "__main__":
    data = collect()
    path = ROOT / "var/reader-data.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(data))
    print(f"{len(data)} questions, {sum(len(q.y) for q in data)} candidates -> {path}")
