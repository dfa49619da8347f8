"""`sourcier serve` and `sourcier slack`: the long-running edges."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.cli import app, friendly_errors, settings_from
from bot.cli.db import check_database
from bot.cli.options import EmbedderOpt, IndexDir
from bot.config import Settings
from bot.engine import Engine


@app.command(short_help="Run the HTTP API and the web page (and Slack HTTP events).")
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes (each loads the model, one thread each)")] = 1,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        help="comma-separated addresses of your reverse proxies (or *) whose X-Forwarded-For is believed, so the "
             "rate limit sees client addresses; default: none, the connecting address counts")] = None,
    allow_anonymous: Annotated[bool, typer.Option(
        "--allow-anonymous", help="serve clients without an API key on a non-loopback address (a demo: they read "
                                  "the public sources only)")] = False,
    index_dir: IndexDir = None,
    embedder: EmbedderOpt = None,
) -> None:
    """Run the HTTP API and the web page (and Slack events when configured).

    Example: sourcier serve --host 0.0.0.0 --port 8000 --workers 2 --forwarded-allow-ips 10.0.0.5
    """
    import os

    import uvicorn

    from bot.http.server import PROTOCOL, proxy_options

    settings = settings_from(index_dir=index_dir, embedder=embedder, allow_anonymous=allow_anonymous or None,
                             forwarded_allow_ips=forwarded_allow_ips)
    with friendly_errors():
        settings.slack_enabled()  # refuse a half-configured Slack before loading anything
        check_database(settings)  # a wrong URL or password, no pgvector, an older schema: one line, not served
        refuse_open_door(host, settings)
    if workers > 1:  # workers are new processes: hand them the overrides through the environment
        os.environ.update({"SOURCIER_INDEX_DIR": str(settings.index_dir), "SOURCIER_EMBEDDER": settings.embedder,
                           "SOURCIER_ALLOW_ANONYMOUS": str(settings.allow_anonymous).lower(),
                           "SOURCIER_FORWARDED_ALLOW_IPS": settings.forwarded_allow_ips or ""})
        from bot.http.workers import serve_workers

        with friendly_errors():  # the address in use: one line, as uvicorn alone would say it for one worker
            serve_workers(uvicorn.Config("bot.http.api:app_factory", factory=True, host=host, port=port,
                                         workers=workers, log_level=settings.log_level.lower(), http=PROTOCOL,
                                         **proxy_options()))
        return
    from bot.http.api import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower(), http=PROTOCOL,
                **proxy_options())


def refuse_open_door(host: str, settings: Settings) -> None:
    """A non-loopback address with no API key would let anyone who reaches it read: refuse, naming the fix."""
    from bot.http.auth import is_loopback
    from bot.keys import key_store
    from index.errors import ApiKeyError

    if is_loopback(host) or settings.allow_anonymous:
        return
    with key_store(settings) as keys:
        if keys.active():
            return
    raise ApiKeyError(f"refusing to serve on {host} with no API key: anyone who reaches it could read the "
                      "sources. Create a key with `sourcier keys create NAME --audience public` (clients send "
                      "Authorization: Bearer …), or pass --allow-anonymous for a demo (public sources only)")


@app.command(short_help="Run the Slack app over Socket Mode (no public URL needed).")
def slack(index_dir: IndexDir = None, embedder: EmbedderOpt = None) -> None:
    """Run the Slack app over Socket Mode (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN; no public URL).

    Example: SLACK_BOT_TOKEN=xoxb-… SLACK_APP_TOKEN=xapp-… sourcier slack
    """
    import asyncio

    settings = settings_from(index_dir=index_dir, embedder=embedder)
    with friendly_errors():
        settings.slack_enabled(socket_mode=True)
        asyncio.run(_socket_mode(settings))


async def _socket_mode(settings: Settings) -> None:
    """Same Bolt app as HTTP mode; only the transport differs."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.slack.app import create_slack_app
    from bot.slack.store import open_store

    engine = Engine(settings)
    _ = engine.snapshot  # fail now, not on the first message, when there is no index
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    handler = AsyncSocketModeHandler(create_slack_app(settings, engine, open_store(settings)), app_token)
    await handler.start_async()
