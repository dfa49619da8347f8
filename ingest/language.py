"""Which language a source is mostly in (fr or en), for the manifest and `GET /v1/sources`.

py3langid (langid.py's model, numpy only, shipped in the wheel: no network) classifies each passage; the
language with the most characters wins, so a French page quoting an English paragraph stays French.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

LANGUAGES = ("fr", "en")  # the bot answers in these; a source in another language is labelled by the nearer one
MIN_LETTERS = 40  # fewer letters than this say nothing reliable about a language


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    """The model, loaded once (about 0.4 s) and only when a source is new or changed."""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def main_language(passages: Iterable[str]) -> str:
    """The language most of the passages' characters are in; "" when there is too little text to tell."""
    weights: Counter[str] = Counter()
    for text in passages:
        letters = sum(c.isalpha() for c in text)
        if letters:
            weights[str(_identifier().classify(text)[0])] += letters
    if sum(weights.values()) < MIN_LETTERS:
        return ""
    return weights.most_common(1)[0][0]
