"""The Slack app: one Bolt app for both transports (HTTP events on /slack/events, Socket Mode).

Its Web API client retries Slack's rate limits (honouring Retry-After), server errors and dropped
connections, so an answer is not lost to a busy workspace.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.citelinks import LinkSigner, link_signer
from bot.config import Settings
from bot.engine import Engine
from bot.slack import handlers
from bot.slack.answerer import RETRIES, SlackAnswerer
from bot.slack.store import SlackStore

SHORTCUT = "ask_sourcier"  # the message shortcut's callback id (manifest.yml)


def create_slack_app(settings: Settings, engine: Engine, store: SlackStore,
                     client: AsyncWebClient | None = None, signer: LinkSigner | None = None) -> AsyncApp:
    """The Bolt app with every listener registered and the answerer in each listener's context; citation links
    signed by `signer` (the web server's, so it opens them), else by one on the store's database."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    client = client or AsyncWebClient(token=token, base_url=settings.slack_api_url, retry_handlers=list(RETRIES))
    app = AsyncApp(client=client, signing_secret=secret, request_verification_enabled=secret is not None,
                   logger=logging.getLogger("sourcier.slack"))
    signer = signer or link_signer(settings, store.sql if settings.database_url is not None else None)
    answerer = SlackAnswerer(engine, store, settings, signer)

    async def provide_answerer(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context["answerer"] = answerer
        await next()

    app.use(provide_answerer)
    app.event("app_mention")(handlers.on_mention)
    app.event("message")(handlers.on_message)
    app.event("app_home_opened")(handlers.on_home)
    app.event("member_joined_channel")(handlers.on_membership)
    app.event("member_left_channel")(handlers.on_membership)
    app.command("/sourcier")(handlers.on_command)
    app.shortcut(SHORTCUT)(handlers.on_shortcut)
    app.action("feedback_up")(handlers.on_feedback)
    app.action("feedback_down")(handlers.on_feedback)
    app.action("more_sources")(handlers.on_more)
    app.action("share_answer")(handlers.on_share)
    return app
