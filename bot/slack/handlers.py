"""Bolt listeners: mentions, DMs, /sourcier, the message shortcut, buttons and App Home; one code path for the
HTTP and Socket Mode transports. Each reads the SlackAnswerer from its context."""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.answer import Answer, Citation
from bot.language import language
from bot.slack.answerer import DM_FOLLOW_UP_S, Reply, SlackAnswerer, post, question_of, respond_to
from bot.slack.blocks import answer_blocks, escape, mrkdwn, plain, with_tally
from bot.slack.home import help_blocks, home_view
from bot.slack.store import Vote
from index.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)
SORRY = "Désolé, une erreur interne m'empêche de répondre pour l'instant. L'équipe est prévenue."
EMPTY = "Posez-moi une question, par exemple : « Qui dirige OpenAI par intérim ? »"
ALREADY_VOTED = "Vous avez déjà donné votre avis sur cette réponse. Merci !"
THANKS = "Merci pour votre retour ! Il nous aide à améliorer les réponses."
GONE = "Cette réponse n'est plus disponible ; reposez la question."
NOT_SHARED = ("Cette réponse cite des sources que tous les membres de ce canal ne peuvent pas lire : je ne la "
              "partage pas ici.")
FILES = "_Je ne lis pas les fichiers joints : je réponds à partir des sources indexées._"
_tally_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _human(event: dict[str, Any]) -> bool:
    """Only messages from people: no bots (ourselves included), edits, deletions or joins; files are fine."""
    return not event.get("bot_id") and event.get("subtype") in (None, "file_share") and bool(event.get("user"))


async def _react(client: AsyncWebClient, add: bool, channel: str, ts: str) -> None:
    """👀 while working; a failing reaction never costs the answer."""
    try:
        method = client.reactions_add if add else client.reactions_remove
        await method(channel=channel, name="eyes", timestamp=ts)
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:  # decoration: log and go on
        log.info("reaction %s failed in %s: %s", "add" if add else "remove", channel, exc)


async def reply(answerer: SlackAnswerer, client: AsyncWebClient, event: dict[str, Any], thread_ts: str | None,
                thread: str, since_s: float | None, bot_user: str | None, team: str | None = None,
                surface: str = "slack:mention") -> None:
    """Answer one message from what the asker (and, in a channel, everyone there) may read; the asker always hears
    back, with the answer or an apology."""
    channel, ts, user = event["channel"], event["ts"], event.get("user")
    question = question_of(event.get("text", ""), bot_user)
    if not question:
        await post(client, channel, thread_ts, user, Reply(EMPTY, [{"type": "section", "text": mrkdwn(EMPTY)}]))
        return
    too_fast = answerer.slow_down(user)
    if too_fast:
        await client.chat_postEphemeral(channel=channel, user=str(user), thread_ts=thread_ts, text=too_fast)
        return
    await _react(client, True, channel, ts)
    try:
        audiences = await answerer.audiences_for(client, user, team, event.get("user_team"), channel,
                                                 private=event.get("channel_type") == "im")
        answer = await answerer.answer(question, user, channel, thread, since_s, audiences=audiences,
                                       surface=surface)
        if event.get("files"):
            answer.blocks.insert(1, {"type": "context", "elements": [mrkdwn(FILES)]})
        await post(client, channel, thread_ts, user, answer)
    except Exception:
        log.exception("could not answer %r in %s", question, channel)
        await post(client, channel, thread_ts, user, Reply(SORRY, [{"type": "section", "text": mrkdwn(SORRY)}]))
    finally:
        await _react(client, False, channel, ts)


def _first(answerer: SlackAnswerer, body: dict[str, Any], event: dict[str, Any]) -> bool:
    """Once per message: a retry has the same event id, a DM that also mentions us the same channel and ts."""
    return answerer.store.first_time(body.get("event_id") or event["ts"], f"{event['channel']}:{event['ts']}")


async def _once(answerer: SlackAnswerer, client: AsyncWebClient, body: dict[str, Any], event: dict[str, Any],
                thread_ts: str | None) -> bool:
    """Whether to answer this message: not when it was seen already, nor when the shared store cannot say (the
    asker then gets the apology in place of silence, and may ask again once the database is back)."""
    try:
        return await asyncio.to_thread(_first, answerer, body, event)
    except DatabaseUnavailableError:
        log.exception("cannot check whether event %s was answered already", body.get("event_id"))
        await post(client, event["channel"], thread_ts, event.get("user"), Reply(SORRY, [
            {"type": "section", "text": mrkdwn(SORRY)}]))
        return False


async def on_mention(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient,
                     context: AsyncBoltContext) -> None:
    """A mention: answered in its thread; a mention inside a thread follows up on the thread's questions."""
    answerer: SlackAnswerer = context["answerer"]
    root = event.get("thread_ts") or event["ts"]
    if _human(event) and await _once(answerer, client, body, event, root):
        await reply(answerer, client, event, root, f"{event['channel']}:{root}", None, context.bot_user_id,
                    _team(body, context))


def _team(body: dict[str, Any], context: AsyncBoltContext) -> str | None:
    """Our workspace: the one the event was delivered for."""
    return body.get("team_id") or context.team_id


async def on_message(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient,
                     context: AsyncBoltContext) -> None:
    """A direct message: answered in place; it follows up on the DM's last questions (15 min) or its thread."""
    answerer: SlackAnswerer = context["answerer"]
    thread_ts = event.get("thread_ts")
    if event.get("channel_type") == "im" and _human(event) and await _once(answerer, client, body, event, thread_ts):
        thread = f"{event['channel']}:{thread_ts or 'dm'}"
        await reply(answerer, client, event, thread_ts, thread, None if thread_ts else DM_FOLLOW_UP_S,
                    context.bot_user_id, _team(body, context), "slack:dm")


async def on_command(ack: Any, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """/sourcier question: acknowledged at once, answered privately with a share button; `aide` explains."""
    answerer: SlackAnswerer = context["answerer"]
    question = question_of(command.get("text", ""), context.bot_user_id)
    if question.lower() in ("", "aide", "help", "?"):
        audiences = await answerer.audiences_for(client, command.get("user_id"), command.get("team_id") or
                                                 context.team_id, None, command.get("channel_id"), private=True)
        await ack(response_type="ephemeral", text=EMPTY,
                  blocks=help_blocks(answerer.manifest(), answerer.settings.slack_channel_sources.get(
                      command.get("channel_id", "")), answerer.readable(audiences), audiences))
        return
    too_fast = answerer.slow_down(command.get("user_id"))
    if too_fast:
        await ack(response_type="ephemeral", text=too_fast)
        return
    await ack(response_type="ephemeral", text=f"Je cherche : « {escape(question[:200])} »…")
    url = command.get("response_url")
    try:
        audiences = await answerer.audiences_for(client, command.get("user_id"), command.get("team_id") or
                                                 context.team_id, None, command.get("channel_id"), private=True)
        answer = await answerer.answer(question, command.get("user_id"), command.get("channel_id"), shareable=True,
                                       audiences=audiences, surface="slack:command")
        await respond_to(url, response_type="ephemeral", replace_original=True, text=answer.text, blocks=answer.blocks)
    except Exception:
        log.exception("could not answer /sourcier %r", question)
        await respond_to(url, response_type="ephemeral", replace_original=True, text=SORRY)


async def on_shortcut(ack: Any, shortcut: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """« Demander à sourcier » on a message: that message is the question, answered in its thread."""
    await ack()
    message, channel = shortcut.get("message") or {}, (shortcut.get("channel") or {}).get("id", "")
    user = (shortcut.get("user") or {}).get("id")
    root = message.get("thread_ts") or message.get("ts")
    event = {"channel": channel, "ts": message.get("ts", ""), "user": user, "text": message.get("text", ""),
             "user_team": (shortcut.get("user") or {}).get("team_id")}
    team = (shortcut.get("team") or {}).get("id") or context.team_id
    answerer: SlackAnswerer = context["answerer"]
    try:
        await reply(answerer, client, event, root, f"{channel}:{root}", None, context.bot_user_id, team,
                    "slack:shortcut")
    except Exception:  # not even a DM got through: say so where the person clicked
        log.exception("could not answer a shortcut in %s", channel)
        await respond_to(shortcut.get("response_url"), response_type="ephemeral", text=SORRY)


def _stored_answer(record: dict[str, Any]) -> Answer:
    """An answer rebuilt from the store, to redraw its message."""
    citations = [Citation(**c) for c in record["citations"]]
    return Answer(record["question"], record["answer"], record["found"], citations, language(record["question"]), 0.0)


def _redraw(answerer: SlackAnswerer, record: dict[str, Any], answer_id: str, body: dict[str, Any],
            expanded: bool) -> list[dict[str, Any]]:
    """The message as it should look now: stored answer, its thread note, expanded or not, share on a private one."""
    answer = _stored_answer(record)
    note = [b for b in record["blocks"] if b.get("block_id") == "context-note"]
    private = bool((body.get("container") or {}).get("is_ephemeral"))
    blocks = answer_blocks(answer, answer_id, answerer.links(answer), shareable=private, expanded=expanded)
    return blocks[:1] + note + blocks[1:]


async def on_feedback(ack: Any, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext) -> None:
    """👍 / 👎: one vote per person per answer; the tally redrawn from the store; the voter thanked privately.

    Works on private (ephemeral) answers, which Slack sends without `message`, and in channels the bot is
    not in: the message is redrawn through the click's own response_url, never chat.update."""
    await ack()
    answerer: SlackAnswerer = context["answerer"]
    answer_id, user, url = action["value"], body["user"]["id"], body.get("response_url")
    vote = "up" if action["action_id"] == "feedback_up" else "down"
    status = await answerer.db(answerer.store.vote, answer_id, user, (body.get("channel") or {}).get("id"), vote)
    if status is not Vote.COUNTED:
        await respond_to(url, response_type="ephemeral", replace_original=False,
                         text=ALREADY_VOTED if status is Vote.ALREADY else GONE)
        return
    record = await answerer.db(answerer.store.answer, answer_id)
    if record is None:  # deleted by the retention between the vote and now
        return
    expanded = any(str(b.get("block_id", "")).startswith("cite-") for b in (body.get("message") or {}).get("blocks", []))
    blocks = _redraw(answerer, record, answer_id, body, expanded)
    lock = _tally_locks.setdefault(answer_id, asyncio.Lock())
    async with lock:  # redraw until the tally shown is the one stored: concurrent votes never show a lower count
        shown = None
        for _ in range(5):
            tally = await answerer.db(answerer.store.tally, answer_id)
            if tally == shown:
                break
            await respond_to(url, replace_original=True, text=escape(record["answer"]), blocks=with_tally(blocks, *tally))
            shown = tally
    await respond_to(url, response_type="ephemeral", replace_original=False, text=THANKS)


async def on_more(ack: Any, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext) -> None:
    """« Plus de sources »: the same message, every passage with its excerpt."""
    await ack()
    answerer: SlackAnswerer = context["answerer"]
    record = await answerer.db(answerer.store.answer, action["value"])
    if record is None:
        await respond_to(body.get("response_url"), response_type="ephemeral", replace_original=False, text=GONE)
        return
    blocks = _redraw(answerer, record, action["value"], body, expanded=True)
    up, down = await answerer.db(answerer.store.tally, action["value"])
    await respond_to(body.get("response_url"), replace_original=True, text=escape(record["answer"]),
                     blocks=with_tally(blocks, up, down) if up or down else blocks)


async def on_share(ack: Any, body: dict[str, Any], action: dict[str, Any], context: AsyncBoltContext) -> None:
    """« Partager dans le canal »: the stored answer posted publicly, saying who shared it and what was asked."""
    await ack()
    answerer: SlackAnswerer = context["answerer"]
    record = await answerer.db(answerer.store.answer, action["value"])
    url = body.get("response_url")
    if record is None:
        await respond_to(url, response_type="ephemeral", replace_original=False, text=GONE)
        return
    channel = (body.get("channel") or {}).get("id")
    readable = answerer.readable(answerer.audiences.channel_view(channel))
    if readable is not None and any(c["source_id"] not in readable for c in record["citations"]):
        await respond_to(url, response_type="ephemeral", replace_original=False, text=NOT_SHARED)
        return
    who = f"<@{plain(body['user']['id'])}> a partagé la réponse à « {plain(record['question'][:300])} »"
    blocks = [{"type": "context", "elements": [mrkdwn(who)]}, *record["blocks"]]
    await respond_to(url, response_type="in_channel", replace_original=False, text=escape(record["answer"]),
                     blocks=blocks, unfurl_links=False, unfurl_media=False)
    await respond_to(url, delete_original=True)


async def on_home(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient,
                  context: AsyncBoltContext) -> None:
    """The App Home tab: what this person may read, which audiences they have, and how to ask."""
    if event.get("tab", "home") != "home":
        return
    answerer: SlackAnswerer = context["answerer"]
    audiences = await answerer.audiences_for(client, event["user"], _team(body, context), None, None, private=True)
    await client.views_publish(user_id=event["user"], view=home_view(answerer.manifest(),
                                                                     answerer.readable(audiences), audiences))


async def on_membership(event: dict[str, Any], context: AsyncBoltContext) -> None:
    """Someone joined or left a channel: its member list (an audience) is asked for again at the next question."""
    answerer: SlackAnswerer = context["answerer"]
    answerer.audiences.forget(event.get("channel"))
