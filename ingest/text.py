"""French-aware text normalisation and sentence splitting with exact character offsets."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple


class Span(NamedTuple):
    """A half-open [start, end) range of characters in a text."""

    start: int
    end: int


_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\ufeff": ""})
# Unicode non-characters (U+FDD0–FDEF, U+xFFFE/xFFFF): never text; PDFium leaves U+FFFE where a word was hyphenated
_NONCHARS = re.compile("[\ufdd0-\ufdef" + "".join(f"{chr(p * 0x10000 + 0xFFFE)}{chr(p * 0x10000 + 0xFFFF)}"
                                                 for p in range(17)) + "]")

# Abbreviations after which a period does not end a sentence (compared lowercased).
_ABBREVIATIONS = frozenset(
    ["m", "mm", "mme", "mmes", "mlle", "mlles", "dr", "pr", "me", "st", "ste", "ex", "etc", "cf", "vol", "p", "pp", "n", "no", "fig", "env", "av", "apr", "j.-c", "art", "al", "éd", "ed", "chap", "mr", "mrs", "ms", "prof", "inc", "ltd", "co", "vs", "jr", "sr"]
)
_END = ".!?…"
_CLOSERS = "»\"')]”’"
# A candidate end: terminal punctuation, then closing quotes or brackets.
_CANDIDATE = re.compile(rf"[{re.escape(_END)}]+[{re.escape(_CLOSERS)}]*")
_WORD_BEFORE = re.compile(r"([\w.\-]+)$")
# A glued start ("interrogations.Greg") must look like a capitalised word, so that
# "Character.AI" and "Twitch.tv" stay whole.
_NEXT_VISIBLE = re.compile(r"\s*(\S)")
_GLUED_START = re.compile(r"[A-ZÀ-ÖØ-Þ](?:[a-zß-öø-ÿ]|['’])")


def normalise(text: str) -> str:
    """Unicode NFC, plain spaces and no non-characters, so offsets and matching agree everywhere."""
    text = unicodedata.normalize("NFC", text).translate(_SPACES).replace("\r\n", "\n").replace("\r", "\n")
    return _NONCHARS.sub("", text)


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or an initial, not a sentence."""
    match = _WORD_BEFORE.search(text, max(0, dot - 40), dot)  # a bounded look-back keeps splitting linear
    if not match:
        return False
    word = match.group(1).lower().lstrip(".-")
    if word in _ABBREVIATIONS:
        return True
    return len(word) == 1 and word.isalpha() and text[dot - 1].isupper()


def _boundary_after(text: str, match: re.Match[str], limit: int) -> int | None:
    """Where the next sentence starts after a candidate end, or None when it is not an end."""
    end = match.end()
    punct = match.group(0)
    if end >= limit:
        return end
    nxt = text[end]
    if punct == "." and _is_abbreviation(text, match.start()):
        return None
    if nxt.isspace():
        following = _NEXT_VISIBLE.match(text, end, limit)
        if following is None:
            return end
        if following.group(1).islower() and punct[0] in ".…":
            return None  # "etc. et", "p. ex." style continuations
        return end
    if punct[0] == "." and text[match.start() - 1 : match.start()].isdigit() and nxt.isdigit():
        return None  # 3.5
    if _GLUED_START.match(text, end) or (punct[0] in "?!" and nxt.isupper()):
        return end
    return None


# A paragraph: lines up to a blank line (a lone line break is a wrapped line, not a sentence end).
_LINE = re.compile(r"[^\n]+(?:\n(?![^\S\n]*(?:\n|$))[^\n]*)*")


def sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Split text[start:end] into sentences, keeping exact offsets and dropping surrounding whitespace."""
    spans: list[Span] = []
    for block in _LINE.finditer(text, start, len(text) if end is None else end):
        start = block.start()
        for match in _CANDIDATE.finditer(text, block.start(), block.end()):
            cut = _boundary_after(text, match, block.end())
            if cut is not None and cut > start:
                spans.append(Span(start, cut))
                start = cut
        if start < block.end():
            spans.append(Span(start, block.end()))
    return [s for s in (_strip(text, span) for span in spans) if s.end > s.start]


def _strip(text: str, span: Span) -> Span:
    """Trim whitespace from both ends of a span."""
    start, end = span
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end)


_ENDS = re.compile(r"[.!…][\"'»”’)\]]*$")
# A table-of-contents line: a numbered title (« 5.11. Gestion des paquets ») or a title and its page or
# section number (« Convertir un fichier texte avec iconv 11.1.2. », « Sauvegarde ........ 42 »).
_CONTENTS = re.compile(r"^(?:\d+\.)+\d*\s+\S[^.!?]*$|\s(?:\d+\.){1,}\d+\.?$|(?:\.\s?){4,}\s*\d+$")


@lru_cache(maxsize=16384)
def quotable(sentence: str) -> bool:
    """A body sentence that can answer: not a question, not a label ending in ':', not a bare heading-like line,
    not a table-of-contents line (cached: the reader asks it of the same passages' sentences question after
    question)."""
    sentence = sentence.rstrip()
    if not sentence or sentence.endswith(("?", ":", "?»", "? »")) or _CONTENTS.search(sentence):
        return False
    return bool(_ENDS.search(sentence)) or len(sentence.split()) >= 6
