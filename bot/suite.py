"""Several corpora in one evaluation: each is ingested into its own cached index, then its gold sets run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.engine import Engine
from bot.evaluate import EvalReport, GoldSetError, Outcome, evaluate, load_gold
from bot.retrieve import RetrievalParams
from ingest.embed import Embedder


@dataclass(frozen=True)
class Corpus:
    """A name, the sources to ingest, and the gold files that question them."""

    name: str
    sources: Path
    gold: tuple[Path, ...]
    index: str  # its index under <data_dir>/eval/: the name, or another corpus's when a second question set shares it


def load_suite(path: Path) -> list[Corpus]:
    """Read a suite file: {"corpora": [{"name", "sources", "gold": [...], "index"?}]}, paths relative to the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        base = path.parent
        return [Corpus(str(c["name"]), (base / c["sources"]).resolve(), tuple(base / g for g in c["gold"]),
                       str(c.get("index", c["name"]))) for c in data["corpora"]]
    except OSError as exc:
        raise GoldSetError(f"cannot read suite {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise GoldSetError(f"{path}: not a suite file (expected corpora with name, sources, gold): {exc}") from exc


def run_corpus(corpus: Corpus, settings: Settings, embedder: Embedder | None, k: int,
               params: RetrievalParams | None = None) -> tuple[EvalReport, Engine]:
    """Ingest the corpus into <data_dir>/eval/<index name> (incremental) and run its gold sets."""
    index_dir = settings.data_dir / "eval" / corpus.index
    engine = Engine(settings.model_copy(update={"index_dir": index_dir, "sources_dir": corpus.sources}), embedder)
    engine.params = params or engine.params
    engine.ingest(replace=True)  # the corpus's own scratch index: a moved corpus simply replaces it
    questions = [q for path in corpus.gold for q in load_gold(path)]
    report = evaluate(questions, lambda q: engine.search(q, k=k), engine.compose)
    return report, engine


def curve(outcomes: Sequence[Outcome], steps: int = 101) -> list[tuple[float, float, float]]:
    """(cut, false-abstention rate, abstained-unanswerable rate) as the confidence cut moves from 0 to 1."""
    answerable = [o.confidence for o in outcomes if not o.unanswerable]
    unanswerable = [o.confidence for o in outcomes if o.unanswerable]
    points = []
    for i in range(steps):
        cut = i / (steps - 1)
        false = sum(c < cut for c in answerable) / max(len(answerable), 1)
        right = sum(c < cut for c in unanswerable) / max(len(unanswerable), 1)
        points.append((cut, false, right))
    return points


def plot(reports: dict[str, EvalReport], cut: float, path: Path) -> None:
    """The risk–coverage curves of every corpus in one PNG, the operating cut marked on each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=110)
    for name, report in reports.items():
        points = curve(report.outcomes)
        ax.plot([p[1] for p in points], [p[2] for p in points], label=name)
        here = min(points, key=lambda p: abs(p[0] - cut))
        ax.plot([here[1]], [here[2]], "o", color=ax.lines[-1].get_color())
    ax.set_xlabel("answerable questions abstained (false abstentions)")
    ax.set_ylabel("unanswerable questions abstained")
    ax.set_title(f"Abstention as the confidence cut moves (dots: cut {cut})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
