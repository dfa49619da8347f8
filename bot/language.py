"""The asker's language, so the framing (abstention message, labels) answers in it; French by default."""

from __future__ import annotations

import re
from functools import lru_cache

# "a" alone counts for neither language: counted as French it made "Can a minor have a bank account?" French
# (two "a" against "can" and "have"). After a French subject ("Qui a …", "il a …") it is the French verb.
_FR_SUBJECTS = frozenset(["qui", "il", "elle", "on", "ce", "cela", "ça", "y"])
_EN = frozenset(["the", "what", "who", "whom", "which", "why", "how", "when", "where", "did", "does", "do", "is", "are", "was", "were", "of", "to", "in", "an", "and", "with", "for", "by", "about", "from", "has", "have", "had", "will", "would", "can", "could", "should", "after", "before", "i", "my", "me", "you", "your", "it", "this", "that", "there", "their", "they", "he", "she", "his", "her", "been", "being", "any", "many", "much"])
_FR = frozenset(["le", "la", "les", "un", "une", "des", "du", "de", "et", "est", "sont", "qui", "que", "quoi", "quel", "quelle", "quels", "quelles", "pourquoi", "comment", "quand", "où", "ont", "au", "aux", "pour", "par", "sur", "dans", "avec", "ce", "cette", "il", "elle", "ils", "elles", "je", "tu", "nous", "vous", "mon", "ma", "mes", "son", "sa", "ses", "leur", "pas", "ne", "se", "en", "y", "c", "qu", "d", "l", "j", "s", "t", "n", "m", "combien", "faut", "peut"])
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@lru_cache(maxsize=16384)  # 50 µs a question; a question is read three times, a passage question after question
def language(text: str) -> str:
    """"en" when English function words outnumber French ones, else "fr".

    Capitalised words after the first are taken for names and titles ("Who wrote Les Misérables?"),
    so a French title does not make an English question French. Elisions (« l'action ») count as French.
    """
    words = _WORD.findall(text)
    counted = [w for i, w in enumerate(words) if i == 0 or not w[0].isupper()]
    en = fr = 0.0
    previous = ""
    for word in counted:
        lower = word.lower()
        if re.match(r"(?:[cdjlmnst]|qu)['’]", lower):
            fr += 1
        else:
            en += lower in _EN
            fr += lower in _FR or (lower == "a" and previous in _FR_SUBJECTS)
        previous = lower
    fr += 0.5 * bool(re.search(r"[àâçéèêëîïôûùœ]", " ".join(w.lower() for w in counted)))
    return "en" if en > fr else "fr"
