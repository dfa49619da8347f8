"""Whether the sources hold the answer: four explainable signals that do not grow with the corpus, and one
logistic model over them, fitted once across three corpora (bench/abstain.py, docs/quality.md)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from bot.language import language
from index.lexical import LexicalIndex

_WORD = re.compile(r"[\w.+-]+")
# Words that point at the document rather than at the answer ("selon l'article", "what does the book say"):
# no passage is expected to contain them.
_META = re.compile(r"\b(?:selon|d'après|article|texte|document|auteur|page|fiche|livre|guide|passage|source|"
                   r"mentionn[ée]e?s?|évoqu[ée]e?s?|according|text|author|book|mentioned)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Signals:
    """What the abstention decision reads, each in units that mean the same in any corpus."""

    sentence_cos: float  # cosine of the question with the best sentence of the best passage
    coverage: float  # IDF-weighted share of the question's words found in the best passage (headings included)
    share: float  # the plain share of those words: the rarest word alone cannot make it high
    untranslated: float  # IDF-weighted share of the question's words that cannot be checked in the passage's
    # language (a question in English about French text: every word but names, numbers and acronyms)

    def to_json(self) -> dict[str, float]:
        """Rounded, for `sourcier search` and the API."""
        return {k: round(v, 4) for k, v in asdict(self).items()}


def neutral_words(question: str) -> str:
    """Words any language writes the same: names (capitalised after the first word), numbers, acronyms."""
    words = _WORD.findall(question)
    return " ".join(w for i, w in enumerate(words)
                    if (i > 0 and w[0].isupper()) or any(c.isdigit() for c in w) or (len(w) > 1 and w.isupper()))


def _share(weights: dict[str, float], terms: set[str]) -> float:
    """The weighted share of the question's terms that are in `terms`."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 0.0


def measure(question: str, sentence_cos: float, passage: str, lexical: LexicalIndex) -> Signals:
    """The signals for a question and its best passage.

    Across languages, a question word the passage lacks may simply be written in the other language: unless
    it is a name, a number or an acronym, it counts as untranslated rather than missing.
    """
    question = _META.sub(" ", question)
    weights = lexical.weights(question)
    present = set(lexical.analyzer.terms(passage)) & set(weights)
    unchecked: set[str] = set()
    if language(question) != language(passage):
        unchecked = set(weights) - present - set(lexical.analyzer.terms(neutral_words(question)))
    return Signals(sentence_cos, _share(weights, present), _share(dict.fromkeys(weights, 1.0), present),
                   _share(weights, unchecked))


@dataclass(frozen=True)
class AbstainModel:
    """Logistic regression over the signals; `contributions` shows which signal decided."""

    weights: dict[str, float]
    bias: float

    def contributions(self, signals: Signals) -> dict[str, float]:
        """Each signal's weighted part of the log-odds that the sources answer."""
        values = asdict(signals)
        return {name: round(w * values[name], 4) for name, w in self.weights.items()}

    def probability(self, signals: Signals) -> float:
        """Estimated probability that the best passage answers the question."""
        logit = self.bias + sum(self.contributions(signals).values())
        return 1.0 / (1.0 + math.exp(-logit))
