"""`sourcier eval`: quality of the shipped configuration on gold sets or whole corpora."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from bot.cli import render
from bot.cli.cli import app, friendly_errors, out, settings_from
from bot.cli.options import EmbedderOpt, IndexDir, JsonOpt, KOpt
from bot.engine import Engine


@app.command("eval", short_help="Measure retrieval, abstention and latency on gold sets.")
def evaluate_cmd(gold: Annotated[list[Path] | None, typer.Argument(help="JSONL gold sets, run on the live index")] = None,
                 suite: Annotated[Path | None, typer.Option(help="a suite file: several corpora, each ingested and "
                                                             "questioned (e.g. tests/data/eval/suite.json)")] = None,
                 plot: Annotated[Path | None, typer.Option(help="write the risk-coverage curves to this PNG")] = None,
                 k: KOpt = None, index_dir: IndexDir = None, embedder: EmbedderOpt = None, as_json: JsonOpt = False,
                 signals: Annotated[str, typer.Option(help="hybrid, dense or lexical: which scores rank")] = "hybrid",
                 ) -> None:
    """hit@1/3/5, MRR, abstention, false abstentions and latency on gold sets, per corpus.

    Examples: sourcier eval tests/data/eval/seed.jsonl;
    sourcier eval --suite tests/data/eval/suite.json --plot docs/risk-coverage.png
    """
    from bot.evaluate import evaluate, load_gold
    from bot.suite import load_suite, run_corpus
    from bot.suite import plot as plot_curves

    if signals not in ("hybrid", "dense", "lexical"):
        raise typer.BadParameter("--signals must be hybrid, dense or lexical")
    if not gold and suite is None:
        raise typer.BadParameter("give gold files or --suite")
    settings = settings_from(index_dir=index_dir, embedder=embedder, k=k)
    top = max(settings.k, 5)
    reports = {}
    with friendly_errors():
        engine = Engine(settings)
        engine.params = engine.params.only(signals)
        if gold:
            _ = engine.snapshot  # load before timing starts
            questions = [q for path in gold for q in load_gold(path)]
            reports["index"] = evaluate(questions, lambda q: engine.search(q, k=top), engine.compose)
        for corpus in load_suite(suite) if suite else []:
            reports[corpus.name], _ = run_corpus(corpus, settings, engine.embedder, top, engine.params)
    if plot:
        plot_curves(reports, engine.params.min_confidence, plot)
    if as_json:
        render.print_json({name: asdict(r) for name, r in reports.items()})
        return
    for name, report in reports.items():
        render.print_report(out, name, report)
