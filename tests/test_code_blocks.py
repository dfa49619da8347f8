"""Code blocks and command lines stay code in every format: stored (a reader sees them) but never a region to quote."""

from __future__ import annotations

import pytest

from ingest.read import read_source
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "data" / "formats"


@pytest.mark.parametrize(("name", "command"), [
    ("preface.fr.txt", "$ man 1 bash"),  # pandoc plain: an indented prompt line
    ("preface.fr.txt", "# command-in-root-account\n    $ command-in-user-account"),
    ("adduser.8.txt", "adduser --help"),  # man | col -b: the SYNOPSIS
    ("sauvegarde.md", "$ sudo borg create /srv/sauvegardes::atelier-{now} /home"),  # pandoc Markdown fence
    ("sphinx-sauvegarde.html", "$ sudo borg create /srv/sauvegardes::atelier-{now} /home"),
    ("mkdocs-prets.html", "lpr -P atelier /srv/prets/en-cours.txt"),
    ("i18n.fr.odt", "“double quoted text” is not \"double quoted ASCII\""),
    ("i18n.fr.docx", "“double quoted text” is not \"double quoted ASCII\""),
    ("maint-guide-extrait.fr.pdf", "$ tar -cvzf hello-sh-1.0.tar.gz hello-sh-1.0"),
])
def test_code_blocks_are_stored_but_never_quoted(name: str, command: str) -> None:
    doc = read_source(FIXTURES / name, FIXTURES)
    at = doc.text.index(command)
    assert doc.layout is not None and doc.layout.regions
    assert not any(r.start <= at < r.end and not r.code for r in doc.layout.regions)
    assert not any(command.split("\n")[0] in heading for r in doc.layout.regions for heading in r.path)


def test_code_blocks_plain_text_prose_mentioning_a_prompt_is_still_text() -> None:
    doc = read_source(FIXTURES / "preface.fr.txt", FIXTURES)
    assert doc.layout is not None
    bodies = [" ".join(doc.text[r.start:r.end].split()) for r in doc.layout.regions]
    assert any(b.startswith("Une variable d’environnement est indiquée par son nom précédé d’un « $ »") for b in bodies)
