"""Markdown is stored and quoted as a person reads it: no `**`, backticks, escapes or link syntax, offsets exact."""

from __future__ import annotations

from ingest.chunk import chunk_document
from ingest.read import read_source
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "data" / "formats"


def test_markdown_pandoc_man_page_is_stored_without_its_markup() -> None:
    doc = read_source(FIXTURES / "adduser.8.md", FIXTURES)
    assert "**" not in doc.text and "\\[" not in doc.text and "\\-" not in doc.text
    chunks = chunk_document(doc, size=700, overlap=1)
    assert chunks and all(doc.text[c.start:c.end] == c.text for c in chunks)
    sentences = [doc.text[a:b] for c in chunks for a, b in c.sentences]
    assert any(s.startswith("adduser et addgroup ajoutent des utilisateurs ou des groupes au système en fonction "
                            "des options fournies en ligne de commande") for s in sentences)
    assert any("Ne pas exécuter passwd(1) pour définir un mot de passe." in s for s in sentences)


def test_markdown_links_emphasis_and_code_spans_read_as_text_and_fences_stay_code() -> None:
    doc = read_source(FIXTURES / "notes.md", FIXTURES)
    assert "](" not in doc.text and "*le responsable" not in doc.text and "tags:" not in doc.text
    assert doc.layout is not None
    bodies = [doc.text[r.start:r.end] for r in doc.layout.regions]
    assert ("Les sauvegardes des serveurs partent chaque nuit à 2 h vers le stockage objet du centre de données de "
            "Lille. Une copie mensuelle est gardée un an.") in bodies
    at = doc.text.index("restic restore latest --target /srv/restauration")
    assert not any(r.start <= at < r.end and not r.code for r in doc.layout.regions)


def test_markdown_man_page_synopsis_is_code_never_quoted() -> None:
    doc = read_source(FIXTURES / "adduser.8.md", FIXTURES)
    at = doc.text.index("adduser [ --add-extra-groups ]")
    assert doc.layout is not None and not any(r.start <= at < r.end and not r.code for r in doc.layout.regions)
