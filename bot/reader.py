"""The reader: which sentence of the first passages answers the question, and whether the sources answer at all.

Two small learned models, fitted by bench/train_reader.py and shipped as bot/reader_model.json: a selector
scores every quotable sentence for « does this answer the question » (bot/reader_features.py has its
inputs), and a logistic decision reads the chosen sentence, its lead over the next and how much of the
question the first passages hold, to answer or abstain. The decision is linear so that `sourcier search`
can show which input decided.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.answer_types import asks
from bot.crosslingual import WordVectors
from bot.reader_features import DECISION, FEATURES, candidates, decision_row
from index.snapshot import TermStats

if TYPE_CHECKING:
    from bot.retrieve import Hit

MODEL_PATH = Path(__file__).with_name("reader_model.json")


@dataclass(frozen=True)
class Net:
    """Standardised inputs through ReLU layers to one logit (a single layer: a logistic regression)."""

    mean: np.ndarray
    scale: np.ndarray
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]

    def logits(self, x: np.ndarray) -> np.ndarray:
        """One raw score per row; an unmeasured input (NaN) reads as the average."""
        h = np.nan_to_num((x - self.mean) / self.scale, nan=0.0)
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i + 1 < len(self.layers):
                h = np.maximum(h, 0.0)
        return np.asarray(h[:, 0], dtype=np.float64)

    def contributions(self, row: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
        """Each measured input's part of the log-odds (linear nets only)."""
        w = self.layers[0][0][:, 0]
        return {n: round(float(v), 3) for n, v in zip(names, (row - self.mean) / self.scale * w, strict=True)
                if math.isfinite(v)}

    def to_json(self) -> dict[str, Any]:
        """Plain lists."""
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "layers": [{"w": w.tolist(), "b": b.tolist()} for w, b in self.layers]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Net:
        """Inverse of to_json."""
        layers = tuple((np.asarray(layer["w"], dtype=np.float32), np.asarray(layer["b"], dtype=np.float32))
                       for layer in data["layers"])
        return cls(np.asarray(data["mean"], dtype=np.float32), np.asarray(data["scale"], dtype=np.float32), layers)


@dataclass(frozen=True)
class ReaderModel:
    """The selector, the decision, and the decision's fitted cut (a probability)."""

    select: Net
    decide: Net
    cut: float

    def confidence(self, decision_logit: float) -> float:
        """The decision as a probability shifted so that 0.5 is the fitted cut (SOURCIER_MIN_CONFIDENCE=0.5)."""
        shift = math.log(self.cut / (1 - self.cut))
        return 1.0 / (1.0 + math.exp(-(decision_logit - shift)))

    def to_json(self) -> dict[str, Any]:
        """What bench/train_reader.py writes."""
        return {"features": list(FEATURES), "decision": list(DECISION), "select": self.select.to_json(),
                "decide": self.decide.to_json(), "cut": self.cut}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReaderModel:
        """Inverse of to_json; refuses a model fitted on other inputs."""
        if data.get("features") != list(FEATURES) or data.get("decision") != list(DECISION):
            raise ValueError("the reader model was fitted on other inputs: re-run bench/train_reader.py")
        return cls(Net.from_json(data["select"]), Net.from_json(data["decide"]), float(data["cut"]))


@lru_cache(maxsize=1)
def shipped_model() -> ReaderModel:
    """The model shipped in the package, read once per process."""
    return ReaderModel.from_json(json.loads(MODEL_PATH.read_text(encoding="utf-8")))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A quotable sentence of a passage and the selector's probability that it answers."""

    n: int  # the passage's rank, 1-based: its citation number
    span: tuple[int, int]  # source offsets
    score: float


@dataclass(frozen=True, eq=False)  # it holds arrays: compared by identity, never element-wise
class Reading:
    """The candidates, best first; the decision and what it read."""

    kind: str
    candidates: tuple[Candidate, ...]
    confidence: float
    row: np.ndarray  # the decision's inputs, in DECISION's order (empty: nothing to read)
    decide: Net | None = None

    @property
    def inputs(self) -> dict[str, float]:
        """The decision's inputs by name (`sourcier search`, GET /v1/search, eval reports): only shown, so only
        computed when asked."""
        return {name: round(float(v), 4) for name, v in zip(DECISION, self.row, strict=False) if math.isfinite(v)}

    @property
    def contributions(self) -> dict[str, float]:
        """Each measured input's part of the log-odds."""
        return self.decide.contributions(self.row, DECISION) if self.decide is not None and len(self.row) else {}


def read(question: str, hits: list[Hit], lexical: TermStats, model: ReaderModel, vectors: WordVectors | None,
         from_hits: int = 3) -> Reading:
    """Score every candidate sentence, then decide from the best one."""
    keys, x, q, question_reach = candidates(question, hits, lexical, vectors, from_hits)
    if not keys:
        return Reading(asks(question), (), 0.0, np.zeros(0, dtype=np.float32))
    logits = model.select.logits(x)
    row = decision_row(x, logits, question_reach)
    decision = float(model.decide.logits(row[None, :])[0])
    order = np.argsort(-logits, kind="stable")
    scores = (1 / (1 + np.exp(-logits[order]))).tolist()
    found = tuple(Candidate(keys[i][0], keys[i][1], s) for i, s in zip(order.tolist(), scores, strict=True))
    return Reading(q.kind, found, model.confidence(decision), row, model.decide)
