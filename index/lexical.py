"""French analyser (elisions, stopwords, Snowball stems, accent folding) and the BM25 index on top."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

_FRENCH_STOPWORDS = ["a", "à", "afin", "ai", "aie", "aient", "ait", "alors", "as", "au", "aucun", "aucune", "aussi", "autre", "autres", "aux", "avaient", "avais", "avait", "avec", "avez", "avoir", "avons", "ayant", "c", "ça", "car", "ce", "ceci", "cela", "celle", "celles", "celui", "ces", "cet", "cette", "ceux", "chaque", "chez", "ci", "comme", "comment", "d", "dans", "de", "des", "deux", "devrait", "doit", "donc", "dont", "du", "elle", "elles", "en", "encore", "entre", "es", "est", "et", "étaient", "était", "été", "êtes", "être", "eu", "eux", "fait", "faire", "fois", "font", "furent", "fut", "ici", "il", "ils", "j", "je", "jusqu", "l", "la", "là", "laquelle", "le", "lequel", "les", "lesquels", "leur", "leurs", "lors", "lorsqu", "lui", "m", "ma", "mais", "me", "même", "mes", "moi", "mon", "n", "ne", "ni", "non", "nos", "notre", "nous", "on", "ont", "ou", "où", "par", "parce", "pas", "peu", "peut", "plus", "pour", "pourquoi", "puis", "puisqu", "qu", "quand", "que", "quel", "quelle", "quelles", "quels", "qui", "quoi", "s", "sa", "sans", "se", "selon", "ses", "si", "son", "sont", "sous", "suis", "sur", "t", "ta", "te", "tes", "toi", "ton", "tous", "tout", "toute", "toutes", "très", "tu", "un", "une", "unes", "uns", "vers", "voici", "voilà", "vos", "votre", "vous", "y", "aura", "auront", "avait-il", "a-t-il"]
_ENGLISH_STOPWORDS = ["about", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "s", "t"]
# Elided articles and pronouns ("l'", "qu'", "jusqu'") are separate tokens, then stopwords.
_ELISION = re.compile(r"\b(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)
_TOKEN = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=262144)
def fold(text: str) -> str:
    """Strip accents so "Événement" and "evenement" meet (cached: a corpus reuses few distinct terms)."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    """Stopwords in surface and folded forms, French and English."""
    words = set(_FRENCH_STOPWORDS) | set(_ENGLISH_STOPWORDS)
    return frozenset(words | {fold(w) for w in words})


_local = threading.local()


def _words(text: str) -> list[str]:
    """Lowercased content words with elisions removed and stopwords dropped."""
    stop = _stopwords()
    cleaned = _ELISION.sub(" ", text.lower())
    return [w for w in _TOKEN.findall(cleaned) if w not in stop and (len(w) > 1 or w.isdigit())]


@lru_cache(maxsize=16384)
def _cached_terms(text: str) -> tuple[str, ...]:
    """One cache for the whole process: retrieval, confidence and answers analyse the same passages."""
    return _analyse(text)


def _terms(text: str) -> tuple[str, ...]:
    """Cached for passage-sized texts only (≤ 1,200 characters), so long distinct questions cannot grow
    memory: 16,384 entries of at most ~7 KB each, about 100 MB at worst, per process."""
    return _cached_terms(text) if len(text) <= 1200 else _analyse(text)


def _analyse(text: str) -> tuple[str, ...]:
    """Words, Snowball stems, then accent folding."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:  # a Snowball stemmer is not thread-safe: one per thread
        stemmer = _local.stemmer = Stemmer.Stemmer("french")
    return tuple(fold(t) for t in stemmer.stemWords(_words(text)))


class FrenchAnalyzer:
    """Text -> index terms: lowercase, elisions, stopwords, French Snowball stem, then accent folding."""

    def terms(self, text: str) -> list[str]:
        """Index terms; stemming runs before folding because the French stemmer knows accents."""
        return list(_terms(text))

    def words(self, text: str) -> list[str]:
        """The content words before stemming: what a word-for-word translation compares."""
        return _words(text)


class LexicalIndex:
    """BM25 over FrenchAnalyzer terms; scores every chunk so fusion can see the whole distribution."""

    def __init__(self, bm25: bm25s.BM25, analyzer: FrenchAnalyzer) -> None:
        self._bm25 = bm25
        self.analyzer = analyzer

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        """Index chunk texts, row i <-> chunk i."""
        analyzer = FrenchAnalyzer()
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        bm25.index([analyzer.terms(t) or [""] for t in texts], show_progress=False)
        return cls(bm25, analyzer)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros when no query term is known)."""
        terms = [t for t in self.analyzer.terms(query) if t in self._bm25.vocab_dict]
        n = int(self._bm25.scores["num_docs"])
        if not terms:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(terms), dtype=np.float32)

    def idf(self, term: str) -> float:
        """Inverse document frequency; a term the corpus never uses weighs as much as the rarest."""
        n = int(self._bm25.scores["num_docs"])
        row = self._bm25.vocab_dict.get(term)
        indptr = self._bm25.scores["indptr"]
        df = int(indptr[row + 1] - indptr[row]) if row is not None else 0
        return float(np.log(1 + (n - max(df, 1) + 0.5) / (max(df, 1) + 0.5)))

    def known(self, term: str) -> bool:
        """True when some passage of the corpus uses the term."""
        return term in self._bm25.vocab_dict

    def weights(self, query: str) -> dict[str, float]:
        """The query's distinct terms and their IDF."""
        return {t: self.idf(t) for t in set(self.analyzer.terms(query))}

    def coverage(self, query: str, text: str) -> float:
        """IDF-weighted share of the query's terms that the text contains: rare words count most."""
        weights = self.weights(query)
        total = sum(weights.values())
        present = set(self.analyzer.terms(text))
        return sum(w for t, w in weights.items() if t in present) / total if total > 0 else 0.0

    @property
    def num_docs(self) -> int:
        """How many passages it indexes."""
        return int(self._bm25.scores["num_docs"])

    def vocabulary(self) -> dict[str, tuple[int, int]]:
        """Each term's id and document frequency (another backend stores them to rank identically)."""
        indptr = self._bm25.scores["indptr"]  # bm25s also lists "" in its vocabulary, without postings
        return {t: (int(i), int(indptr[i + 1] - indptr[i])) for t, i in self._bm25.vocab_dict.items()
                if i < len(indptr) - 1}

    def doc_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per passage, its terms' ids and BM25 weights: (offsets, term ids, weights), passage i at
        offsets[i]:offsets[i + 1] (the index stores them per term; this is its transpose)."""
        indptr, docs = self._bm25.scores["indptr"], self._bm25.scores["indices"]
        terms = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
        order = np.argsort(docs, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(np.bincount(docs, minlength=self.num_docs))])
        return offsets, terms[order], np.asarray(self._bm25.scores["data"], dtype=np.float32)[order]

    @classmethod
    def from_doc_weights(cls, vocabulary: dict[str, int], rows: np.ndarray, terms: np.ndarray, weights: np.ndarray,
                         num_docs: int) -> LexicalIndex:
        """The inverse of doc_weights() (one entry per passage and term, any order): another backend's stored
        weights back into the index, so it scores every passage with this very code."""
        order = np.lexsort((rows, terms))
        n_terms = max(vocabulary.values(), default=-1) + 1
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        bm25.scores = {"data": np.ascontiguousarray(weights[order], dtype=np.float32),
                       "indices": np.ascontiguousarray(rows[order], dtype=np.int32),
                       "indptr": np.concatenate([[0], np.cumsum(np.bincount(terms, minlength=n_terms))]).astype(np.int64),
                       "num_docs": num_docs}
        bm25.vocab_dict = dict(vocabulary)
        bm25.nonoccurrence_array = None  # only BM25L and BM25+ have one
        return cls(bm25, FrenchAnalyzer())

    def save(self, directory: Path) -> None:
        """Write the sparse BM25 matrices and vocabulary."""
        self._bm25.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> LexicalIndex:
        """Read an index written by save(), memory-mapped so worker processes share its pages."""
        bm25 = bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False, verbosity=0)
        return cls(bm25, FrenchAnalyzer())
