"""Fit the reader (bot/reader_model.json) on the dev corpora and report it on data it was not fitted on.

    .venv/bin/python bench/reader_data.py      # candidates and labels -> var/reader-data.pkl
    .venv/bin/python bench/train_reader.py     # cross-validated report -> docs/reader.json, model -> bot/

Held out, honestly: piaf by article (5 folds, whole articles out), seed and handbook leave-one-corpus-out,
and SPF and the team folder never fitted on (SPF has document gold only: it checks the decision, like a new
team's FAQ would; the team folder is 20 French man pages with technical questions). The cut
is the lowest that abstains on at least 90 % of the unanswerable questions of every corpus, read from
the held-out scores; the shipped model is then fitted on everything and keeps that cut.
"""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.neural_network import MLPClassifier

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from reader_data import Question

from bot.answer import SECOND
from bot.reader import MODEL_PATH, Net, ReaderModel
from bot.reader_features import DECISION, decision_row

TRAINED_ON = ("seed", "handbook", "piaf")
TARGET_ABSTAINED = 0.90
SelectFit = Callable[[np.ndarray, np.ndarray, np.ndarray], Net]
Scored = dict[int, tuple[float, bool, bool]]  # question -> decision logit, best sentence answers, answer holds one


def _weights(questions: list[Question], per_row: list[int]) -> np.ndarray:
    """Each corpus weighs the same in total; within it, each question the same."""
    count = {c: sum(q.corpus == c for q in questions) for c in {q.corpus for q in questions}}
    w = np.concatenate([np.full(n, 1.0 / (count[q.corpus] * max(n, 1))) for q, n in zip(questions, per_row,
                                                                                        strict=True)])
    return w / w.mean()


def _scaler(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of each input (a constant input keeps a spread of 1)."""
    scale = np.nan_to_num(np.nanstd(x, axis=0))
    mean = np.nan_to_num(np.nanmean(x, axis=0))
    return mean.astype(np.float32), np.where(scale > 1e-6, scale, 1.0).astype(np.float32)


def _standard(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Standardised inputs, an unmeasured one (NaN) at the average, as bot.reader.Net reads them."""
    return np.nan_to_num((x - mean) / scale, nan=0.0)


def logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float = 0.5) -> Net:
    """A logistic regression: every input's part of the decision can be read off."""
    mean, scale = _scaler(x)
    model = LogisticRegression(C=c, max_iter=3000).fit(_standard(x, mean, scale), y, sample_weight=w)
    return Net(mean, scale, ((model.coef_.T.astype(np.float32), model.intercept_.astype(np.float32)),))


def mlp(x: np.ndarray, y: np.ndarray, w: np.ndarray, hidden: int = 24, seed: int = 0) -> Net:
    """One hidden layer of ReLUs, so answer types can combine with cosines and overlaps."""
    mean, scale = _scaler(x)
    rows = np.random.default_rng(seed).choice(len(x), size=len(x) * 2, p=w / w.sum())  # weights by resampling
    model = MLPClassifier((hidden,), alpha=1e-2, max_iter=300, early_stopping=True, random_state=seed)
    model.fit(_standard(x[rows], mean, scale), y[rows])
    return Net(mean, scale, tuple((c.astype(np.float32), b.astype(np.float32))
                                  for c, b in zip(model.coefs_, model.intercepts_, strict=True)))


def fit_select(questions: list[Question], fit: SelectFit) -> Net:
    """The selector, from the questions whose read passages hold an answer: which of their sentences is it."""
    use = [q for q in questions if q.retrieved and not q.document_gold]
    return fit(np.concatenate([q.x for q in use]), np.concatenate([q.y for q in use]),
               _weights(use, [len(q.y) for q in use]))


def decision_inputs(questions: list[Question], select: Net) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decision rows, each question's best candidate, whether it answers, and whether the answer as bot.answer
    composes it (the best sentence, and the second when rated at least SECOND of it) holds an answering one."""
    rows, picks, right, quoted = [], [], [], []
    for q in questions:
        if not len(q.y):
            rows.append(np.zeros(len(DECISION), dtype=np.float32))
            picks.append(-1)
            right.append(False)
            quoted.append(False)
            continue
        logits = select.logits(q.x)
        rows.append(decision_row(q.x, logits, q.reach))
        order = np.argsort(-logits, kind="stable")
        picks.append(int(order[0]))
        right.append(bool(q.y[order[0]]))
        p = 1 / (1 + np.exp(-logits[order[:2]]))
        quoted.append(right[-1] or (len(order) > 1 and p[1] >= SECOND * p[0] and bool(q.y[order[1]])))
    return np.stack(rows), np.array(picks), np.array(right), np.array(quoted)


def fit_reader(train: list[Question], fit: SelectFit, label: str) -> tuple[Net, Net]:
    """Selector on all of `train`; decision on selector scores from folds that did not see the question."""
    groups = [q.group for q in train]
    rows = np.zeros((len(train), len(DECISION)), dtype=np.float32)
    for inner, outer in GroupKFold(3).split(train, groups=groups):
        select = fit_select([train[i] for i in inner], fit)
        rows[outer] = decision_inputs([train[i] for i in outer], select)[0]
    select = fit_select(train, fit)
    _, _, right, _ = decision_inputs(train, select)
    y = np.array([not q.unanswerable and (label == "answerable" or bool(r)) for q, r in zip(train, right,
                                                                                          strict=True)])
    has = np.array([len(q.y) > 0 for q in train])
    w = _weights(train, [1] * len(train))
    for corpus in {q.corpus for q in train}:  # answerable and unanswerable weigh the same within a corpus
        for cls in (True, False):
            m = np.array([q.corpus == corpus for q in train]) & (y == cls)
            w[m] *= 0.5 * w[np.array([q.corpus == corpus for q in train])].sum() / max(w[m].sum(), 1e-9)
    return select, logistic(rows[has], y[has], w[has], c=1.0)


def held_out(questions: list[Question], fit: SelectFit, label: str) -> Scored:
    """Each question's decision logit, whether its chosen sentence answers and whether the answer as quoted holds
    one, from models that never saw its corpus (piaf: its article)."""
    out: Scored = {}
    index = {id(q): i for i, q in enumerate(questions)}

    def predict(train: list[Question], test: list[Question]) -> None:
        select, decide = fit_reader(train, fit, label)
        rows, _, right, quoted = decision_inputs(test, select)
        logits = decide.logits(rows)
        for q, s, r, a in zip(test, logits, right, quoted, strict=True):
            out[index[id(q)]] = (float(s) if len(q.y) else -np.inf, bool(r), bool(a))

    for corpus in ("seed", "handbook"):
        predict([q for q in questions if q.corpus in TRAINED_ON and q.corpus != corpus],
                [q for q in questions if q.corpus == corpus])
    predict([q for q in questions if q.corpus in TRAINED_ON], [q for q in questions if q.corpus not in TRAINED_ON])
    piaf = [q for q in questions if q.corpus == "piaf"]
    others = [q for q in questions if q.corpus in TRAINED_ON and q.corpus != "piaf"]
    for train_i, test_i in GroupKFold(5).split(piaf, groups=[q.group for q in piaf]):
        predict(others + [piaf[i] for i in train_i], [piaf[i] for i in test_i])
    return out


def report(questions: list[Question], scored: Scored, cut: float) -> dict[str, dict[str, float]]:
    """Per corpus, at one cut on the decision logit: abstained, refused, answered with the right sentence, and the
    answer as composed (up to two sentences) holding an answering one."""
    out = {}
    for corpus in sorted({q.corpus for q in questions}):
        rows = [(q, *scored[i][:2]) for i, q in enumerate(questions) if q.corpus == corpus]
        unans = [s for q, s, _ in rows if q.unanswerable]
        ans = [(q, s, r) for q, s, r in rows if not q.unanswerable]
        quoted = [scored[i][0] >= cut and scored[i][2] for i, q in enumerate(questions)
                  if q.corpus == corpus and not q.unanswerable]
        answered = [r for _, s, r in ans if s >= cut]
        out[corpus] = {
            "answerable": len(ans), "unanswerable": len(unans),
            "abstained": round(float(np.mean([s < cut for s in unans])), 3) if unans else 0.0,
            "refused": round(float(np.mean([s < cut for _, s, _ in ans])), 3),
            "refused_when_in_top3": round(float(np.mean([s < cut for q, s, _ in ans if q.retrieved])), 3),
            "answered_right": round(float(np.mean([s >= cut and r for _, s, r in ans])), 3),
            "right_when_answered": round(float(np.mean(answered)), 3) if answered else 0.0,
            "answer_holds_right": round(float(np.mean(quoted)), 3),
        }
    return out


def choose_cut(questions: list[Question], scored: Scored) -> float:
    """The lowest cut that abstains on TARGET_ABSTAINED of the unanswerable questions of every fitted corpus."""
    cut = -np.inf
    for corpus in TRAINED_ON:
        unans = [scored[i][0] for i, q in enumerate(questions) if q.corpus == corpus and q.unanswerable]
        cut = max(cut, float(np.quantile(unans, TARGET_ABSTAINED)))
    return cut


def curve(questions: list[Question], scored: Scored, corpus: str) -> list[list[float]]:
    """(cut, refused, abstained, answered right) as the cut moves, for one corpus."""
    rows = [(q, *scored[i][:2]) for i, q in enumerate(questions) if q.corpus == corpus]
    cuts = np.quantile([s for _, s, _ in rows if np.isfinite(s)], np.linspace(0, 1, 41))
    return [[round(float(c), 3), round(float(np.mean([s < c for q, s, _ in rows if not q.unanswerable])), 3),
             round(float(np.mean([s < c for q, s, _ in rows if q.unanswerable])), 3),
             round(float(np.mean([s >= c and r for q, s, r in rows if not q.unanswerable])), 3)] for c in cuts]


def main() -> None:
    questions: list[Question] = pickle.loads((ROOT / "var/reader-data.pkl").read_bytes())
    results = {}
    variants = {"logistic/answerable": (logistic, "answerable"), "mlp/answerable": (mlp, "answerable"),
                "logistic/right": (logistic, "right"), "mlp/right": (mlp, "right")}
    chosen = sys.argv[1] if len(sys.argv) > 1 else "logistic/answerable"
    for name, (fit, label) in variants.items():
        if len(sys.argv) > 2 and name != chosen:
            continue
        scored = held_out(questions, fit, label)
        cut = choose_cut(questions, scored)
        results[name] = {"cut_logit": round(cut, 3), "held_out": report(questions, scored, cut),
                         "piaf_curve": curve(questions, scored, "piaf")}
        print(name, cut, flush=True)
        for corpus, row in results[name]["held_out"].items():
            print(f"  {corpus:9}", " ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    fit, label = variants[chosen]
    select, decide = fit_reader([q for q in questions if q.corpus in TRAINED_ON], fit, label)
    cut = float(results[chosen]["cut_logit"])  # type: ignore[arg-type]
    model = ReaderModel(select, decide, float(1 / (1 + np.exp(-cut))))
    MODEL_PATH.write_text(json.dumps(model.to_json()), encoding="utf-8")
    (ROOT / "docs/reader.json").write_text(json.dumps({"shipped": chosen, **results}, indent=1), encoding="utf-8")
    print(f"shipped {chosen}, cut {model.cut:.3f} -> {MODEL_PATH}")


if __name__ == "__main__":
    main()
