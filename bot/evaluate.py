"""Score retrieval against a gold set: hit@k, MRR, abstention, false abstentions, latency."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.retrieve import Retrieval


class GoldSetError(Exception):
    """The gold file is missing or has a line that is not a gold question."""


@dataclass(frozen=True)
class GoldQuestion:
    """A question, the strings a correct passage contains, and whether the sources can answer it."""

    q: str
    evidence: tuple[str, ...]
    unanswerable: bool = False
    lang: str = "fr"


@dataclass
class EvalReport:
    """Aggregate numbers plus the questions that missed, for tuning."""

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
    missed: list[dict[str, object]] = field(default_factory=list)


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
            row = json.loads(line)
            out.append(GoldQuestion(row["q"], tuple(row.get("evidence", ())), bool(row.get("unanswerable")),
                                    row.get("lang", "fr")))
        except (ValueError, KeyError, TypeError) as exc:
            raise GoldSetError(f"{path}:{number}: not a gold question ({exc})") from exc
    return out


def _rank(result: Retrieval, evidence: tuple[str, ...]) -> int | None:
    """0-based rank of the first passage containing an evidence string."""
    for rank, hit in enumerate(result.hits):
        if any(e in hit.chunk.text for e in evidence):
            return rank
    return None


def evaluate(
    questions: list[GoldQuestion], search: Callable[[str], Retrieval], answer: Callable[[Retrieval], str]
) -> EvalReport:
    """Run every question through `search` (timed) and `answer`, and aggregate."""
    report = EvalReport()
    latencies: list[float] = []
    for gold in questions:
        started = time.perf_counter()
        result = search(gold.q)
        latencies.append((time.perf_counter() - started) * 1000)
        report.max_passage_chars = max([report.max_passage_chars] + [len(h.chunk.text) for h in result.hits])
        if gold.unanswerable:
            report.unanswerable += 1
            report.abstained += not result.found
            if result.found:
                report.missed.append({"q": gold.q, "why": "answered an unanswerable question"})
            continue
        report.answerable += 1
        rank = _rank(result, gold.evidence)
        report.false_abstentions += not result.found
        report.answer_contains_evidence += any(e in answer(result) for e in gold.evidence)
        if rank is not None:
            report.hit_at_1 += rank == 0
            report.hit_at_3 += rank < 3
            report.hit_at_5 += rank < 5
            report.mrr += 1 / (rank + 1)
        if rank != 0 or not result.found:
            why = "abstained" if not result.found else f"first evidence at rank {rank + 1 if rank is not None else '>5'}"
            report.missed.append({"q": gold.q, "why": why})
    n = max(report.answerable, 1)
    for name in ("hit_at_1", "hit_at_3", "hit_at_5", "mrr", "answer_contains_evidence"):
        setattr(report, name, round(getattr(report, name) / n, 3))
    report.median_ms = round(statistics.median(latencies), 2) if latencies else 0.0
    return report
