"""Terminal rendering for the CLI: answers with sources, ranked passages, ingest reports; nothing from the data
reaches the terminal as a control sequence."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.highlighter import JSONHighlighter
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from bot.answer import LABELS, Answer, Citation
from bot.evaluate import EvalReport
from bot.quoting import readable
from bot.retrieve import Retrieval
from index.printable import UNSAFE, printable, printable_path
from ingest.pipeline import IngestReport

log = logging.getLogger("sourcier")

class SafeConsole(Console):
    """Rich's console with `printable` on every string printed: the CLI's one filter between data and the terminal.

    Rich's own styles are added after this, so colours and bold still work; markup never needs a control
    character, so cleaning a whole markup string is safe.
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(printable(o) if isinstance(o, str) else o for o in objects), **kwargs)

    def print_json(self, json: str | None = None, *, data: Any = None, **options: Any) -> None:
        """Still valid JSON with the same data: unsafe characters become `\\u` escapes (Rich would re-emit them)."""
        text = _escaped_json(json if json is not None else _dumps(data), options.get("indent", 2))
        super().print(JSONHighlighter()(Text(text)), soft_wrap=True)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _escaped_json(text: str, indent: int | None = 2) -> str:
    """Pretty JSON whose control and bidi characters are written as `\\uXXXX`, which JSON readers decode back."""
    pretty = json.dumps(json.loads(text), ensure_ascii=False, indent=indent)
    return UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", pretty)


def print_json(data: object) -> None:
    """JSON as UTF-8 (accents as themselves, whatever the locale), for scripts and jq; control and bidi
    characters from data as `\\u` escapes, so a terminal obeys none of them."""
    sys.stdout.flush()
    sys.stdout.buffer.write(_escaped_json(json.dumps(data, ensure_ascii=False)).encode() + b"\n")
    sys.stdout.buffer.flush()


def emphasised(citation: Citation, terminal: bool = True) -> str:
    """The passage as Rich markup, the cited sentence in bold on a terminal (plain text through a pipe)."""
    a = citation.sentence_start - citation.start
    b = citation.sentence_end - citation.start
    text = citation.text
    start, end = ("[bold]", "[/bold]") if terminal else ("", "")
    return f"{escape(text[:a])}{start}{escape(text[a:b])}{end}{escape(text[b:])}"


def _where(citation: Citation, paths: dict[str, str]) -> str:
    """Title › section — file, offsets."""
    path = printable_path(paths.get(citation.source_id, citation.source_id))  # one line, even for `a\nb.txt`
    where = f"{escape(citation.place)} — {escape(path)}, " \
            f"chars {citation.start}–{citation.end}"
    return f"{where} — {escape(citation.source_url)}" if citation.source_url else where


def print_answer(console: Console, answer: Answer, paths: dict[str, str]) -> None:
    """The answer; the passages it quotes (cited sentence in bold); then the others, dimmed, as "voir aussi"."""
    text, short = escape(readable(answer.text)), escape(readable(answer.short))
    if answer.found and short and console.is_terminal:  # the short answer in bold; piped output stays plain
        text = text.replace(short, f"[bold]{short}[/bold]", 1)
    console.print(text if answer.found else f"[yellow]{text}[/yellow]")
    labels = LABELS[answer.language]
    cited = [c for c in answer.citations if c.cited]
    others = [c for c in answer.citations if not c.cited]
    if cited:
        console.print(f"\n[bold]{labels['sources']}[/bold]")
        for c in cited:
            console.print(f"[cyan][{c.n}][/cyan] {_where(c, paths)} (score {c.score:.3f})", highlight=False)
            console.print(f"    {emphasised(c, console.is_terminal)}", highlight=False)
    if others:
        console.print(f"\n[bold]{labels['see_also'] if answer.found else labels['closest']}[/bold]")
        for c in others:
            excerpt = " ".join(c.text.split())
            excerpt = excerpt if len(excerpt) <= 160 else excerpt[:159] + "…"
            console.print(f"[dim][{c.n}] {_where(c, paths)}\n    {escape(excerpt)}[/dim]", highlight=False)


def print_report(console: Console, name: str, report: EvalReport) -> None:
    """One corpus's evaluation: retrieval, abstention, answers, latency, and what missed."""
    console.print(
        f"[bold]{escape(name)}[/bold] — answerable {report.answerable}: hit@1 {report.hit_at_1:.3f}  "
        f"hit@3 {report.hit_at_3:.3f}  hit@5 {report.hit_at_5:.3f}  MRR {report.mrr:.3f}\n"
        f"  unanswerable {report.unanswerable}: abstained {report.abstained}; false abstentions "
        f"{report.false_abstentions}\n  median latency {report.median_ms} ms; longest passage "
        f"{report.max_passage_chars} chars; answer quotes the evidence {report.answer_contains_evidence:.3f}; "
        f"answered without it {report.answered_wrong}",
        highlight=False, soft_wrap=True,
    )
    for miss in report.missed:
        console.print(f"  missed: {escape(str(miss['q']))} ({miss['why']})", highlight=False, soft_wrap=True)


def _search_lines(console: Console, result: Retrieval) -> None:
    """Ranked passages through a pipe: one line of scores, then the passage on one indented line."""
    for rank, hit in enumerate(result.hits, 1):
        console.print(f"{rank}. fused {hit.score:.3f}  dense {hit.dense:.3f}  sentence {hit.sentence_cos:.3f}  "
                      f"lexical {hit.lexical:.2f}  {hit.chunk.source_id} {hit.chunk.start}–{hit.chunk.end}\n"
                      f"    {' '.join(hit.chunk.text.split())}", highlight=False, markup=False)


def print_search(console: Console, result: Retrieval) -> None:
    """Ranked passages with the dense, lexical and fused scores that ordered them: a table on a terminal."""
    if not console.is_terminal:
        _search_lines(console, result)
    else:
        _search_table(console, result)
    console.print(f"confidence {result.confidence:.3f} — {'supported' if result.found else 'would abstain'}")
    reading = result.reading
    if reading is not None and reading.candidates:
        for c in reading.candidates[:3]:
            chunk = result.hits[c.n - 1].chunk
            text = chunk.text[c.span[0] - chunk.start : c.span[1] - chunk.start]
            console.print(f"sentence of [{c.n}] {c.score:.3f}: {escape(text)}", highlight=False)
        parts = sorted(reading.contributions.items(), key=lambda kv: -abs(kv[1]))[:8]
        console.print(f"asks {reading.kind}; decided by " + ", ".join(f"{n} {v:+.2f}" for n, v in parts),
                      highlight=False)


def _search_table(console: Console, result: Retrieval) -> None:
    """Ranked passages as a table, for a terminal."""
    table = Table(show_lines=True)
    for column in ("#", "fused", "dense", "sentence", "lexical", "source", "passage"):
        table.add_column(column, overflow="fold")
    for rank, hit in enumerate(result.hits, 1):
        table.add_row(
            str(rank), f"{hit.score:.3f}", f"{hit.dense:.3f}", f"{hit.sentence_cos:.3f}", f"{hit.lexical:.2f}",
            printable(f"{hit.chunk.source_id} {hit.chunk.start}–{hit.chunk.end}"), printable(escape(hit.chunk.text)),
        )
    console.print(table)


_UNSUPPORTED = re.compile(r"unsupported format \(([^)]*)\)")


def print_ingest(console: Console, report: IngestReport) -> None:
    """Counts and where the version went."""
    unsupported = [m.group(1) for m in map(_UNSUPPORTED.search, report.errors) if m]
    grouped = len(unsupported) > 5  # an images/ or css/ folder is one line, not hundreds
    for error in report.errors:
        if not (grouped and _UNSUPPORTED.search(error)):
            console.print(f"[yellow]skipped[/yellow] {escape(error)}")
    if grouped:
        kinds = ", ".join(f"{suffix} ×{n}" for suffix, n in Counter(unsupported).most_common())
        console.print(f"[yellow]skipped[/yellow] {len(unsupported)} files of unsupported formats ({escape(kinds)}); "
                      "`--json` lists them")
    status = "new version" if report.changed else "unchanged, still serving"
    for label, names in (("added", report.added_sources), ("changed", report.changed_sources),
                         ("removed", report.removed_sources)):
        if names:
            more = f" and {len(names) - 10} more" if len(names) > 10 else ""
            console.print(f"{label}: {', '.join(names[:10])}{more}", highlight=False, markup=False)
    if report.read_cached:
        console.print(f"{report.read_cached} unchanged files not parsed again (same bytes and reader)", highlight=False)
    console.print(
        f"{report.sources} sources, {report.chunks} chunks: {report.reused} reused, "
        f"{report.embedded} newly embedded, {len(report.removed_sources)} sources removed "
        f"in {report.seconds:.2f}s\n{status} {report.version} in {report.index_dir}", highlight=False, markup=False,
    )


class RateColumn(ProgressColumn):
    """Texts embedded per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.0f}/s" if task.speed else "…/s")


def print_distributed(console: Console, spread: dict[str, Any]) -> None:
    """Where a distributed ingest's vectors came from: the workers (the store), or this machine."""
    console.print(f"{spread['files_queued']} files embedded by the ingest workers in {spread['waited_seconds']:.2f}s; "
                  f"texts: {spread['from_store']} from the shared store, {spread['embedded_here']} embedded here"
                  + (" (files changed meanwhile, or the workers' embedder or chunking settings differ from these)"
                     if spread["embedded_here"] else ""), highlight=False, markup=False)


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
