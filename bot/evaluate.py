"""Score retrieval and answers against gold sets: hit@k, MRR, abstention, false abstentions, latency."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.answer import Answer
from bot.retrieve import Retrieval
from index.errors import GoldSetError


@dataclass(frozen=True)
class GoldQuestion:
    """A question and how to recognise a right answer: evidence strings (passage gold) or a source id
    (document gold); or that the sources cannot answer it."""

    q: str
    evidence: tuple[str, ...] = ()
    source: str | None = None
    unanswerable: bool = False
    kind: str = ""  # for unanswerable questions: "near" (the corpus's domain) or "off" (off-topic)
    lang: str = "fr"
    answer: str = ""  # the exact answer span (piaf): a right answer quotes it
    group: str = ""  # the document the question was written on, to hold whole documents out when fitting


@dataclass
class Outcome:
    """One question's result: what the curves and the fitting of the abstention model read."""

    q: str
    unanswerable: bool
    kind: str
    rank: int | None  # 0-based rank of the first right passage, None when none was returned
    found: bool
    confidence: float
    signals: dict[str, float]  # the reader's inputs for its best sentence


@dataclass
class EvalReport:
    """Aggregate numbers, the questions that missed, and every outcome."""

    answerable: int = 0
    unanswerable: int = 0
    hit_at_1: float = 0.0
    hit_at_3: float = 0.0
    hit_at_5: float = 0.0
    mrr: float = 0.0
    abstained: int = 0
    false_abstentions: int = 0
    median_ms: float = 0.0
    max_passage_chars: int = 0
    answer_contains_evidence: float = 0.0
    answered_wrong: int = 0  # answerable questions answered without the evidence (the right fiche): the worst failure
    missed: list[dict[str, object]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


def _gold(row: dict[str, object]) -> GoldQuestion:
    """One JSON line as a gold question; `question` is accepted for `q` (the SPF files use it)."""
    q = row.get("q", row.get("question"))
    if not isinstance(q, str):
        raise KeyError("q")
    evidence = tuple(str(e) for e in row.get("evidence", ()))  # type: ignore[attr-defined]
    source = row.get("source")
    unanswerable = bool(row.get("unanswerable"))
    if not (evidence or source or unanswerable):
        raise KeyError("evidence, source or unanswerable")
    return GoldQuestion(q, evidence, str(source) if source else None, unanswerable, str(row.get("kind", "")),
                        str(row.get("lang", "fr")), str(row.get("answer", "")), str(row.get("article", "")))


def load_gold(path: Path) -> list[GoldQuestion]:
    """Read a JSONL gold set."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GoldSetError(f"cannot read gold set {path}: {exc.strerror}") from exc
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(_gold(json.loads(line)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise GoldSetError(f"{path}:{number}: not a gold question (missing or bad {exc})") from exc
    return out


def _right(gold: GoldQuestion, source_id: str, text: str) -> bool:
    """Whether a passage (or an answer's text) is what the gold question asks for."""
    if gold.source is not None:
        return source_id == gold.source
    return any(e in text for e in gold.evidence)


def _rank(result: Retrieval, gold: GoldQuestion) -> int | None:
    """0-based rank of the first right passage."""
    for rank, hit in enumerate(result.hits):
        if _right(gold, hit.chunk.source_id, hit.chunk.text):
            return rank
    return None


def _answer_right(gold: GoldQuestion, answer: Answer) -> bool:
    """Passage gold: the answer text quotes an evidence string; document gold: it quotes the right source."""
    if gold.source is not None:
        return any(c.cited and c.source_id == gold.source for c in answer.citations)
    if gold.answer:
        return gold.answer in answer.text
    return any(e in answer.text for e in gold.evidence)


def _why(result: Retrieval, rank: int | None, right: bool) -> str | None:
    """What went wrong with an answerable question, if anything: refused, ranked low, or answered wrong."""
    if not result.found:
        return f"abstained ({result.confidence})"
    wrong = "" if right else f"; answered without the evidence ({result.confidence})"
    if rank != 0:
        return f"first right passage at rank {rank + 1 if rank is not None else '>k'}{wrong}"
    return wrong[2:] or None


def evaluate(
    questions: Iterable[GoldQuestion], search: Callable[[str], Retrieval], answer: Callable[[Retrieval], Answer]
) -> EvalReport:
    """Run every question through `search` (timed) and `answer`, and aggregate."""
    report = EvalReport()
    latencies: list[float] = []
    for gold in questions:
        started = time.perf_counter()
        result = search(gold.q)
        latencies.append((time.perf_counter() - started) * 1000)
        report.max_passage_chars = max([report.max_passage_chars] + [len(h.chunk.text) for h in result.hits])
        rank = None if gold.unanswerable else _rank(result, gold)
        report.outcomes.append(Outcome(gold.q, gold.unanswerable, gold.kind, rank, result.found, result.confidence,
                                       result.reading.inputs if result.reading else {}))
        if gold.unanswerable:
            report.unanswerable += 1
            report.abstained += not result.found
            if result.found:
                report.missed.append({"q": gold.q, "why": f"answered an unanswerable question ({result.confidence})"})
            continue
        report.answerable += 1
        report.false_abstentions += not result.found
        right = _answer_right(gold, answer(result))
        report.answer_contains_evidence += right
        report.answered_wrong += result.found and not right
        if rank is not None:
            report.hit_at_1 += rank == 0
            report.hit_at_3 += rank < 3
            report.hit_at_5 += rank < 5
            report.mrr += 1 / (rank + 1)
        why = _why(result, rank, right)
        if why is not None:
            report.missed.append({"q": gold.q, "why": why})
    n = max(report.answerable, 1)
    for name in ("hit_at_1", "hit_at_3", "hit_at_5", "mrr", "answer_contains_evidence"):
        setattr(report, name, round(getattr(report, name) / n, 3))
    report.median_ms = round(statistics.median(latencies), 2) if latencies else 0.0
    return report
