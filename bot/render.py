"""Terminal rendering for the CLI: answers with sources, ranked passages, ingest reports."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn,
                           TimeRemainingColumn)
from rich.table import Table
from rich.text import Text

from bot.answer import Answer, Citation
from bot.retrieve import Retrieval
from ingest.pipeline import IngestReport

log = logging.getLogger("sourcier")


def emphasised(citation: Citation) -> str:
    """The passage as Rich markup, with the cited sentence in bold."""
    a = citation.sentence_start - citation.start
    b = citation.sentence_end - citation.start
    text = citation.text
    return f"{escape(text[:a])}[bold]{escape(text[a:b])}[/bold]{escape(text[b:])}"


def print_answer(console: Console, answer: Answer, paths: dict[str, str]) -> None:
    """The answer, then a numbered Sources list: title, file, offsets and the emphasised passage."""
    console.print(escape(answer.text) if answer.found else f"[yellow]{escape(answer.text)}[/yellow]")
    if not answer.citations:
        return
    heading = "Sources" if answer.found else ("Closest passages" if answer.language == "en" else "Passages proches")
    console.print(f"\n[bold]{heading}[/bold]")
    for c in answer.citations:
        console.print(
            f"[cyan][{c.n}][/cyan] {escape(c.title)} — {escape(paths.get(c.source_id, c.source_id))}, "
            f"chars {c.start}–{c.end} (score {c.score:.3f})"
        )
        console.print(f"    {emphasised(c)}", highlight=False)


def print_search(console: Console, result: Retrieval) -> None:
    """Ranked passages with the dense, lexical and fused scores that ordered them."""
    table = Table(show_lines=True)
    for column in ("#", "fused", "dense", "sentence", "lexical", "source", "passage"):
        table.add_column(column, overflow="fold")
    for rank, hit in enumerate(result.hits, 1):
        table.add_row(
            str(rank), f"{hit.score:.3f}", f"{hit.dense:.3f}", f"{hit.sentence_cos:.3f}", f"{hit.lexical:.2f}",
            f"{hit.chunk.source_id} {hit.chunk.start}–{hit.chunk.end}", escape(hit.chunk.text),
        )
    console.print(table)
    console.print(f"confidence {result.confidence:.3f} — {'supported' if result.found else 'would abstain'}")


def print_ingest(console: Console, report: IngestReport) -> None:
    """Counts and where the version went."""
    for error in report.errors:
        console.print(f"[yellow]skipped[/yellow] {escape(error)}")
    status = "new version" if report.changed else "unchanged, still serving"
    console.print(
        f"{report.sources} sources, {report.chunks} chunks: {report.reused} reused, "
        f"{report.embedded} newly embedded, {len(report.removed_sources)} sources removed "
        f"in {report.seconds:.2f}s\n{status} {report.version} in {report.index_dir}"
    )


class RateColumn(ProgressColumn):
    """Texts embedded per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.0f}/s" if task.speed else "…/s")


@contextmanager
def progress_bar(console: Console, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A Rich bar (count, rate, ETA) on a terminal; a log line per tenth of the work otherwise."""
    if enabled and console.is_terminal:
        columns = (TextColumn("embedding chunks and sentences"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("embed", total=None)
            yield lambda done, total: bar.update(task, completed=done, total=total)
        return
    marks: set[int] = set()
    started = time.perf_counter()

    def report(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth not in marks:
            marks.add(tenth)
            rate = done / max(time.perf_counter() - started, 1e-9)
            log.info("embedded %d/%d texts (%.0f/s, about %.0fs left)", done, total, rate, (total - done) / rate)

    yield report
