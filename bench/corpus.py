"""A large real-French corpus for benchmarks: the seed article's sentences recombined with variations.

Each generated document takes a run of consecutive seed sentences (so passages read naturally),
swaps names, companies and numbers from small lists, and gets a unique first line, so documents
differ enough that retrieval, BM25 statistics and deduplication behave as on real data.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from ingest.text import normalise, sentences

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "openai-altman-microsoft.txt"
NAMES = ["Sam Altman", "Mira Murati", "Greg Brockman", "Emmett Shear", "Satya Nadella", "Claire Dubois",
         "Hugo Lefèvre", "Amina Diallo", "Jean Moreau", "Léa Martin", "Karim Benali", "Sofia Rossi"]
COMPANIES = ["Microsoft", "OpenAI", "Anthropic", "Mistral AI", "Google", "Meta", "Hugging Face", "Aleph Alpha",
             "Inflection", "Character.AI", "Nvidia", "Amazon"]
TOPICS = ["la régulation", "les puces", "la cybersécurité", "l'énergie", "la santé", "l'éducation", "la finance",
          "la robotique", "le cloud", "les données", "la recherche", "l'emploi"]


def _seed_sentences() -> list[str]:
    text = normalise(SEED.read_text(encoding="utf-8"))
    return [text[s.start : s.end] for s in sentences(text) if s.end - s.start > 40]


def _vary(sentence: str, rng: random.Random) -> str:
    """Swap proper names, companies and numbers so no two documents repeat each other exactly."""
    for name in NAMES[:4]:
        sentence = sentence.replace(name, rng.choice(NAMES))
    for company in ("Microsoft", "OpenAI", "Anthropic"):
        sentence = re.sub(rf"\b{company}\b", lambda _: rng.choice(COMPANIES), sentence)
    return re.sub(r"\b\d+\b", lambda m: str(int(m.group()) + rng.randint(1, 90)), sentence)


def document(i: int, rng: random.Random, pool: list[str], length: int) -> str:
    """One synthetic article: a title line, then `length` consecutive varied seed sentences."""
    start = rng.randrange(0, len(pool) - length)
    body = " ".join(_vary(s, rng) for s in pool[start : start + length])
    return f"Note {i} sur {rng.choice(TOPICS)} et {rng.choice(COMPANIES)}\n\n{body}\n"


def write_corpus(root: Path, documents: int, length: int = 5, seed: int = 0) -> list[Path]:
    """Write `documents` files under root and return their paths."""
    rng = random.Random(seed)
    pool = _seed_sentences()
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(documents):
        path = root / f"{i // 1000:03d}" / f"note-{i:06d}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(document(i, rng, pool, length), encoding="utf-8")
        paths.append(path)
    return paths


def passages(n: int, seed: int = 0) -> list[str]:
    """n passage-sized texts (about 3-4 sentences) without touching the disk."""
    rng = random.Random(seed)
    pool = _seed_sentences()
    return [document(i, rng, pool, 3) for i in range(n)]
