"""Block Kit for answers: the text with [n], one context block per citation, then feedback buttons."""

from __future__ import annotations

from typing import Any

from bot.answer import LABELS, Answer, Citation

MAX_BLOCKS = 50
MAX_TEXT = 3000
EXCERPT = 600
Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack mrkdwn escaping: source text can never ping @channel or a user, or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis, so text fields stay under Slack's limits."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def excerpt(citation: Citation) -> str:
    """The passage around the cited sentence, that sentence in bold, escaped and trimmed to fit."""
    a = citation.sentence_start - citation.start
    b = citation.sentence_end - citation.start
    text = citation.text
    sentence = escape(clip(text[a:b].strip(), EXCERPT)).replace("*", "∗")
    room = max(EXCERPT - len(sentence), 0) // 2
    before = text[max(0, a - room) : a]
    after = text[b : b + room]
    left = ("…" if a - room > 0 else "") + escape(before)
    right = escape(after) + ("…" if b + room < len(text) else "")
    return f"{left}*{sentence}*{right}"


def place(citation: Citation) -> str:
    """Title › section, escaped and clipped."""
    return escape(clip(citation.place, 150))


def citation_block(citation: Citation, link: str | None) -> Block:
    """One context block: number, title › section, source id, excerpt, and a link to the passage when public."""
    head = f"*[{citation.n}]* {place(citation)} — `{escape(citation.source_id)}`"
    if link:
        head += f" · <{link}|voir le passage>"
    if citation.source_url:
        head += f" · <{citation.source_url.replace('|', '%7C').replace('>', '%3E')}|original>"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(f"{head}\n{excerpt(citation)}", MAX_TEXT)}]}


def answer_blocks(answer: Answer, answer_id: str, links: dict[int, str], shareable: bool = False) -> list[Block]:
    """The whole message: answer or honest abstention, citations (or closest passages), buttons."""
    if answer.found:
        blocks: list[Block] = [{"type": "section", "text": {"type": "mrkdwn", "text": clip(escape(answer.text),
                                                                                          MAX_TEXT)}}]
    else:
        maybe = "Maybe useful:" if answer.language == "en" else "Peut-être utile :"
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": escape(answer.text)}}]
        if answer.citations:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"_{maybe}_"}]})
    shown = [c for c in answer.citations if c.cited] if answer.found else answer.citations[:3]
    room = MAX_BLOCKS - len(blocks) - 3  # the see-also line, the buttons, and the tally a vote adds later
    blocks += [citation_block(c, links.get(c.n)) for c in shown][:room]
    others = [c for c in answer.citations if not c.cited] if answer.found else []
    if others:
        label = LABELS[answer.language]["see_also"]
        line = " · ".join(f"[{c.n}] " + (f"<{links[c.n]}|{place(c)}>" if c.n in links else place(c)) for c in others)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(f"_{label}{' :' if answer.language == 'fr' else ':'}_ {line}",
                                                                                        MAX_TEXT)}]})
    buttons: list[Block] = [
        {"type": "button", "action_id": "feedback_up", "value": answer_id, "text": {"type": "plain_text",
                                                                                      "text": "👍 Utile"}},
        {"type": "button", "action_id": "feedback_down", "value": answer_id, "text": {"type": "plain_text",
                                                                                        "text": "👎 Pas utile"}},
    ]
    if shareable:
        buttons.append({"type": "button", "action_id": "share_answer", "value": answer_id, "style": "primary",
                        "text": {"type": "plain_text", "text": "Partager dans le canal"}})
    blocks.append({"type": "actions", "block_id": "feedback", "elements": buttons})
    return blocks


def thanks_blocks(blocks: list[Block], user_id: str, up: int, down: int) -> list[Block]:
    """The same message, buttons kept for others, with the tally and a thank-you in place of the last one."""
    kept = [b for b in blocks if b.get("block_id") != "tally"]
    line = f"Merci <@{escape(user_id)}> pour votre retour ! 👍 {up} · 👎 {down}"
    return kept + [{"type": "context", "block_id": "tally", "elements": [{"type": "mrkdwn", "text": line}]}]


def fallback_text(answer: Answer) -> str:
    """Plain text for notifications and clients without Block Kit."""
    return clip(answer.text, MAX_TEXT)
