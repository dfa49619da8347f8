"""From a Slack question to a delivered answer: channel sources, thread follow-ups, and delivery that always
reaches the asker (Slack's rate limits and server errors are retried; a channel the bot cannot post in
falls back to a direct message)."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.access import Caller
from bot.answer import Answer
from bot.audit import audit
from bot.citelinks import LinkSigner
from bot.config import Settings
from bot.engine import Engine
from bot.ratelimit import RateLimiter
from bot.retrieve import clean_question, matching_sources
from bot.slack.audience import PUBLIC_ONLY, SlackAudiences
from bot.slack.blocks import Block, answer_blocks, fallback_text
from bot.slack.store import SlackStore
from index.errors import QuestionError, SourcierError
from index.manifest import Manifest

log = logging.getLogger(__name__)
RETRIES = [AsyncRateLimitErrorRetryHandler(max_retry_count=3), AsyncServerErrorRetryHandler(max_retry_count=2),
           AsyncConnectionErrorRetryHandler(max_retry_count=2)]
UNREACHABLE = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action", "cannot_reply_to_message",
               "thread_not_found", "message_not_found"}
NO_SOURCES = "Ce canal n'a pas de sources indexées : demandez à un mainteneur de relier le canal à des sources."
NOT_YOURS = ("Les sources de ce canal ne vous sont pas ouvertes : je ne peux répondre qu'à partir de sources que "
             "vous (et, dans un canal, tous ses membres) pouvez lire.")
TOO_LONG = "Votre question est trop longue ({n} caractères ; {limit} au plus) : raccourcissez-la et reposez-la."
UNSEARCHABLE = "Je ne trouve rien à chercher dans ce message : posez une question avec des mots."
DM_FOLLOW_UP_S = 900.0  # a direct message within 15 minutes of the last one may follow up on it
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#[A-Z0-9]+(?:\|([^>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")


def question_of(text: str, bot_user: str | None) -> str:
    """The question as a person wrote it: our own mention removed, other mentions, channels and links as text."""
    text = _MENTION.sub(lambda m: " " if m.group(1) == bot_user else f"@{m.group(2) or m.group(1)}", text or "")
    text = _CHANNEL.sub(lambda m: f"#{m.group(1) or 'canal'}", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Reply:
    """What to post: the fallback text and the blocks."""

    text: str
    blocks: list[Block]


class SlackAnswerer:
    """Turns a question into a stored answer with its blocks; every Slack handler goes through here."""

    def __init__(self, engine: Engine, store: SlackStore, settings: Settings, signer: LinkSigner) -> None:
        self.engine = engine
        self.store = store
        self.settings = settings
        self.limiter = RateLimiter(settings.slack_rate_limit_per_minute, burst=3)
        self.signer = signer
        self.audiences = SlackAudiences(engine.access, settings.slack_members_ttl_seconds)

    async def audiences_for(self, client: AsyncWebClient, user: str | None, team: str | None,
                            user_team: str | None, channel: str | None, private: bool) -> frozenset[str]:
        """What an answer to this person may draw from: their audiences, and in a channel only what all its
        members may read too (everyone there sees the answer)."""
        mine = await self.audiences.of(client, user, team, user_team)
        return mine if private else mine & self.audiences.channel_view(channel)

    async def db(self, method: Any, *args: Any) -> Any:
        """Run a store call off the event loop."""
        return await asyncio.to_thread(method, *args)

    def readable(self, audiences: frozenset[str]) -> frozenset[str] | None:
        """The source ids these audiences may read (None: all), or None before the first ingest."""
        try:
            return self.engine.readable(audiences)
        except SourcierError:
            return None

    def manifest(self) -> Manifest | None:
        """The published index's manifest, or None before the first ingest."""
        try:
            return self.engine.snapshot.manifest
        except SourcierError:
            return None

    def slow_down(self, user: str | None) -> str | None:
        """A polite message when this person asks faster than the per-user limit, else None."""
        wait = self.limiter.check(user or "anonymous")
        return f"Vous posez beaucoup de questions d'affilée : réessayez dans {math.ceil(wait)} s." if wait else None

    def sources_for(self, channel: str | None) -> list[str] | None:
        """The source ids this channel answers from (None: every source), by exact id or folder prefix."""
        wanted = self.settings.slack_channel_sources.get(channel or "")
        if not wanted:
            return None
        return matching_sources(wanted, self.engine.snapshot.manifest.sources)[0]

    def refusal(self, question: str) -> str | None:
        """The reply, in French, to a question the engine refuses (over the length limit), else None."""
        if self._searchable(question):
            return None
        n, limit = len(question), self.settings.max_question_chars
        return TOO_LONG.format(n=n, limit=limit) if n > limit else UNSEARCHABLE

    def _searchable(self, text: str) -> bool:
        """Whether the engine accepts this text as a question: not empty, not over the limit once normalised."""
        try:
            clean_question(text, self.settings.max_question_chars)
        except QuestionError:
            return False
        return True

    async def _follow_up(self, question: str, earlier: list[str], sources: list[str] | None,
                         audiences: frozenset[str]) -> Answer | None:
        """The answer with the thread's earlier questions as context, kept only when the cited sentences hold
        a word of the follow-up itself (« Et pour Microsoft ? » must be answered about Microsoft)."""
        own = set(self.engine.analyzer.terms(question))
        together = " ".join([*earlier, question])
        if not own or not self._searchable(together):  # over the limit with the thread: read alone instead
            return None
        combined = await self.engine.ask_async(together, None, sources, audiences)
        quoted = set(self.engine.analyzer.terms(combined.text)) if combined.found else set()
        return replace(combined, question=question) if own & quoted else None

    async def _in_thread(self, question: str, earlier: list[str], sources: list[str] | None,
                         audiences: frozenset[str]) -> tuple[Answer, list[str]]:
        """The answer and the earlier questions it used. A short follow-up (« Et chez Microsoft ? ») is read
        with the thread first; a longer one alone first, with the thread only when alone it finds nothing."""
        short = 0 < len(set(self.engine.analyzer.terms(question))) <= 3
        if earlier and short:
            follow = await self._follow_up(question, earlier, sources, audiences)
            if follow is not None:
                return follow, earlier
        answer = await self.engine.ask_async(question, None, sources, audiences)
        if earlier and not short and not answer.found:
            follow = await self._follow_up(question, earlier, sources, audiences)
            if follow is not None:
                return follow, earlier
        return answer, []

    async def answer(self, question: str, user: str | None, channel: str | None, thread: str | None = None,
                     since_s: float | None = None, shareable: bool = False,
                     audiences: frozenset[str] = PUBLIC_ONLY, surface: str = "slack") -> Reply:
        """The answer for a question, from the channel's sources that these audiences may read, read with its
        thread when that helps."""
        refusal = self.refusal(question)
        if refusal:
            return _said(refusal)
        sources = self.sources_for(channel)
        if sources == []:
            return _said(NO_SOURCES)
        readable = self.engine.readable(audiences)
        if sources is not None and readable is not None:
            sources = [s for s in sources if s in readable]
            if not sources:
                return _said(NOT_YOURS)
        earlier = await self.db(self.store.earlier_questions, thread, since_s) if thread else []
        answer, used = await self._in_thread(question, earlier, sources, audiences)
        audit(Caller(f"slack:{user or '?'}", surface, audiences), "ask", (c.source_id for c in answer.citations),
              answer.found, question if self.settings.audit_questions else None)
        answer_id = uuid.uuid4().hex
        links = self.links(answer)
        public = answer_blocks(answer, answer_id, links, context=used)
        await self.db(self.store.record_answer, answer_id, question, answer.text, answer.found,
                      [asdict(c) for c in answer.citations], public, user, channel, thread)
        blocks = answer_blocks(answer, answer_id, links, shareable=True, context=used) if shareable else public
        return Reply(fallback_text(answer), blocks)

    def links(self, answer: Answer) -> dict[int, str]:
        """Signed, expiring web-page links to each passage, when the page has a public URL: they open that
        passage's source for whoever holds them, without an API key, and nothing else."""
        public_url = self.settings.public_url
        return {c.n: self.signer.link(public_url, c) for c in answer.citations} if public_url else {}


def _said(text: str) -> Reply:
    """A reply that is one sentence of ours."""
    return Reply(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


async def post(client: AsyncWebClient, channel: str, thread_ts: str | None, user: str | None, reply: Reply) -> None:
    """Post in the thread; where the bot cannot post (not a member, archived), send it to the asker directly."""
    try:
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=reply.text, blocks=reply.blocks,
                                      unfurl_links=False, unfurl_media=False)
    except SlackApiError as exc:
        if not user or exc.response.get("error") not in UNREACHABLE:
            raise
        log.warning("cannot post in %s (%s); answering %s directly", channel, exc.response.get("error"), user)
        await client.chat_postMessage(channel=user, text=reply.text, blocks=reply.blocks, unfurl_links=False,
                                      unfurl_media=False)


async def respond_to(url: str | None, **message: Any) -> None:
    """Send to an interaction's response_url (with retries), raising when Slack refuses it."""
    if not url:
        raise ValueError("this interaction has no response_url")
    response = await AsyncWebhookClient(url, retry_handlers=RETRIES).send_dict(message)
    if response.status_code != 200:
        raise RuntimeError(f"response_url refused the message: {response.status_code} {response.body[:200]}")
