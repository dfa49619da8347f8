"""The Slack app: mentions, DMs and /sourcier answered with cited Block Kit; one code path, two transports."""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.engine import Engine
from bot.ratelimit import RateLimiter
from bot.slack.blocks import answer_blocks, fallback_text, thanks_blocks
from bot.slack.store import SlackStore
from index.errors import SourcierError

log = logging.getLogger(__name__)
SORRY = "Désolé, une erreur interne m'empêche de répondre pour l'instant. L'équipe est prévenue."
EMPTY = "Posez-moi une question, par exemple : « Qui dirige OpenAI par intérim ? »"
ALREADY_VOTED = "Vous avez déjà donné votre avis sur cette réponse. Merci !"
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def question_of(text: str) -> str:
    """The question without the bot mention."""
    return " ".join(_MENTION.sub(" ", text or "").split())


class SlackAnswerer:
    """Turns a question into a stored answer with its blocks; every Slack handler goes through here."""

    def __init__(self, engine: Engine, store: SlackStore, settings: Settings) -> None:
        self.engine = engine
        self.store = store
        self.settings = settings
        self.limiter = RateLimiter(settings.slack_rate_limit_per_minute, burst=3)

    def slow_down(self, user: str | None) -> str | None:
        """A polite message when this person asks faster than the per-user limit, else None."""
        wait = self.limiter.check(user or "anonymous")
        return f"Vous posez beaucoup de questions d'affilée : réessayez dans {math.ceil(wait)} s." if wait else None

    async def blocks_for(self, question: str, user: str | None, channel: str | None,
                         shareable: bool = False) -> tuple[str, list[dict[str, Any]]]:
        """(fallback text, blocks) for a question; the public version is stored for sharing."""
        answer = await self.engine.run(self.engine.ask, question)
        answer_id = uuid.uuid4().hex
        public_url = self.settings.public_url
        links = {c.n: c.link(public_url) for c in answer.citations} if public_url else {}
        public = answer_blocks(answer, answer_id, links)
        self.store.record_answer(answer_id, question, answer.text, answer.found,
                                 [asdict(c) for c in answer.citations], public, user, channel)
        blocks = answer_blocks(answer, answer_id, links, shareable=True) if shareable else public
        return fallback_text(answer), blocks


def create_slack_app(settings: Settings, engine: Engine, store: SlackStore,
                     client: AsyncWebClient | None = None) -> AsyncApp:
    """The Bolt app; HTTP mode (/slack/events) and Socket Mode (`sourcier slack`) both serve this one."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    client = client or AsyncWebClient(token=token, base_url=settings.slack_api_url)
    app = AsyncApp(client=client, signing_secret=secret, request_verification_enabled=secret is not None,
                   logger=logging.getLogger("sourcier.slack"))
    answerer = SlackAnswerer(engine, store, settings)

    async def provide_answerer(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context["answerer"] = answerer  # every listener below reads it from its context
        await next()

    app.use(provide_answerer)
    app.event("app_mention")(on_mention)
    app.event("message")(on_message)
    app.command("/sourcier")(on_command)
    app.action("feedback_up")(on_feedback)
    app.action("feedback_down")(on_feedback)
    app.action("share_answer")(on_share)
    return app


def _human(event: dict[str, Any]) -> bool:
    """Only plain messages from people: no bots (ourselves included), no edits, deletions or joins."""
    return not event.get("bot_id") and not event.get("subtype") and bool(event.get("user"))


async def reply(answerer: SlackAnswerer, client: AsyncWebClient, event: dict[str, Any], thread_ts: str | None) -> None:
    """Answer one message, showing 👀 while working and apologising instead of failing silently."""
    channel, ts = event["channel"], event["ts"]
    question = question_of(event.get("text", ""))
    if not question:
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=EMPTY)
        return
    too_fast = answerer.slow_down(event.get("user"))
    if too_fast:
        await client.chat_postEphemeral(channel=channel, user=str(event.get("user")), thread_ts=thread_ts,
                                        text=too_fast)
        return
    await client.reactions_add(channel=channel, name="eyes", timestamp=ts)
    try:
        text, blocks = await answerer.blocks_for(question, event.get("user"), channel)
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks,
                                      unfurl_links=False)
    except SourcierError as exc:
        log.warning("could not answer %r in %s: %s", question, channel, exc)
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=SORRY)
    except Exception:
        log.exception("could not answer %r in %s", question, channel)
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=SORRY)
    finally:
        await client.reactions_remove(channel=channel, name="eyes", timestamp=ts)


async def on_mention(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient,
                     context: AsyncBoltContext) -> None:
    """A mention in a channel: answered in its thread, once per event."""
    answerer: SlackAnswerer = context["answerer"]
    if _human(event) and answerer.store.first_time(body.get("event_id") or event["ts"]):
        await reply(answerer, client, event, event.get("thread_ts") or event["ts"])


async def on_message(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient,
                     context: AsyncBoltContext) -> None:
    """A direct message: answered in place (channel messages that mention us arrive as app_mention)."""
    answerer: SlackAnswerer = context["answerer"]
    if event.get("channel_type") == "im" and _human(event) and answerer.store.first_time(
            body.get("event_id") or event["ts"]):
        await reply(answerer, client, event, event.get("thread_ts"))


async def on_command(ack: Any, command: dict[str, Any], respond: Any, context: AsyncBoltContext) -> None:
    """/sourcier question: acknowledged at once, answered privately with a share button."""
    answerer: SlackAnswerer = context["answerer"]
    question = question_of(command.get("text", ""))
    if not question:
        await ack(response_type="ephemeral", text=EMPTY)
        return
    too_fast = answerer.slow_down(command.get("user_id"))
    if too_fast:
        await ack(response_type="ephemeral", text=too_fast)
        return
    await ack(response_type="ephemeral", text=f"Je cherche : « {question[:200]} »…")
    try:
        text, blocks = await answerer.blocks_for(question, command.get("user_id"), command.get("channel_id"),
                                                 shareable=True)
        await respond(response_type="ephemeral", replace_original=True, text=text, blocks=blocks)
    except Exception:
        log.exception("could not answer /sourcier %r", question)
        await respond(response_type="ephemeral", replace_original=True, text=SORRY)


async def on_feedback(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient,
                      respond: Any, context: AsyncBoltContext) -> None:
    """👍 / 👎: one vote per person per answer, the tally shown in the message."""
    await ack()
    store = context["answerer"].store
    vote = "up" if action["action_id"] == "feedback_up" else "down"
    user = body["user"]["id"]
    channel = (body.get("channel") or {}).get("id")
    if not store.vote(action["value"], user, channel, vote):
        await respond(response_type="ephemeral", replace_original=False, text=ALREADY_VOTED)
        return
    blocks = thanks_blocks(body["message"]["blocks"], user, *store.tally(action["value"]))
    if (body.get("container") or {}).get("is_ephemeral"):
        await respond(replace_original=True, text=body["message"].get("text", ""), blocks=blocks)
    else:
        await client.chat_update(channel=str(channel), ts=body["message"]["ts"],
                                 text=body["message"].get("text", ""), blocks=blocks)


async def on_share(ack: Any, action: dict[str, Any], respond: Any, context: AsyncBoltContext) -> None:
    """« Partager dans le canal »: post the stored public answer, remove the private one."""
    await ack()
    record = context["answerer"].store.answer(action["value"])
    if record is None:
        await respond(response_type="ephemeral", replace_original=False,
                      text="Cette réponse n'est plus disponible ; reposez la question.")
        return
    await respond(response_type="in_channel", replace_original=False, text=record["answer"], blocks=record["blocks"])
    await respond(delete_original=True)
