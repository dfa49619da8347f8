"""`sourcier db start|stop|migrate|status`: PostgreSQL for the index, embedded for a trial or a server of yours.

    sourcier db start                     # an embedded PostgreSQL under SOURCIER_DATA_DIR; prints its URL
    export SOURCIER_DATABASE_URL=…        # the URL it printed (or your managed server's)
    sourcier ingest seeds/ && sourcier serve
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.cli import app, friendly_errors, out, settings_from
from index.errors import DatabaseConfigError

db = typer.Typer(help="PostgreSQL + pgvector for the index: an embedded server for a trial, and migrations.",
                 short_help="The index in PostgreSQL: an embedded server, migrations.",
                 no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(db, name="db")
DataDir = Annotated[Path | None, typer.Option(help="the embedded server lives in DATA_DIR/postgres "
                                                   "(default: SOURCIER_DATA_DIR, var)")]


def _url(settings: Any) -> str:
    """SOURCIER_DATABASE_URL, or the error saying how to get one."""
    if settings.database_url is None:
        raise DatabaseConfigError("SOURCIER_DATABASE_URL is not set: `sourcier db start` prints one for a local "
                                  "server, or use your managed server's URL")
    return str(settings.database_url.get_secret_value())


@db.command(short_help="Start an embedded PostgreSQL under the data directory; prints its URL.")
def start(data_dir: DataDir = None, port: Annotated[int | None, typer.Option(
        help="TCP port on 127.0.0.1 (default: the last one, else a free one)")] = None) -> None:
    """Start (creating it the first time) an embedded PostgreSQL with pgvector, on 127.0.0.1, and migrate it."""
    from index.pg.connect import connect
    from index.pg.migrations import migrate
    from index.pg.queue import apply_queue_schema
    from index.pg.server import EmbeddedServer

    settings = settings_from(data_dir=data_dir)
    with friendly_errors():
        url = EmbeddedServer(settings.data_dir / "postgres").start(port)
        with connect(url) as conn:
            migrate(conn)
        apply_queue_schema(url)
    out.print(f"PostgreSQL is running; use it with:\nexport SOURCIER_DATABASE_URL='{url}'", highlight=False,
              markup=False)


@db.command(short_help="Stop the embedded PostgreSQL.")
def stop(data_dir: DataDir = None) -> None:
    """Stop the embedded PostgreSQL of the data directory (its data stays for the next start)."""
    from index.pg.server import EmbeddedServer

    settings = settings_from(data_dir=data_dir)
    with friendly_errors():
        EmbeddedServer(settings.data_dir / "postgres").stop()
    out.print("PostgreSQL stopped")


@db.command(short_help="Apply the schema migrations SOURCIER_DATABASE_URL lacks.")
def migrate() -> None:
    """Create or upgrade the schema (and the pgvector extension) in the database SOURCIER_DATABASE_URL names."""
    from index.pg.connect import connect
    from index.pg.migrations import LATEST
    from index.pg.migrations import migrate as apply
    from index.pg.queue import SCHEMA, apply_queue_schema

    settings = settings_from()
    with friendly_errors():
        with connect(_url(settings)) as conn:
            done = apply(conn)
        queue_created = apply_queue_schema(_url(settings))
    out.print(f"schema at version {LATEST}" + (f" (applied {', '.join(map(str, done))})" if done else
                                                 " (nothing to do)"), highlight=False, markup=False)
    out.print(f"ingest queue (procrastinate, schema {SCHEMA}): " + ("created" if queue_created else "present"),
              highlight=False, markup=False)


def check_database(settings: Any) -> None:
    """Before serving: SOURCIER_DATABASE_URL, when set, reaches a database with pgvector, the current schema and
    the job queue (the re-index jobs go through it)."""
    if settings.database_url is not None:
        from index.pg.connect import check
        from index.pg.queue import require_queue

        check(settings.database_url.get_secret_value(), settings.database_timeout_seconds)
        require_queue(settings.database_url.get_secret_value())


def versions_rows() -> list[dict[str, Any]] | None:
    """The database's versions for `sourcier versions`, or None when the index is on disk."""
    settings = settings_from()
    if settings.database_url is None:
        return None
    from bot.database import Database

    database = Database(settings)
    try:
        return database.versions()
    finally:
        database.close()


def rollback_in_database(version: str) -> bool:
    """Flip the database's current version (False when the index is on disk)."""
    settings = settings_from()
    if settings.database_url is None:
        return False
    from bot.database import Database

    database = Database(settings)
    try:
        database.rollback(version)
    finally:
        database.close()
    return True
