"""What of a question the sources are asked to hold: its meaningful words, and the words any language shares."""

from __future__ import annotations

import re

_WORD = re.compile(r"[\w.+-]+")
# Words that point at the document rather than at the answer ("selon l'article", "what does the book say"):
# no passage is expected to contain them.
_META = re.compile(r"\b(?:selon|d'après|article|texte|document|auteur|page|fiche|livre|guide|passage|source|"
                   r"mentionn[ée]e?s?|évoqu[ée]e?s?|according|text|author|book|mentioned)\b", re.IGNORECASE)


def meaningful(question: str) -> str:
    """The question without the words that point at the document itself."""
    return _META.sub(" ", question)


# English capitalises these; French writes them in lower case (« passeport français », « lundi »), so they are
# words to carry into another language, not names to find as they are spelled.
_ENGLISH_CAPITALISED = frozenset({
    "I", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January", "February",
    "March", "April", "May", "June", "July", "August", "September", "October", "November", "December", "French",
    "English", "British", "European", "American", "German", "Spanish", "Italian", "Belgian", "Swiss", "Canadian",
    "Dutch", "Portuguese", "Polish", "Russian", "Chinese", "Japanese", "Arabic", "Arab", "African", "Asian",
    "Catholic", "Protestant", "Muslim", "Jewish", "Christian",
})


def neutral_words(question: str) -> str:
    """Words any language writes the same: names (capitalised after the first word), numbers, acronyms."""
    words = _WORD.findall(question)
    return " ".join(w for i, w in enumerate(words)
                    if (i > 0 and w[0].isupper() and w not in _ENGLISH_CAPITALISED) or any(c.isdigit() for c in w)
                    or (len(w) > 1 and w.isupper()))
