"""`sourcier keys create|list|revoke|rotate-links`: HTTP API keys and the citation links' signing secret."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.cli import app, friendly_errors, out, settings_from
from bot.cli.render import print_json
from bot.keys import key_store

keys = typer.Typer(help="API keys for HTTP clients and the citation links' secret.",
                   short_help="API keys (stored hashed) and the citation links' secret.",
                   no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(keys, name="keys")
DataDir = Annotated[Path | None, typer.Option(help="where keys are kept (default: SOURCIER_DATA_DIR, var; with "
                                                   "SOURCIER_DATABASE_URL: the shared database)")]


@keys.command(short_help="Create an API key; prints it once.")
def create(name: Annotated[str, typer.Argument(help="who holds it, e.g. intranet or alice")],
           audience: Annotated[list[str] | None, typer.Option(
               "--audience", "-a", help="an audience of the access file it may read (repeat); public always")] = None,
           data_dir: DataDir = None) -> None:
    """Create an API key that reads the `public` sources and those of the audiences named.

    Example: sourcier keys create intranet-rh --audience rh
    """
    settings = settings_from(data_dir=data_dir)
    with friendly_errors(), key_store(settings) as store:
        key, secret = store.create(name, audience or [])
    out.print(f"{secret}\n(key {key.key_id}: shown once, stored only as a hash; send it as "
              f"Authorization: Bearer …)", highlight=False, markup=False)


@keys.command(name="list", short_help="List API keys (never their secrets).")
def list_keys(data_dir: DataDir = None, as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
              ) -> None:
    """List API keys: id, name, audiences, created, revoked."""
    settings = settings_from(data_dir=data_dir)
    with friendly_errors(), key_store(settings) as store:
        rows = store.keys()
    if as_json:
        print_json([{k: v for k, v in vars(r).items() if k != "digest"} for r in rows])
        return
    for r in rows:
        state = f"revoked {r.revoked_at}" if r.revoked_at else "active"
        out.print(f"{r.key_id}\t{r.name}\t{','.join(('public', *r.audiences))}\t{r.created_at}\t{state}",
                  highlight=False, markup=False)


@keys.command(short_help="Revoke an API key; servers refuse it at the next request.")
def revoke(key_id: Annotated[str, typer.Argument(help="the id `sourcier keys list` shows")],
           data_dir: DataDir = None) -> None:
    """Revoke an API key (running servers refuse it at its next request).

    Example: sourcier keys revoke 1a2b3c4d
    """
    settings = settings_from(data_dir=data_dir)
    with friendly_errors(), key_store(settings) as store:
        key = store.revoke(key_id)
    out.print(f"revoked {key.key_id} ({key.name})", highlight=False, markup=False)


@keys.command(name="rotate-links", short_help="New secret for citation links; older links stop working.")
def rotate_links(data_dir: DataDir = None) -> None:
    """Replace the secret that signs citation links: every link sent before stops working."""
    from bot.citelinks import LinkSigner
    from bot.statedb import shared_for_a_command

    settings = settings_from(data_dir=data_dir)
    with friendly_errors(), shared_for_a_command(settings) as shared:
        LinkSigner(settings.data_dir, settings.cite_link_days, shared).rotate()
    out.print("citation links signed before now no longer open", highlight=False, markup=False)
