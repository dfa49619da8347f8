"""What a question asks for (a person, a date, a number…) and whether a sentence brings that kind of thing.

The reader's strongest signal after meaning: « Qui » wants a name, « Quand » a date, « Combien » a number.
Evidence counts only in the words a sentence adds to the question, so a sentence that repeats the question's
own names and dates does not look like an answer. Plain patterns, French and English, no corpus statistics.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

KINDS = ("person", "date", "days", "number", "place", "how", "why", "define", "yesno", "other")

_I = re.IGNORECASE
# Checked in order; the first that matches names the kind.
_ASKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("days", re.compile(r"\bquels? jours?\b|\b(?:which|what) days?\b|\bjours? de la semaine", _I)),
    ("date", re.compile(r"^\W*(?:quand|when)\b|\b(?:depuis|jusqu'à|jusqu'a) quand\b|\b(?:en|dans|depuis|de) quel(?:le)? "
                        r"(?:année|époque|décennie|siècle|mois|an)\b|\bquel(?:le)? (?:année|date|époque|décennie|siècle|"
                        r"mois)\b|\bà quelle (?:date|période|époque|heure)\b|\bwhat (?:year|date|time|month)\b|"
                        r"\bwhich (?:year|month|century)\b|\bquel jour\b|\bdate\b", _I)),
    ("number", re.compile(r"\bcombien\b|\bhow (?:many|much|long|old|big|far)\b|\bquel(?:le)?s? (?:est |sont |était |"
                          r"étaient )?(?:le |la |les |l['’])?(?:nombre|pourcentage|taux|montant|prix|coût|âge|durée|"
                          r"taille|hauteur|longueur|superficie|surface|population|vitesse|poids|altitude|budget|"
                          r"salaire|délai|score|chiffre|effectif)s?\b|\bwhat (?:is the )?(?:number|amount|price|cost|"
                          r"percentage|rate|age|size)\b", _I)),
    ("person", re.compile(r"^\W*(?:qui|who|whom|whose)\b|\b(?:par|à|de|avec|pour|contre|chez) qui\b|\bc['’]est qui\b|"
                          r"\bquel(?:le)?s? (?:est |sont |était |fut )?(?:le |la |les |l['’])?(?:nom|personne|"
                          r"personnage|auteur|président|roi|reine|fondateur|fondatrice|pdg|directeur|directrice|"
                          r"dirigeant|chef|joueur|artiste|ministre)s?\b|\bs['’]appel|\bse nomm|\bsurnom|\bnamed?\b", _I)),
    ("place", re.compile(r"^\W*(?:où|ou se|where)\b|\bd['’]où\b|\b(?:dans|en|à|vers|de) quel(?:le)?s? (?:pays|ville|"
                         r"région|lieu|endroit|continent|département|fichier|répertoire|dossier)\b|\bquel(?:le)?s? "
                         r"(?:pays|ville|région|lieu|endroit|continent|fichier|répertoire|dossier)\b|\bwhich "
                         r"(?:country|city|file|directory)\b", _I)),
    ("why", re.compile(r"\bpourquoi\b|\bwhy\b|\bpour quelle raison\b|\bquelle (?:est la )?(?:raison|cause)\b|"
                       r"\bà cause de quoi\b", _I)),
    ("how", re.compile(r"^\W*comment\b(?! (?:s['’]appel|se nomm))|^\W*how\b|\bde quelle (?:façon|manière)\b|"
                       r"\bquelle (?:commande|option|méthode|procédure)\b|\b(?:which|what) (?:command|option)\b|"
                       r"\bcomment (?:faire|puis|peut|dois|on)\b", _I)),
    ("define", re.compile(r"qu['’]est[- ]ce (?:que|qu['’])|\bc['’]est quoi\b|\bque (?:signifie|veut dire|désigne)\b|"
                          r"\bà quoi (?:sert|servent)\b|^\W*what (?:is|are|does)\b|\bqu['’]appelle-t-on\b|\bdéfinition\b",
                          _I)),
    ("yesno", re.compile(r"^\W*(?:est-ce qu|peut-on|faut-il|doit-on|y a-t-il|a-t-on|is|are|can|do|does|did|should|will|"
                         r"has|have|was|were)\b|-t-(?:il|elle|on)\b|\w-(?:il|elle|ils|elles|on|je)\s", _I)),
)

_MONTHS = ("janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|"
           "decembre|january|february|march|april|june|july|august|september|october|november|december")
_DAYS = "lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_NUMBER_WORDS = ("deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|quinze|vingt|trente|quarante|cinquante|"
                 "soixante|cent|cents|mille|million|millions|milliard|milliards|dizaine|dizaines|centaine|centaines|"
                 "millier|milliers|moitié|tiers|quart|premier|première|deuxième|troisième|quatrième|cinquième|"
                 "second|seconde|two|three|four|five|ten|hundred|thousand|million|billion|half")
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b")
_DATE = re.compile(rf"\b(?:{_MONTHS})\b|\bsiècles?\b|\bcentury\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b|\bannées? \d|"
                   rf"\b(?:{_DAYS})\b|\b(?:hier|demain|aujourd'hui|soir|matin|week-end)\b", _I)
_DAY = re.compile(rf"\b(?:{_DAYS})s?\b|\bjours? (?:ouvrés|ouvrables|fériés)\b|\bweek-end\b", _I)
_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b|%|€|\$", _I)
_PLACE = re.compile(r"\b(?:à|en|au|aux|dans|près de|vers|in|at|near)\s+(?:l['’]|la |le |les )?([A-ZÀ-Ý][\w-]+)")
_PATH = re.compile(r"(?:^|\s)(?:/[\w.-]+){2,}|~/[\w.-]+")
_CAUSE = re.compile(r"\b(?:parce qu|car\b|en raison|grâce à|à cause|afin de|afin qu|pour (?:que|éviter|permettre)|"
                    r"puisqu|because|due to|in order to|so that|c'est pourquoi|vise à|dans le but)", _I)
_DEFINE = re.compile(r"\b(?:est une?|sont des|désigne|signifie|consiste|correspond à|permet(?:tent)? de|sert à|"
                     r"servent à|is an?|are|refers to|means)\b", _I)
_HOW = re.compile(r"\b(?:il faut|il suffit|vous devez|on peut|en utilisant|à l'aide|avec la commande|la commande|"
                  r"utilisez|lancez|exécutez|exécutant|tapez|saisissez|installez|en exécutant|by running|run|use|"
                  r"using|with the command|option)\b", _I)
_COMMAND = re.compile(r"(?:^|\s)(?:[a-z][\w.+-]*(?:-[\w]+)+|apt|apt-get|dpkg|systemctl|sudo|crontab|git|ssh|"
                      r"make|pip|mount)\s+(?:-{1,2}[\w-]+|[a-z][\w.:/-]*)")
_WORD = re.compile(r"[\w'’-]+")


_PROMPT = re.compile(r"^(?:\$|#|>>>|C:\\>)\s+\S")
_INVOCATION = re.compile(r"^(?:sudo\s+)?[a-z][\w.+-]*(?:\s+(?:-{1,2}[\w-]+(?:=\S+)?|[\w./:~@{}=-]+)){1,12}$")


def command_like(line: str) -> bool:
    """A code line worth quoting to a how-to question: a prompt, or a command with its options and arguments."""
    line = line.strip()
    return len(line) <= 200 and bool(_PROMPT.match(line) or _INVOCATION.match(line))


@dataclass(frozen=True, slots=True)
class Evidence:
    """How much of each kind of answer a sentence holds, in the words it adds to the question (0–1 each)."""

    person: float
    date: float
    days: float
    number: float
    place: float
    how: float
    why: float
    define: float

    def of(self, kind: str) -> float:
        """The evidence for the kind a question asks; yes/no and other questions take any sentence."""
        return float(getattr(self, kind, 0.0))


# A question word anywhere makes an inverted question (« Que pose-t-il ? ») a question for content, not yes/no.
_WH = re.compile(r"\b(?:qu(?:el|elle|els|elles|e|oi|i)|lequel|laquelle|lesquels|lesquelles|what|which|who)\b|qu['’]", _I)


@lru_cache(maxsize=4096)
def asks(question: str) -> str:
    """The kind of answer a question wants, one of KINDS."""
    for kind, pattern in _ASKS:
        if pattern.search(question) and not (kind == "yesno" and _WH.search(question)):
            return kind
    return "other"


@lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    """Lowercase without accents, so « Élysée » in the question matches « élysée » in the text."""
    return "".join(c for c in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(c))


@lru_cache(maxsize=16384)
def _tokens(sentence: str) -> tuple[tuple[int, int, str], ...]:
    """Each word's span and folded form, once per sentence (the passages of a corpus come back often)."""
    return tuple((m.start(), m.end(), _fold(m.group(0))) for m in _WORD.finditer(sentence))


def question_words(question: str) -> frozenset[str]:
    """The question's words, folded, for `evidence`."""
    return frozenset(_fold(w) for w in _WORD.findall(question))


_PATTERNS = {"year": _YEAR, "date": _DATE, "days": _DAY, "number": _NUMBER, "place": _PLACE, "path": _PATH,
             "command": _COMMAND, "how": _HOW, "why": _CAUSE, "define": _DEFINE}


Spans = tuple[frozenset[str], ...]  # the folded words of each match (empty: a match of symbols alone, « % »)


@lru_cache(maxsize=16384)
def _matches(sentence: str) -> tuple[Spans, dict[str, Spans], frozenset[str]]:
    """Once per sentence: the words of its capitalised words after the first and of each pattern's matches, and
    every word those hold."""
    tokens = _tokens(sentence)
    words = _WORD.findall(sentence)
    names = tuple(frozenset((f,)) for i, ((_, _, f), w) in enumerate(zip(tokens, words, strict=True))
                  if i > 0 and w[:1].isupper() and not w.isupper())
    found = {k: tuple(frozenset(f for start, end, f in tokens if end > a and start < b)
                      for a, b in (m.span() for m in p.finditer(sentence))) for k, p in _PATTERNS.items()}
    return names, found, frozenset().union(*names, *(w for v in found.values() for w in v))


def _count_novel(spans: Spans, question_words: frozenset[str]) -> int:
    """How many matches hold a word the question lacks (a match of symbols alone counts)."""
    return sum(1 for words in spans if not words or not words <= question_words)


def evidence(sentence: str, question_words: frozenset[str], code: bool = False) -> Evidence:
    """What kinds of answer the sentence brings beyond the question's words (matches made of the question's own
    words do not count)."""
    names, found, inside = _matches(sentence)
    if inside.isdisjoint(question_words):  # the usual case: nothing the question says is in a match
        return _question_free(sentence, code)
    return _evidence(names, found, question_words, code)


@lru_cache(maxsize=16384)
def _question_free(sentence: str, code: bool) -> Evidence:
    """A sentence's evidence when no match holds the question's words: the same for every such question."""
    names, found, _ = _matches(sentence)
    return _evidence(names, found, frozenset(), code)


def _evidence(names: Spans, found: dict[str, Spans], question_words: frozenset[str], code: bool) -> Evidence:
    """The evidence of each kind, from the sentence's matches."""

    def has(kind: str) -> int:
        return _count_novel(found[kind], question_words)

    path = bool(has("path"))
    return Evidence(
        person=min(_count_novel(names, question_words), 3) / 3,
        date=max(float(bool(has("year"))), 0.7 * bool(has("date"))),
        days=float(bool(has("days"))),
        number=min(has("number"), 2) / 2,
        place=max(float(bool(has("place"))), 0.5 * path),
        how=max(float(code or bool(has("command")) or path), 0.5 * bool(has("how"))),
        why=float(bool(has("why"))),
        define=float(bool(has("define"))),
    )


_DAY_SPAN = re.compile(rf"\b(?:{_DAYS})s?\b(?:\s*(?:,|et|ou|and|or)\s*(?:le |les )?\b(?:{_DAYS})s?\b)*", _I)
_DATE_SPAN = re.compile(rf"\b(?:(?:le |du |au )?(?:1er|\d{{1,2}})\s+(?:{_MONTHS})(?:\s+(?:1[0-9]{{3}}|20[0-9]{{2}}))?|"
                        rf"(?:{_MONTHS})\s+(?:1[0-9]{{3}}|20[0-9]{{2}})|(?:1[0-9]{{3}}|20[0-9]{{2}})|"
                        rf"[IVXL]+e\s+siècle|\d{{1,2}}/\d{{1,2}}/\d{{2,4}})\b", _I)
_NUMBER_SPAN = re.compile(r"(?:(?:plus|moins|près|environ|au moins|more than|about|over)\s+(?:de\s+|d['’])?)?"
                          r"\d[\d\s.,]*\d?(?:\s?(?:%|€|\$|euros?|dollars?|millions?|milliards?|billion|million|"
                          r"[a-zA-Zéû]+))?", _I)
_NAME_SPAN = re.compile(r"(?:[A-ZÀ-Ý][\w’'.-]*)(?:\s+(?:de |d['’]|du |von |van |le |la )?[A-ZÀ-Ý][\w’'.-]*)*")


# « Qui est Emmett Shear ? » asks what he is, not a name: no short span to highlight.
_WHO_IS = re.compile(r"^\W*(?:[Qq]ui (?:est|était|sont)|[Cc]['’]est qui|[Ww]ho (?:is|was|are)) [A-ZÀ-Ý]")


def _novel(text: str, question_words: frozenset[str]) -> bool:
    """Whether a span brings a word the question does not have."""
    return any(_fold(w) not in question_words for w in _WORD.findall(text))


def answer_span(sentence: str, kind: str, question: str) -> tuple[int, int] | None:
    """Where in the sentence the short answer is (a name, a date, a number, days), when the question asks one."""
    words = question_words(question)
    pattern = {"date": _DATE_SPAN, "days": _DAY_SPAN, "number": _NUMBER_SPAN, "person": _NAME_SPAN,
               "place": _NAME_SPAN}.get(kind)
    if pattern is None or (kind == "person" and _WHO_IS.search(question)):
        return None
    for match in pattern.finditer(sentence):
        text = match.group(0).rstrip(" ,.")
        if kind == "number" and not any(c.isdigit() for c in text):
            continue
        if match.start() == 0 and kind in ("person", "place") and " " not in text:
            continue  # a capitalised first word is the sentence's, not a name
        if text and _novel(text, words):
            return match.start(), match.start() + len(text)
    return None
