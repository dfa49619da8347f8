"""How a quoted sentence is shown: with the option it describes, and with its line wrapping undone for people.

In a man page, a Sphinx option list or an HTML <dl>, a description (« Verrouiller le mot de passe du compte
indiqué. ») answers « how » only together with the option above it (`-l, --lock`): the option is the answer.
"""

from __future__ import annotations

import re

from index.records import Chunk

# An option term alone on its line: `-l, --lock`, `--remove-home`, `-s, --shell SHELL`, `-w, --write var=valeur`;
# what follows the first option is more options or arguments (capitals, <…>, […], =), never French words.
_OPTION = re.compile(r"-{1,2}[A-Za-z0-9?][^\s,]*(?:,?[ \t]+(?:-{1,2}[A-Za-z0-9][^\s,]*|[A-ZÀ-Ý_<\[{]\S*|\S*[=|]\S*)){0,5}")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_WRAPPED = re.compile(r"[ \t]*\n\s*|[ \t]{2,}")
_CODE = re.compile(r"(`[^`\n]+`)")
MAX_TERM = 80  # characters: an option's name and argument, never a sentence
MAX_BACK = 6  # sentences of the description walked back to find its option


def _alone(text: str, a: int, b: int) -> bool:
    """Whether text[a:b] fills its own line(s)."""
    before = text[:a].rstrip(" \t")
    return (not before or before.endswith("\n")) and text[b:].lstrip(" \t")[:1] in ("\n", "")


def option_term(chunk: Chunk, span: tuple[int, int]) -> tuple[int, int] | None:
    """Source offsets of the option line the sentence at `span` describes, when it describes one.

    The option is the nearest line before the sentence's paragraph (a blank line may separate them, as <dt> and
    <dd> are), and nothing but the description lies between them; it may be set as code (a PDF's monospace)."""
    if span not in chunk.sentences:
        return None
    text, i = chunk.text, chunk.sentences.index(span)
    for j in range(i - 1, max(i - 1 - MAX_BACK, -1), -1):
        a, b = (s - chunk.start for s in chunk.sentences[j])
        gap = text[b : chunk.sentences[j + 1][0] - chunk.start]
        term = text[a:b]
        if len(term) <= MAX_TERM and _OPTION.fullmatch(term) and _alone(text, a, b) \
                and "\n" in gap and len(_BLANK_LINE.findall(gap)) <= 1:
            return chunk.sentences[j]
        if _BLANK_LINE.search(gap) or term.rstrip()[-1:] not in (".", ";", ")", "»", "!"):
            return None  # the paragraph starts here (or the line before is no sentence of it) with no option above
    return None


def readable(text: str) -> str:
    """The answer as people read it: hard line breaks and justification spaces of prose become one space;
    a command between backticks is left as written."""
    return "".join(p if _CODE.fullmatch(p) else _WRAPPED.sub(" ", p) for p in _CODE.split(text))
