"""What sourcier knows and how to ask it: the App Home tab and `/sourcier aide`."""

from __future__ import annotations

from typing import Any

from bot.access import PUBLIC, SLACK
from bot.slack.blocks import Block, clip, mrkdwn, plain
from index.manifest import Manifest

EXAMPLES = ("Qui dirige OpenAI par intérim ?", "Who is the interim CEO of OpenAI?")
HOW = ("*Comment demander*\n"
       "• Mentionnez-moi dans un canal : `@sourcier votre question` (je réponds dans le fil ; dans ce fil, "
       "mentionnez-moi à nouveau pour une question de suivi, je la comprends avec les questions précédentes).\n"
       "• Écrivez-moi en message direct.\n"
       "• `/sourcier votre question` : réponse privée, que vous pouvez partager.\n"
       "• Sur n'importe quel message : menu ⋮ → « Demander à sourcier ».\n"
       "Je cite toujours mes sources, et je dis « je ne sais pas » quand elles ne contiennent pas la réponse.")


def help_blocks(manifest: Manifest | None, channel_sources: list[str] | None = None,
                readable: frozenset[str] | None = None, audiences: frozenset[str] | None = None) -> list[Block]:
    """How to ask, what this person may read (version, a few titles: of readable sources only), and examples."""
    if manifest is None:
        known = "Aucune source n'est encore indexée : un mainteneur doit lancer `sourcier ingest`."
    else:
        entries = [e for sid, e in manifest.sources.items() if readable is None or sid in readable]
        titles = [plain(clip(e.title, 80)) for e in entries[:8]]
        more = f" et {len(entries) - len(titles)} autres" if len(entries) > len(titles) else ""
        known = (f"*Ce que je connais pour vous* : {len(entries)} sources (index `{plain(manifest.version)}`).\n"
                 + "\n".join(f"• {t}" for t in titles) + more)
    if audiences is not None:
        known += "\n" + audience_line(audiences)
    if channel_sources:
        known += "\nDans ce canal, je réponds à partir de : " + ", ".join(f"`{plain(s)}`" for s in channel_sources)
    examples = "*Exemples*\n" + "\n".join(f"• {plain(q)}" for q in EXAMPLES)
    return [{"type": "section", "text": mrkdwn(HOW)}, {"type": "section", "text": mrkdwn(known)},
            {"type": "section", "text": mrkdwn(examples)}]


def audience_line(audiences: frozenset[str]) -> str:
    """The audiences a person has, in words: public sources, and those of the channels they are a member of."""
    channels = sorted(a.removeprefix(SLACK) for a in audiences if a.startswith(SLACK))
    line = "*Vos accès* : les sources publiques" if PUBLIC in audiences else "*Vos accès* : aucune source publique"
    if channels:
        line += ", et celles réservées aux membres de " + ", ".join(f"<#{plain(c)}>" for c in channels)
    return line + "."


def home_view(manifest: Manifest | None, readable: frozenset[str] | None = None,
              audiences: frozenset[str] | None = None) -> dict[str, Any]:
    """The App Home tab, for one person: what they may read."""
    return {"type": "home", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "sourcier"}},
                                       *help_blocks(manifest, None, readable, audiences)]}
