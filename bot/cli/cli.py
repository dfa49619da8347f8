"""The `sourcier` command: ingest, ask, search, sources, versions, rollback, eval, serve, slack."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import faiss
import typer
from pydantic import ValidationError
from rich.markup import escape

from bot.cli import render
from bot.cli.options import (
    ChunkOverlap,
    ChunkSize,
    EmbedderOpt,
    IndexDir,
    IndexType,
    IngestWorkers,
    JsonOpt,
    KeepVersions,
    KOpt,
    SourceOpt,
)
from bot.config import Settings
from bot.engine import Engine
from index.errors import SourcierError
from ingest.read import SUFFIXES

app = typer.Typer(help="sourcier: answers from your French sources, with exact cited passages.",
                  no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]})
out = render.SafeConsole(soft_wrap=not sys.stdout.isatty(), emoji=False)  # piped: one line per line, for grep
err = render.SafeConsole(stderr=True, emoji=False)  # SafeConsole: control characters from data shown, never obeyed
log = logging.getLogger("sourcier")


def _version(value: bool) -> None:
    """Print the installed version and stop."""
    if value:
        print(f"sourcier {metadata.version('sourcier')}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", metavar="", callback=_version, is_eager=True,
                                                help="print the version and exit")] = False) -> None:
    """sourcier: answers from your French sources, with exact cited passages."""


def settings_from(**overrides: Any) -> Settings:
    """Environment settings with the CLI options that were given on top."""
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise typer.BadParameter(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bm25s").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))  # `ask`
    logging.getLogger("procrastinate").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    return settings


@contextmanager
def friendly_errors() -> Iterator[None]:
    """One clear line and exit 1 for the errors a user can fix; anything else is a real bug."""
    try:
        yield
    except SourcierError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from exc


SOURCES_HELP = (f"folder or file of documents ({' '.join(SUFFIXES)}); default: SOURCIER_SOURCES_DIR, else the "
                "folder the index was built from, else seeds/")


@app.command(short_help="Index sources: embed only new or changed files, then publish.")
def ingest(
    sources: Annotated[Path | None, typer.Argument(help=SOURCES_HELP)] = None,
    index_dir: IndexDir = None,
    embedder: EmbedderOpt = None,
    chunk_size: ChunkSize = None,
    chunk_overlap: ChunkOverlap = None,
    keep_versions: KeepVersions = None,
    index_type: IndexType = None,
    ingest_workers: IngestWorkers = None,
    replace: Annotated[bool, typer.Option("--replace", metavar="", help=(
        "allow replacing the index: reading another folder than the one it was built from, or removing "
        "more than half of its sources"))] = False,
    distributed: Annotated[bool, typer.Option("--distributed", metavar="", help=(
        "embed on the `sourcier ingest-worker` hosts of SOURCIER_DATABASE_URL: a job per file, wait for them all "
        "(at most SOURCIER_INGEST_WAIT_SECONDS), then build and publish here"))] = False,
    as_json: JsonOpt = False,
    report_file: Annotated[Path | None, typer.Option(hidden=True, help="also write the JSON report here (re-index "
                                                                       "jobs read it: stdout may carry noise)")] = None,
) -> None:
    """Index sources: embeds only new or changed files, then publishes a new version.

    Example: sourcier ingest ~/docs --replace   (then `sourcier ingest` re-reads ~/docs)
    """
    settings = settings_from(sources_dir=sources, index_dir=index_dir, embedder=embedder, chunk_size=chunk_size,
                             chunk_overlap=chunk_overlap, keep_versions=keep_versions, index_type=index_type,
                             ingest_workers=ingest_workers)
    spread: dict[str, Any] = {}
    with friendly_errors(), render.progress_bar(err, not as_json) as progress:
        faiss.omp_set_num_threads(settings.ingest_workers)  # a one-off job may use every core for the index
        if distributed:
            from bot.cli.distributed import distributed_ingest

            report, spread = distributed_ingest(settings, progress, replace)
        else:
            report = Engine(settings).ingest(progress=progress, replace=replace)
    data = asdict(report) | ({"distributed": spread} if spread else {})
    if report_file is not None:
        from index.versions import write_atomic

        write_atomic(report_file, json.dumps(data, ensure_ascii=False).encode())
    if as_json:
        render.print_json(data)
        return
    render.print_ingest(out, report)
    if spread:
        render.print_distributed(out, spread)


@app.command(short_help="Answer a question with [n] markers and the cited passages.")
def ask(question: str, k: KOpt = None, index_dir: IndexDir = None, embedder: EmbedderOpt = None,
        source: SourceOpt = None, as_json: JsonOpt = False) -> None:
    """Answer a question with [n] markers and the cited passages.

    Asks a running server when SOURCIER_SERVER_URL is set, or when `sourcier serve` on 127.0.0.1:8000 serves
    this index's version (no model load: milliseconds instead of 1.6 s); otherwise answers in process.

    Example: sourcier ask "Qui dirige OpenAI par intérim ?"
    """
    from bot.cli.remote import ask_remote, server_for

    settings = settings_from(index_dir=index_dir, embedder=embedder, k=k)
    with friendly_errors():
        url = server_for(settings, local_index=index_dir is not None or embedder is not None)
        remote = ask_remote(url, question, settings.k, source) if url else None
        if remote is None:
            engine = Engine(settings)
            answer = engine.ask(question, sources=source)
            paths = {sid: meta.path for sid, meta in engine.snapshot.manifest.sources.items()}
        else:
            answer, paths = remote
    if as_json:
        render.print_json(answer.to_json())
    else:
        render.print_answer(out, answer, paths)


@app.command(short_help="Ranked passages, their scores, and what the reader read.")
def search(query: str, k: KOpt = None, index_dir: IndexDir = None, embedder: EmbedderOpt = None,
           source: SourceOpt = None, as_json: JsonOpt = False) -> None:
    """Ranked passages with dense, sentence, lexical and fused scores, the reader's best sentences, and the
    inputs behind its answer-or-abstain decision with their part of it (no answer)."""
    settings = settings_from(index_dir=index_dir, embedder=embedder, k=k)
    with friendly_errors():
        result = Engine(settings).search(query, sources=source)
    if as_json:
        rows = [{"rank": i, "score": h.score, "dense": h.dense, "sentence": h.sentence_cos, "lexical": h.lexical,
                 **h.chunk.to_json()} for i, h in enumerate(result.hits, 1)]
        reading = result.reading
        why = {"signals": reading.inputs, "contributions": reading.contributions,
               "sentences": [{"passage": c.n, "start": c.span[0], "end": c.span[1], "score": round(c.score, 4)}
                             for c in reading.candidates[:3]]} if reading else {}
        render.print_json({"found": result.found, "confidence": result.confidence, **why, "hits": rows})
    else:
        render.print_search(out, result)


@app.command(short_help="List the indexed sources of the published version.")
def sources(index_dir: IndexDir = None, as_json: JsonOpt = False) -> None:
    """List the indexed sources of the published version."""
    settings = settings_from(index_dir=index_dir)
    with friendly_errors():
        from index.store import load_snapshot

        manifest = load_snapshot(settings.index_dir).manifest
    if as_json:
        render.print_json(manifest.to_json()["sources"])
        return
    for sid, meta in manifest.sources.items():
        out.print(f"{sid}\t{meta.chunks} chunks\t{meta.sha256[:12]}\t{meta.title}", highlight=False, markup=False)


def _version_row(index_dir: Path, name: str, live: str | None) -> dict[str, Any]:
    """One version as `versions --json` shows it: name, live, date, counts, folder; or why it is unreadable."""
    from index.store import read_manifest

    row: dict[str, Any] = {"version": name, "live": name == live}
    try:
        manifest = read_manifest(index_dir / name)
        row |= {"created_at": manifest.created_at, "sources": manifest.counts["sources"],
                "chunks": manifest.counts["chunks"], "sources_root": manifest.sources_root}
    except (SourcierError, KeyError) as exc:
        row["error"] = f"unreadable ({exc})"
    return row


@app.command(short_help="List index versions on disk; * marks the published one.")
def versions(index_dir: IndexDir = None, as_json: JsonOpt = False) -> None:
    """List index versions on disk (oldest first): * marks the published one; date, sources, passages."""
    from bot.cli.db import versions_rows
    from index.versions import current_version, list_versions

    settings = settings_from(index_dir=index_dir)
    with friendly_errors():
        stored = versions_rows()  # the database's, when SOURCIER_DATABASE_URL is set
        live = current_version(settings.index_dir) if stored is None else None
    rows = stored if stored is not None else [_version_row(settings.index_dir, name, live)
                                              for name in list_versions(settings.index_dir)]
    if as_json:
        render.print_json(rows)
        return
    for row in rows:
        about = row.get("error") or f"{row['created_at']}  {row['sources']} sources  {row['chunks']} passages"
        out.print(f"{'*' if row['live'] else ' '} {row['version']}  {about}", highlight=False, markup=False)


@app.command(short_help="Publish an older index version again.")
def rollback(version: Annotated[str, typer.Argument(help="a name from `sourcier versions`")],
             index_dir: IndexDir = None) -> None:
    """Publish an older version again (servers pick it up on their next check)."""
    from bot.cli.db import rollback_in_database
    from index.errors import IndexNotFoundError
    from index.store import load_snapshot
    from index.versions import list_versions, publish

    settings = settings_from(index_dir=index_dir)
    with friendly_errors():
        if rollback_in_database(version):
            out.print(f"current -> {version}")
            return
        known = list_versions(settings.index_dir)
        if version not in known:
            raise IndexNotFoundError(f"no version {version!r} in {settings.index_dir}; valid versions: "
                                     f"{', '.join(known) or 'none (run `sourcier ingest`)'}")
        load_snapshot(settings.index_dir, version, verify=True)  # refuse to publish a broken version
        publish(settings.index_dir, version)
    out.print(f"CURRENT -> {version}")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="sourcier")

