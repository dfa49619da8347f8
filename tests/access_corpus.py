"""A corpus with a public wiki and an HR folder, and its access file: what the access tests read."""

from __future__ import annotations

from pathlib import Path

WIKI = {"wiki/cantine.md": "# Cantine\n\nLa cantine ouvre à midi. Le menu change chaque lundi.\n",
        "wiki/parking.md": "# Parking\n\nLe parking du siège compte quarante places. Les vélos se garent au sous-sol.\n"}
RH = {"rh/salaires.md": "# Salaires\n\nLa prime annuelle de Jeanne Martin est de 4 200 euros. Elle est versée en "
                        "décembre avec le salaire.\n",
      # shares the wiki's words, so its statistics (IDF) would move the confidence of a wiki answer
      "rh/parking-rh.md": "# Parking RH\n\nLe parking RH compte douze places. Les places du parking RH sont "
                          "réservées.\n"}
RH_QUESTION = "Quelle est la prime annuelle de Jeanne Martin ?"
ACCESS = '''default = ["public"]
[sources]
"wiki/" = ["public"]
"rh/" = ["rh", "slack:C0RH"]
'''


def write_corpus(root: Path, with_rh: bool = True) -> Path:
    """The wiki (and the HR folder) under root/docs; returns that folder."""
    docs = root / "docs"
    for name, text in {**WIKI, **(RH if with_rh else {})}.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text, encoding="utf-8")
    return docs


def write_access(root: Path, text: str = ACCESS) -> Path:
    """The access file under root."""
    path = root / "access.toml"
    path.write_text(text, encoding="utf-8")
    return path
