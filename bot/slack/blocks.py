"""Block Kit for answers: the answer, at most three sources one line each, « Plus de sources », votes.

Everything that comes from a source or a person is escaped (`& < >`) and sent with `verbatim: true`, so a
source can never ping @channel, mention someone, forge a link or be auto-linked; titles and ids also lose
the characters Slack would read as formatting.
"""

from __future__ import annotations

from typing import Any

from bot.answer import Answer, Citation
from bot.quoting import readable

MAX_BLOCKS = 50
MAX_TEXT = 3000
EXCERPT = 600
SHOWN = 3
Block = dict[str, Any]
_FORMATTING = str.maketrans({"*": "∗", "`": "ˋ", "~": "∼", "_": "＿"})


def escape(text: str) -> str:
    """Slack mrkdwn escaping: source text can never ping @channel or a user, or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str) -> str:
    """Escaped, and without the characters Slack reads as bold, code, strike or italics (titles, ids)."""
    return escape(text).translate(_FORMATTING)


def clip(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis, so text fields stay under Slack's limits."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def mrkdwn(text: str) -> Block:
    """A mrkdwn text object Slack takes as written: no auto-linking of URLs, names or channels."""
    return {"type": "mrkdwn", "text": clip(text, MAX_TEXT), "verbatim": True}


def _url(url: str) -> str:
    """A URL safe inside <url|label>."""
    return url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")


def excerpt(citation: Citation) -> str:
    """The passage around the cited sentence, that sentence in bold, escaped and trimmed to fit."""
    a = citation.sentence_start - citation.start
    b = citation.sentence_end - citation.start
    text = citation.text
    sentence = plain(clip(readable(text[a:b].strip()), EXCERPT))
    room = max(EXCERPT - len(sentence), 0) // 2
    left = ("…" if a - room > 0 else "") + escape(readable(text[max(0, a - room) : a]))
    right = escape(readable(text[b : b + room])) + ("…" if b + room < len(text) else "")
    return f"{left}*{sentence}*{right}"


def place(citation: Citation) -> str:
    """Title › section (and page), as plain text."""
    return plain(clip(citation.place, 150))


def source_line(citation: Citation, link: str | None) -> str:
    """`[n] Titre › Section, p. 2` linked to the passage (or the original), and the original when both exist."""
    label = f"<{_url(link)}|{place(citation)}>" if link else place(citation)
    original = citation.source_url
    more = f" · <{_url(original)}|original>" if original and original != link else ""
    return f"[{citation.n}] {label}{more}"


def _highlighted(answer: Answer) -> str:
    """The escaped answer with its short answer (a name, a date, a number) in bold, once."""
    text = escape(readable(answer.text))
    short = escape(readable(answer.short)) if answer.found and answer.short else ""
    return text.replace(short, f"*{short}*", 1) if short and "*" not in short else text


def answer_blocks(answer: Answer, answer_id: str, links: dict[int, str], shareable: bool = False,
                  expanded: bool = False, context: list[str] | None = None) -> list[Block]:
    """The message: the answer (or an honest abstention), its sources one line each, then the buttons.

    Expanded (after « Plus de sources »), every passage is listed with its excerpt, cited sentence in bold.
    """
    blocks: list[Block] = [{"type": "section", "text": mrkdwn(_highlighted(answer))}]
    if context:
        used = " · ".join(f"« {plain(clip(q, 150))} »" for q in context)
        blocks.append({"type": "context", "block_id": "context-note",
                       "elements": [mrkdwn(f"_Question comprise avec le fil : {used}_")]})
    shown = [c for c in answer.citations if c.cited] if answer.found else answer.citations
    if expanded:
        room = MAX_BLOCKS - len(blocks) - 2
        blocks += [{"type": "context", "block_id": f"cite-{c.n}", "elements": [
            mrkdwn(f"{source_line(c, links.get(c.n, c.source_url))}\n{excerpt(c)}")]}
            for c in answer.citations[:room]]
    elif shown:
        title = "" if answer.found else ("_Maybe useful:_\n" if answer.language == "en" else "_Peut-être utile :_\n")
        lines = "\n".join(source_line(c, links.get(c.n, c.source_url)) for c in shown[:SHOWN])
        blocks.append({"type": "context", "block_id": "sources", "elements": [mrkdwn(title + lines)]})
    blocks.append(_buttons(answer, answer_id, shareable, expanded))
    return blocks


def _button(action: str, value: str, text: str, style: str | None = None) -> Block:
    button: Block = {"type": "button", "action_id": action, "value": value, "text": {"type": "plain_text",
                                                                                     "text": text}}
    return {**button, "style": style} if style else button


def _buttons(answer: Answer, answer_id: str, shareable: bool, expanded: bool) -> Block:
    """👍 / 👎, « Plus de sources » while there is more to see, « Partager » on a private answer."""
    en = answer.language == "en"
    elements = [_button("feedback_up", answer_id, "👍 Useful" if en else "👍 Utile"),
                _button("feedback_down", answer_id, "👎 Not useful" if en else "👎 Pas utile")]
    if answer.citations and not expanded:
        elements.append(_button("more_sources", answer_id, "More sources" if en else "Plus de sources"))
    if shareable:
        elements.append(_button("share_answer", answer_id, "Share in channel" if en else "Partager dans le canal",
                                "primary"))
    return {"type": "actions", "block_id": "buttons", "elements": elements}


def with_tally(blocks: list[Block], up: int, down: int) -> list[Block]:
    """The message with exactly one tally line (no names: the voter is thanked privately)."""
    kept = [b for b in blocks if b.get("block_id") != "tally"]
    return kept + [{"type": "context", "block_id": "tally", "elements": [mrkdwn(f"👍 {up} · 👎 {down}")]}]


def fallback_text(answer: Answer) -> str:
    """The top-level text (notifications, screen readers, old clients): escaped like the blocks."""
    return clip(escape(readable(answer.text)), MAX_TEXT)

