"""What sourcier knows and how to ask it: the App Home tab and `/sourcier aide`."""

from __future__ import annotations

from typing import Any

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


def help_blocks(manifest: Manifest | None, channel_sources: list[str] | None = None) -> list[Block]:
    """How to ask, what is indexed (version, a few titles), and examples."""
    if manifest is None:
        known = "Aucune source n'est encore indexée : un mainteneur doit lancer `sourcier ingest`."
    else:
        titles = [plain(clip(e.title, 80)) for e in list(manifest.sources.values())[:8]]
        more = f" et {len(manifest.sources) - len(titles)} autres" if len(manifest.sources) > len(titles) else ""
        known = (f"*Ce que je connais* : {len(manifest.sources)} sources, {manifest.counts.get('chunks', 0)} "
                 f"passages (index `{plain(manifest.version)}`).\n" + "\n".join(f"• {t}" for t in titles) + more)
    if channel_sources:
        known += "\nDans ce canal, je réponds à partir de : " + ", ".join(f"`{plain(s)}`" for s in channel_sources)
    examples = "*Exemples*\n" + "\n".join(f"• {plain(q)}" for q in EXAMPLES)
    return [{"type": "section", "text": mrkdwn(HOW)}, {"type": "section", "text": mrkdwn(known)},
            {"type": "section", "text": mrkdwn(examples)}]


def home_view(manifest: Manifest | None) -> dict[str, Any]:
    """The App Home tab."""
    return {"type": "home", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "sourcier"}},
                                       *help_blocks(manifest)]}
