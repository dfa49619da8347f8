"""Fit the abstention model on the development corpora and report leave-one-corpus-out.

    .venv/bin/python bench/abstain.py [--distractor]   # writes docs/abstain.json

Runs every corpus of tests/data/eval/suite.json (ingested under var/eval/), collects each question's
signals, fits a logistic regression over them (scikit-learn), and measures it three ways:
in-sample (fitted on all corpora) and leave-one-corpus-out (fitted on two, measured on the third).
With --distractor every corpus also holds bench/corpus.py's 10,000 recombined news documents, so the
same numbers show whether the decision holds when the corpus grows 100x.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings
from bot.suite import Corpus, load_suite, run_corpus
from ingest.embed import load_embedder

NAMES = ["sentence_cos", "coverage", "share", "untranslated"]
CUT = 0.5


def outcomes(distractor: bool) -> tuple[dict[str, list[dict[str, object]]], dict[str, dict[str, float]]]:
    """Every question's signals and truth, per corpus; and what the shipped configuration scored there."""
    settings = Settings(data_dir=ROOT / "var" / ("eval-distractor" if distractor else "eval-runs"))
    embedder = load_embedder(settings.embedder, threads=2)
    out, shipped = {}, {}
    for corpus in load_suite(ROOT / "tests/data/eval/suite.json"):
        if distractor:
            corpus = with_distractor(corpus, settings.data_dir)
        report, _ = run_corpus(corpus, settings, embedder, k=5)
        out[corpus.name] = [asdict(o) | {"right": o.rank == 0} for o in report.outcomes]
        shipped[corpus.name] = {"hit_at_1": report.hit_at_1, "hit_at_3": report.hit_at_3,
                                "abstained": round(report.abstained / max(report.unanswerable, 1), 3),
                                "false_abstentions": round(report.false_abstentions / max(report.answerable, 1), 3),
                                "answer_contains_evidence": report.answer_contains_evidence,
                                "median_ms": report.median_ms}
        print(corpus.name, shipped[corpus.name], flush=True)
    return out, shipped


def with_distractor(corpus: Corpus, data_dir: Path) -> Corpus:
    """The corpus's files plus 10,000 distractor documents, in one sources folder."""
    from bench.corpus import write_corpus

    folder = data_dir / "sources" / corpus.name
    if not folder.exists():  # the corpus's own files keep their source ids; the distractors go below them
        shutil.copytree(corpus.sources, folder)
        write_corpus(folder / "distractor", 10_000)
    return Corpus(corpus.name, folder, corpus.gold)


def matrix(rows: list[dict[str, object]]) -> tuple[np.ndarray, np.ndarray]:
    """Signals as X; y = the sources answer (the question is answerable and the top passage is right)."""
    x = np.array([[float(r["signals"][n]) for n in NAMES] for r in rows])  # type: ignore[index]
    y = np.array([not r["unanswerable"] for r in rows], dtype=int)
    return x, y


def fit(data: dict[str, list[dict[str, object]]]) -> LogisticRegression:
    """Every corpus weighs the same and, within it, answerable and unanswerable weigh the same, so no
    corpus or class sets the cut alone."""
    xs, ys, ws = [], [], []
    for rows in data.values():
        x, y = matrix(rows)
        ws.append(np.where(y == 1, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1)))
        xs.append(x)
        ys.append(y)
    weights = np.concatenate(ws)
    return LogisticRegression(C=1.0, max_iter=1000).fit(np.vstack(xs), np.concatenate(ys),
                                                         sample_weight=weights / weights.mean())


def score(model: LogisticRegression, rows: list[dict[str, object]]) -> dict[str, float]:
    """Abstained on unanswerable, false abstentions on answerable, at the operating cut."""
    x, y = matrix(rows)
    p = model.predict_proba(x)[:, 1]
    return {"abstained": round(float((p[y == 0] < CUT).mean()), 3),
            "false_abstentions": round(float((p[y == 1] < CUT).mean()), 3)}


def main() -> None:
    distractor = "--distractor" in sys.argv
    data, shipped = outcomes(distractor)
    model = fit(data)
    report: dict[str, object] = {
        "shipped": shipped,
        "signals": NAMES,
        "weights": dict(zip(NAMES, [round(float(w), 3) for w in model.coef_[0]], strict=True)),
        "bias": round(float(model.intercept_[0]), 3),
        "in_sample": {name: score(model, rows) for name, rows in data.items()},
        "leave_one_corpus_out": {
            name: score(fit({other: rows for other, rows in data.items() if other != name}), data[name])
            for name in data
        },
    }
    print(json.dumps(report, indent=2))
    target = ROOT / "docs" / ("abstain-distractor.json" if distractor else "abstain.json")
    target.write_text(json.dumps(report | {"outcomes": data}, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
