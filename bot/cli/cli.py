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
    return settings


@contextmanager
def friendly_errors() -> Iterator[None]:
    """One clear line and exit 1 for the errors a user can fix; anything else is a real bug."""
    try:
        yield
    except SourcierError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from exc


@app.command()
def ingest(
    sources: Annotated[Path | None, typer.Argument(help="folder or file of .txt/.md (SOURCIER_SOURCES_DIR)")] = None,
    index_dir: IndexDir = None,
    embedder: EmbedderOpt = None,
    chunk_size: ChunkSize = None,
    chunk_overlap: ChunkOverlap = None,
    keep_versions: KeepVersions = None,
    index_type: IndexType = None,
    ingest_workers: IngestWorkers = None,
    as_json: JsonOpt = False,
) -> None:
    """Index sources: embeds only new or changed files, then publishes a new version.

    Example: sourcier ingest seeds/
    """
    settings = settings_from(sources_dir=sources, index_dir=index_dir, embedder=embedder, chunk_size=chunk_size,
                             chunk_overlap=chunk_overlap, keep_versions=keep_versions, index_type=index_type,
                             ingest_workers=ingest_workers)
    with friendly_errors(), render.progress_bar(err, not as_json) as progress:
        engine = Engine(settings)
        faiss.omp_set_num_threads(settings.ingest_workers)  # a one-off job may use every core for the index
        report = engine.ingest(progress=progress)
    if as_json:
        out.print_json(json.dumps(asdict(report), ensure_ascii=False))
    else:
        render.print_ingest(out, report)


@app.command()
def ask(question: str, k: KOpt = None, index_dir: IndexDir = None, embedder: EmbedderOpt = None,
        source: SourceOpt = None, as_json: JsonOpt = False) -> None:
    """Answer a question with [n] markers and the cited passages.

    Example: sourcier ask "Qui dirige OpenAI par intérim ?"
    """
    settings = settings_from(index_dir=index_dir, embedder=embedder, k=k)
    with friendly_errors():
        engine = Engine(settings)
        answer = engine.ask(question, sources=source)
    if as_json:
        out.print_json(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        paths = {sid: meta.path for sid, meta in engine.snapshot.manifest.sources.items()}
        render.print_answer(out, answer, paths)


@app.command()
def search(query: str, k: KOpt = None, index_dir: IndexDir = None, embedder: EmbedderOpt = None,
           source: SourceOpt = None, as_json: JsonOpt = False) -> None:
    """Ranked passages with dense, sentence, lexical and fused scores, and the signals behind the abstention
    decision with their part of it (no answer)."""
    from bot.retrieve import DEFAULT_ABSTAIN

    settings = settings_from(index_dir=index_dir, embedder=embedder, k=k)
    with friendly_errors():
        result = Engine(settings).search(query, sources=source)
    if as_json:
        rows = [{"rank": i, "score": h.score, "dense": h.dense, "sentence": h.sentence_cos, "lexical": h.lexical,
                 **h.chunk.to_json()} for i, h in enumerate(result.hits, 1)]
        why = {"signals": result.signals.to_json(), "contributions": DEFAULT_ABSTAIN.contributions(result.signals),
               "bias": DEFAULT_ABSTAIN.bias} if result.signals else {}
        out.print_json(json.dumps({"found": result.found, "confidence": result.confidence, **why, "hits": rows},
                                  ensure_ascii=False))
    else:
        render.print_search(out, result)


@app.command()
def sources(index_dir: IndexDir = None, as_json: JsonOpt = False) -> None:
    """List the indexed sources of the published version."""
    settings = settings_from(index_dir=index_dir)
    with friendly_errors():
        from index.store import load_snapshot

        manifest = load_snapshot(settings.index_dir).manifest
    if as_json:
        out.print_json(json.dumps(manifest.to_json()["sources"], ensure_ascii=False))
        return
    for sid, meta in manifest.sources.items():
        out.print(f"{sid}\t{meta.chunks} chunks\t{meta.sha256[:12]}\t{meta.title}", highlight=False, markup=False)


@app.command()
def versions(index_dir: IndexDir = None) -> None:
    """List index versions on disk (oldest first): * marks the published one; date, sources, passages."""
    from index.store import read_manifest
    from index.versions import current_version, list_versions

    settings = settings_from(index_dir=index_dir)
    live = current_version(settings.index_dir)
    for name in list_versions(settings.index_dir):
        try:
            manifest = read_manifest(settings.index_dir / name)
            counts = manifest.counts
            about = f"{manifest.created_at}  {counts['sources']} sources  {counts['chunks']} passages"
        except (SourcierError, KeyError) as exc:
            about = f"unreadable ({exc})"
        out.print(f"{'*' if name == live else ' '} {name}  {about}", highlight=False, markup=False)


@app.command()
def rollback(version: Annotated[str, typer.Argument(help="a name from `sourcier versions`")],
             index_dir: IndexDir = None) -> None:
    """Publish an older version again (servers pick it up on their next check)."""
    from index.errors import IndexNotFoundError
    from index.store import load_snapshot
    from index.versions import list_versions, publish

    settings = settings_from(index_dir=index_dir)
    with friendly_errors():
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

