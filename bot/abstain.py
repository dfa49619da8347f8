"""Whether the sources hold the answer: two explainable signals that do not grow with the corpus, and one
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
    cross_lingual: float  # 1 when question and passage languages differ: coverage then counts names only

    def to_json(self) -> dict[str, float]:
        """Rounded, for `sourcier search` and the API."""
        return {k: round(v, 4) for k, v in asdict(self).items()}


def neutral_words(question: str) -> str:
    """Words any language writes the same: names (capitalised after the first word), numbers, acronyms."""
    words = _WORD.findall(question)
    return " ".join(w for i, w in enumerate(words)
                    if (i > 0 and w[0].isupper()) or any(c.isdigit() for c in w) or (len(w) > 1 and w.isupper()))


def _coverage(lexical: LexicalIndex, question: str, passage: str, cross_lingual: bool) -> float:
    """IDF-weighted share of the question's words in the passage. Across languages only names, numbers and
    acronyms can match; every other word is no evidence either way and counts half."""
    question = _META.sub(" ", question)
    if not cross_lingual:
        return lexical.coverage(question, passage)
    weights = lexical.weights(question)
    total = sum(weights.values())
    if not total:
        return 0.0
    names = set(lexical.analyzer.terms(neutral_words(question)))
    present = set(lexical.analyzer.terms(passage))
    return sum(w * (float(t in present) if t in names else 0.5) for t, w in weights.items()) / total


def measure(question: str, sentence_cos: float, passage: str, lexical: LexicalIndex) -> Signals:
    """The signals for a question and its best passage."""
    cross = language(question) != language(passage)
    return Signals(sentence_cos, _coverage(lexical, question, passage, cross), float(cross))


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
